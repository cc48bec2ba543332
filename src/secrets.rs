//! Secrets at rest: the master key, sealing of provider credentials (XChaCha20-Poly1305),
//! keyed digests of gateway keys, and Argon2id hashes of the admin password.
//!
//! Nothing here logs a secret; errors never carry plaintext or key material.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Name of the generated key file in the data directory.
pub const KEY_FILE: &str = "master.key";
const SEAL_PREFIX: &str = "v1.";
const NONCE_LEN: usize = 24;

/// Why a secret operation failed. Messages are safe to show and log.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// `OMNIGATE_MASTER_KEY` or the key file is not 32 bytes of base64.
    #[error("the master key from {0} is not base64 of exactly 32 bytes")]
    MalformedKey(String),
    /// Sealed data exists but no master key was found.
    #[error("the database holds sealed secrets but no master key was found: set OMNIGATE_MASTER_KEY or restore {0}")]
    MissingKey(PathBuf),
    /// The key does not open data sealed in this database.
    #[error(
        "the master key does not open the secrets sealed in this database (wrong OMNIGATE_MASTER_KEY or {KEY_FILE}?)"
    )]
    WrongKey,
    /// A sealed value is damaged or was sealed for another purpose.
    #[error("a sealed value could not be opened ({0})")]
    Unseal(&'static str),
    /// The key file could not be read or written.
    #[error("master key file {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Hashing failed (bad parameters; not expected).
    #[error("password hashing failed")]
    Hash,
}

/// Where the master key came from, to tell the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `OMNIGATE_MASTER_KEY`.
    Env,
    /// An existing key file.
    File(PathBuf),
    /// A key file generated just now.
    Generated(PathBuf),
}

/// The 32-byte master key. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Parses base64 (standard or URL-safe) of 32 bytes.
    pub fn from_base64(text: &str, origin: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text))
            .map_err(|_| SecretError::MalformedKey(origin.to_string()))?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| SecretError::MalformedKey(origin.to_string()))?;
        Ok(Self(arr))
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::fill(&mut k);
        Self(k)
    }

    /// Standard base64 of the key, for writing the key file.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }
}

/// Finds the master key: the environment value, else the key file, else (when allowed) a new file.
pub fn load_master_key(
    env_value: Option<&str>,
    data_dir: &Path,
    may_generate: bool,
) -> Result<(MasterKey, KeySource), SecretError> {
    if let Some(v) = env_value.filter(|v| !v.trim().is_empty()) {
        return Ok((MasterKey::from_base64(v, "OMNIGATE_MASTER_KEY")?, KeySource::Env));
    }
    let path = data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = MasterKey::from_base64(&text, &path.display().to_string())?;
            Ok((key, KeySource::File(path)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !may_generate {
                return Err(SecretError::MissingKey(path));
            }
            let key = MasterKey::generate();
            write_key_file(&path, &key)?;
            Ok((key, KeySource::Generated(path)))
        }
        Err(source) => Err(SecretError::Io { path, source }),
    }
}

