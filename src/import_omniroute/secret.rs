//! OmniRoute's stored credentials: `enc:v1:<iv>:<ciphertext>:<tag>` (lowercase hex) is
//! AES-256-GCM with a 16-byte nonce under `scrypt(STORAGE_ENCRYPTION_KEY, salt, N=16384, r=8,
//! p=1)`, the key string taken as UTF-8 text. The salt is the constant
//! `omniroute-field-encryption-v1`; databases written between 2026-04-21 and 2026-05-04 used the
//! first 16 bytes of `sha256(key)` instead, so both are tried. A value without the prefix was
//! stored in plain text (no key configured). Source: OmniRoute `src/lib/db/encryption.ts`
//! (diegosouzapw/OmniRoute @0adae00c, v3.8.42) and its CLI twin `bin/cli/encryption.mjs`.

use aes_gcm::aead::consts::U16;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use sha2::{Digest, Sha256};

const PREFIX: &str = "enc:v1:";
const STATIC_SALT: &[u8] = b"omniroute-field-encryption-v1";

/// The keys derived from an OmniRoute `STORAGE_ENCRYPTION_KEY`.
pub struct Keys {
    derived: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

fn derive(secret: &str, salt: &[u8]) -> Option<[u8; 32]> {
    let params = scrypt::Params::new(14, 8, 1).ok()?;
    let mut out = [0u8; 32];
    scrypt::scrypt(secret.as_bytes(), salt, &params, &mut out).ok()?;
    Some(out)
}

impl Keys {
    /// The current and the legacy key of `secret`.
    pub fn new(secret: &str) -> Self {
        let legacy_salt = Sha256::digest(secret.as_bytes());
        let derived = [derive(secret, STATIC_SALT), derive(secret, &legacy_salt[..16])].into_iter().flatten().collect();
        Self { derived }
    }
}

/// What a stored credential turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Stored {
    /// Plain text (or decrypted).
    Plain(String),
    /// Encrypted, and no key was given.
    NeedsKey,
    /// Encrypted, and neither key opens it (a wrong key, or a damaged value).
    WrongKey,
}

fn unhex(h: &str) -> Option<Vec<u8>> {
    if !h.len().is_multiple_of(2) {
        return None;
    }
    (0..h.len()).step_by(2).map(|i| h.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

/// Reads a stored credential with `keys` (if any).
pub fn open(value: &str, keys: Option<&Keys>) -> Stored {
    let Some(rest) = value.strip_prefix(PREFIX) else { return Stored::Plain(value.to_string()) };
    let Some(keys) = keys else { return Stored::NeedsKey };
    let parts: Vec<Option<Vec<u8>>> = rest.split(':').map(unhex).collect();
    let [Some(iv), Some(ct), Some(tag)] = parts.as_slice() else { return Stored::WrongKey };
    let Ok(nonce) = Nonce::<U16>::try_from(iv.as_slice()) else { return Stored::WrongKey };
    let mut sealed = ct.clone();
    sealed.extend_from_slice(tag);
    for key in &keys.derived {
        let Ok(cipher) = AesGcm::<Aes256, U16>::new_from_slice(key) else { continue };
        if let Ok(plain) = cipher.decrypt(&nonce, sealed.as_slice())
            && let Ok(text) = String::from_utf8(plain)
        {
            return Stored::Plain(text);
        }
    }
    Stored::WrongKey
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors made with Node's crypto exactly as OmniRoute encrypts (see the module doc), and
    // checked with Python's hashlib.scrypt + AES-GCM.
    const KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    const PLAIN: &str = "sk-or-v1-fixture0000000000000000000000000000000000000000000000000000";
    const STATIC: &str = "enc:v1:000102030405060708090a0b0c0d0e0f:6ba65783e2e5490d1cb89e013a893e97a6e96aa182996fc747d76cc4ee7bef81f5d8b052a984227851b29f65651ec6748f0ba825d0d867618f810370bd45859c6458fea3:1e22edd07734067963116e6b3ea2a295";
    const LEGACY: &str = "enc:v1:101112131415161718191a1b1c1d1e1f:bde4028a1e04578aa0cae5877f71b97c796ff79a0bd5d698905859b6ee4e4f25ffe1de0c9ea473925361e10bfd6e8027afce1eb41c06ce1757f25ad0325df558228f90bf:d24e10633e8e8f4eea67244eb9eb67b8";

    #[test]
    fn both_salts_open_and_a_wrong_key_or_a_flipped_tag_does_not() {
        let keys = Keys::new(KEY);
        assert_eq!(open(STATIC, Some(&keys)), Stored::Plain(PLAIN.into()));
        assert_eq!(open(LEGACY, Some(&keys)), Stored::Plain(PLAIN.into()));
        assert_eq!(open(STATIC, Some(&Keys::new("another key"))), Stored::WrongKey);
        let flipped = format!("{}{}", &STATIC[..STATIC.len() - 1], if STATIC.ends_with('5') { '4' } else { '5' });
        assert_eq!(open(&flipped, Some(&keys)), Stored::WrongKey);
        assert_eq!(open(STATIC, None), Stored::NeedsKey);
        assert_eq!(open("sk-plain", None), Stored::Plain("sk-plain".into()));
        assert_eq!(open("enc:v1:zz:00:00", Some(&keys)), Stored::WrongKey);
    }
}
