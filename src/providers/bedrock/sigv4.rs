//! AWS Signature Version 4 for one request (header-based, `AWS4-HMAC-SHA256`): the canonical
//! request, the string to sign, the derived signing key and the `Authorization` header. It signs
//! what it is given and never logs or returns a secret (the `Debug` of `Credentials` hides them).
//!
//! Facts from AWS's "Create a signed AWS API request" guide and its SigV4 test suite (the vectors
//! in the tests below): header names lower-cased, values trimmed with inner runs of spaces
//! collapsed, sorted by name; query parameters encoded and sorted; the path of a request to any
//! service but S3 is URI-encoded a second time, segment by segment (a path already carrying
//! `%3A` is signed as `%253A`).

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::secrets::hex;

/// The algorithm named in the string to sign and the `Authorization` header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// An AWS access key (and, for temporary credentials, the session token that goes with it).
#[derive(Clone)]
pub struct Credentials {
    /// The access key id (`AKIA…` / `ASIA…`): not a secret, it names the key in the scope.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The STS session token of temporary credentials (sent as `x-amz-security-token`).
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret or the token.
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("session_token", &self.session_token.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

/// The parts of a request that are signed.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path exactly as sent (already percent-encoded where it must be).
    pub path: &'a str,
    /// The raw query string (without `?`), `""` when none.
    pub query: &'a str,
    /// The headers to sign (names in any case); `host` and `x-amz-date` must be among them.
    pub headers: &'a [(String, String)],
    /// The body.
    pub payload: &'a [u8],
}

/// Where and when a signature applies.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The region, `us-east-1`.
    pub region: &'a str,
    /// The signing name of the service (`bedrock` for Bedrock Runtime).
    pub service: &'a str,
    /// The request time, `YYYYMMDD'T'HHMMSS'Z'` (the `x-amz-date` header's value).
    pub amz_date: &'a str,
}

/// A signature with the steps that led to it (the steps are what a test compares).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The canonical request.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// `host;x-amz-date;...`
    pub signed_headers: String,
    /// The hex signature.
    pub signature: String,
    /// The `Authorization` header value.
    pub authorization: String,
}

/// The current time as `x-amz-date` wants it.
pub fn amz_date_now() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        // HMAC accepts keys of any length.
        Err(_) => return [0; 32],
    };
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// RFC 3986 percent-encoding as SigV4 wants it: everything but `A-Z a-z 0-9 - _ . ~` is
/// `%XX` (upper-case hex); `/` is kept when `keep_slash`.
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The canonical URI of a path as sent to a service other than S3: each segment encoded again.
pub fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    path.split('/').map(|seg| uri_encode(seg, false)).collect::<Vec<_>>().join("/")
}