fn write_key_file(path: &Path, key: &MasterKey) -> Result<(), SecretError> {
    let io = |source| SecretError::Io { path: path.to_path_buf(), source };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(format!("{}\n", key.to_base64()).as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Seals and opens secrets, and digests gateway keys, under one master key.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    digest_key: [u8; 32],
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// A sealer for this key.
    pub fn new(key: &MasterKey) -> Self {
        let cipher = XChaCha20Poly1305::new((&key.0).into());
        // A separate key for digests, so a digest reveals nothing about the sealing key.
        let digest_key = hmac_sha256(&key.0, b"omnigate/gateway-key-digest/v1");
        Self { cipher, digest_key }
    }

    /// Seals `plaintext` for a purpose (bound as associated data): `v1.<base64url(nonce|ct)>`.
    pub fn seal(&self, purpose: &str, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let payload = Payload { msg: plaintext.as_bytes(), aad: purpose.as_bytes() };
        // Encryption with a valid key and in-memory buffers cannot fail.
        let ct = self.cipher.encrypt(&XNonce::from(nonce), payload).unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        format!("{SEAL_PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a value sealed for `purpose`.
    pub fn open(&self, purpose: &str, sealed: &str) -> Result<String, SecretError> {
        let body = sealed.strip_prefix(SEAL_PREFIX).ok_or(SecretError::Unseal("unknown format"))?;
        let raw = URL_SAFE_NO_PAD.decode(body).map_err(|_| SecretError::Unseal("not base64"))?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(SecretError::Unseal("too short"));
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| SecretError::Unseal("bad nonce"))?;
        let pt = self
            .cipher
            .decrypt(&nonce, Payload { msg: ct, aad: purpose.as_bytes() })
            .map_err(|_| SecretError::WrongKey)?;
        String::from_utf8(pt).map_err(|_| SecretError::Unseal("not UTF-8"))
    }

    /// Keyed digest (HMAC-SHA256, hex) of a gateway key, as stored and looked up.
    pub fn digest(&self, gateway_key: &str) -> String {
        hex(&hmac_sha256(&self.digest_key, gateway_key.as_bytes()))
    }

    /// The key gateway-key digests are made with (moved by an export bundle, so the digests it
    /// carries go on matching under another master key).
    pub fn digest_key(&self) -> [u8; 32] {
        self.digest_key
    }

    /// This sealer with digests made under `key` (a database that took in a bundle).
    pub fn with_digest_key(mut self, key: [u8; 32]) -> Self {
        self.digest_key = key;
        self
    }
}

impl MasterKey {
    /// A key derived from a passphrase (Argon2id, the crate's default cost) and a 16-byte salt.
    pub fn from_passphrase(passphrase: &str, salt: &[u8]) -> Result<Self, SecretError> {
        let mut out = [0u8; 32];
        Argon2::default().hash_password_into(passphrase.as_bytes(), salt, &mut out).map_err(|_| SecretError::Hash)?;
        Ok(Self(out))
    }
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = match <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        // HMAC accepts keys of any length.
        Err(_) => return [0; 32],
    };
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Random URL-safe token of `bytes` random bytes.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Argon2id PHC string of a password.
pub fn hash_password(password: &str) -> Result<String, SecretError> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|_| SecretError::Hash)
}

/// Whether `password` matches an Argon2id PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), phc).is_ok()
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_purpose_binding() -> Result<(), SecretError> {
        let s = Sealer::new(&MasterKey::generate());
        let sealed = s.seal("account.api_key", "upstream-secret-a");
        assert!(!sealed.contains("upstream-secret-a"));
        assert_eq!(s.open("account.api_key", &sealed)?, "upstream-secret-a");
        assert_ne!(sealed, s.seal("account.api_key", "upstream-secret-a"), "nonce must vary");
        assert!(matches!(s.open("other", &sealed), Err(SecretError::WrongKey)));
        Ok(())
    }

    #[test]
    fn wrong_key_is_detected() {
        let a = Sealer::new(&MasterKey::generate());
        let b = Sealer::new(&MasterKey::generate());
        let sealed = a.seal("p", "x");
        assert!(matches!(b.open("p", &sealed), Err(SecretError::WrongKey)));
        assert!(matches!(b.open("p", "garbage"), Err(SecretError::Unseal(_))));
    }

    #[test]
    fn digest_is_keyed_and_stable() {
        let k = MasterKey::generate();
        let a = Sealer::new(&k);
        assert_eq!(a.digest("sk-og-ci-0001"), Sealer::new(&k).digest("sk-og-ci-0001"));
        assert_ne!(a.digest("sk-og-ci-0001"), Sealer::new(&MasterKey::generate()).digest("sk-og-ci-0001"));
        assert_eq!(a.digest("x").len(), 64);
    }

    #[test]
    fn key_file_is_generated_with_mode_0600_and_reused() -> Result<(), SecretError> {
        let dir = std::env::temp_dir().join(format!("og-key-{}-{}", std::process::id(), random_token(4)));
        std::fs::create_dir_all(&dir).ok();
        assert!(matches!(load_master_key(None, &dir, false), Err(SecretError::MissingKey(_))));
        let (k1, src) = load_master_key(None, &dir, true)?;
        assert!(matches!(src, KeySource::Generated(_)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY_FILE)).map(|m| m.permissions().mode() & 0o777).ok();
            assert_eq!(mode, Some(0o600));
        }
        let (k2, src) = load_master_key(None, &dir, true)?;
        assert!(matches!(src, KeySource::File(_)));
        assert_eq!(k1.to_base64(), k2.to_base64());
        assert!(matches!(load_master_key(Some("short"), &dir, true), Err(SecretError::MalformedKey(_))));
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }

    #[test]
    fn password_hash_verifies() -> Result<(), SecretError> {
        let h = hash_password("correct horse")?;
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        Ok(())
    }
}
