//! PKCE (RFC 7636, method S256) and the `state` value of authorization requests.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A PKCE pair and the request's `state`.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkce {
    /// Sent with the code exchange only.
    pub verifier: String,
    /// `BASE64URL(SHA256(verifier))`, sent with the authorization request.
    pub challenge: String,
    /// Ties the answer to this request.
    pub state: String,
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pkce(..)")
    }
}

/// The S256 challenge of a verifier.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Pkce {
    /// A fresh pair: a 43-character verifier from 32 random bytes (the shortest RFC 7636
    /// allows, as the official CLIs use) and a random state.
    pub fn new() -> Self {
        let verifier = crate::secrets::random_token(32);
        Self { challenge: challenge(&verifier), verifier, state: crate::secrets::random_token(24) }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// `key=value&...` with both sides form-encoded.
pub fn query(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        // RFC 7636, Appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn fresh_pairs_are_well_formed_and_differ() {
        let a = Pkce::new();
        let b = Pkce::new();
        assert_eq!(a.verifier.len(), 43);
        assert!(a.verifier.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(a.challenge, challenge(&a.verifier));
        assert_ne!(a.verifier, b.verifier);
        assert_ne!(a.state, b.state);
        assert_eq!(query(&[("a b", "c&d"), ("e", "f")]), "a+b=c%26d&e=f");
    }
}