/// The canonical query string: each name and value encoded, sorted by name then value.
pub fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(&percent_decode(k), false), uri_encode(&percent_decode(v), false))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex_at = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
        match (b[i], hex_at(i + 1), hex_at(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Canonical headers (`name:value\n` each) and the signed header list.
fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut map: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for (k, v) in headers {
        let value = v.split_whitespace().collect::<Vec<_>>().join(" ");
        map.entry(k.to_ascii_lowercase()).or_default().push(value);
    }
    let canonical = map.iter().map(|(k, vs)| format!("{k}:{}\n", vs.join(","))).collect::<String>();
    let signed = map.keys().cloned().collect::<Vec<_>>().join(";");
    (canonical, signed)
}

/// The signing key of a day, region and service.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// Signs `req` with `creds` for `scope`.
pub fn sign(creds: &Credentials, scope: Scope<'_>, req: Request<'_>) -> Signed {
    let (headers, signed_headers) = canonical_headers(req.headers);
    let canonical_request = format!(
        "{}\n{}\n{}\n{headers}\n{signed_headers}\n{}",
        req.method,
        canonical_uri(req.path),
        canonical_query(req.query),
        sha256_hex(req.payload)
    );
    let date = scope.amz_date.get(..8).unwrap_or(scope.amz_date);
    let credential_scope = format!("{date}/{}/{}/aws4_request", scope.region, scope.service);
    let string_to_sign =
        format!("{ALGORITHM}\n{}\n{credential_scope}\n{}", scope.amz_date, sha256_hex(canonical_request.as_bytes()));
    let key = signing_key(&creds.secret_access_key, date, scope.region, scope.service);
    let signature = hex(&hmac(&key, string_to_sign.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
        creds.access_key_id
    );
    Signed { canonical_request, string_to_sign, signed_headers, signature, authorization }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The AWS SigV4 test suite's context: every vector is signed with these.
    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const STAMP: &str = "20150830T123600Z";
    const SUITE_SCOPE: Scope<'static> = Scope { region: "us-east-1", service: "service", amz_date: STAMP };

    fn creds(token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: AKID.into(),
            secret_access_key: SECRET.into(),
            session_token: token.map(str::to_string),
        }
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn suite(method: &str, query: &str, headers: &[(&str, &str)], payload: &[u8]) -> Signed {
        let mut all = h(&[("Host", "example.amazonaws.com"), ("X-Amz-Date", STAMP)]);
        all.extend(h(headers));
        sign(&creds(None), SUITE_SCOPE, Request { method, path: "/", query, headers: &all, payload })
    }

    #[test]
    fn the_aws_sigv4_test_suite_vectors() {
        // aws-sig-v4-test-suite: get-vanilla, post-vanilla, get-vanilla-query-order-key-case,
        // post-header-value-case, post-x-www-form-urlencoded.
        let s = suite("GET", "", &[], b"");
        assert_eq!(
            s.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        let s = suite("POST", "", &[], b"");
        assert_eq!(
            s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"
        );
        assert_eq!(s.signature, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
        let s = suite("GET", "Param2=value2&Param1=value1", &[], b"");
        assert_eq!(s.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
        let s = suite("POST", "", &[("My-Header1", "VALUE1")], b"");
        assert_eq!(s.signed_headers, "host;my-header1;x-amz-date");
        assert_eq!(s.signature, "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d");
        let s = suite("POST", "", &[("Content-Type", "application/x-www-form-urlencoded")], b"Param1=value1");
        assert_eq!(s.signed_headers, "content-type;host;x-amz-date");
        assert_eq!(s.signature, "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
    }

    #[test]
    fn a_session_token_is_a_signed_header() {
        // aws-sig-v4-test-suite post-sts-token/post-sts-header-after.
        let token = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
        let headers = h(&[("Host", "example.amazonaws.com"), ("X-Amz-Date", STAMP), ("X-Amz-Security-Token", token)]);
        let s = sign(
            &creds(Some(token)),
            SUITE_SCOPE,
            Request { method: "POST", path: "/", query: "", headers: &headers, payload: b"" },
        );
        assert_eq!(s.signed_headers, "host;x-amz-date;x-amz-security-token");
        assert_eq!(s.signature, "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead");
        assert!(!format!("{:?}", creds(Some(token))).contains("EXAMPLEKEY"), "Debug hides the secret");
        assert!(!format!("{:?}", creds(Some(token))).contains("AQoD"), "Debug hides the token");
    }

    #[test]
    fn a_bedrock_model_path_is_encoded_twice_and_values_are_trimmed() {
        // A model id with `:` is sent as `%3A`; a non-S3 service signs that path encoded again.
        assert_eq!(
            canonical_uri("/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream"),
            "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%253A0/converse-stream"
        );
        assert_eq!(canonical_uri("/model/amazon.nova-pro-v1%3A0/converse"), "/model/amazon.nova-pro-v1%253A0/converse");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(uri_encode("a b/c~", true), "a%20b/c~");
        let (c, s) = canonical_headers(&h(&[("My-Header2", "  \"a   b   c\"  "), ("host", "x")]));
        assert_eq!(c, "host:x\nmy-header2:\"a b c\"\n");
        assert_eq!(s, "host;my-header2");
        // The derived key of AWS's documented example (secret, 20150830, us-east-1, iam).
        assert_eq!(
            hex(&signing_key(SECRET, "20150830", "us-east-1", "iam")),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }
}
