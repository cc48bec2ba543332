//! AWS Bedrock as an upstream (`bedrock`, auth `aws-sigv4`): the plan builds an OpenAI Chat call
//! as for any openai-chat provider; `dress` turns it into a Converse call — the body converted
//! (`converse`), the URL `{base}/model/{id}/converse[-stream]`, the request signed with SigV4
//! (`sigv4`) or carrying a Bedrock API key — and wraps the response adapter so Converse answers
//! and event streams (`eventstream`) reach the plan's adapter as Chat bytes (`adapter`). The hub
//! and its four dialects are untouched; nothing here logs or returns a credential.
//!
//! The account key is `ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]`, or a Bedrock API key
//! (no `:`; sent as `Authorization: Bearer`, per "Use an Amazon Bedrock API key"). The region is
//! read from the base URL's host (`bedrock-runtime.{region}.amazonaws.com`, FIPS and VPC endpoint
//! names included) or given as `#region=<region>` at the end of a base URL whose host does not
//! say it (a proxy, a private endpoint); the fragment is never sent.

pub mod adapter;
pub mod converse;
pub mod eventstream;
pub mod sigv4;

use actors::credential::Credential;
use actors::executor::{Target, UpstreamCall};
use actors::router::messages::LeaseGrant;
use awc::http::Uri;
use bytes::Bytes;
use serde_json::Value;

use super::ProviderInfo;
use crate::config::AuthStyle;
use crate::error::GatewayError;

/// The signing name of Bedrock Runtime.
pub const SERVICE: &str = "bedrock";

/// How an account authenticates (its `Debug` names the kind, never the secret).
#[derive(Clone)]
pub enum Auth {
    /// An access key pair (and session token): SigV4.
    Keys(sigv4::Credentials),
    /// A Bedrock API key: `Authorization: Bearer`.
    ApiKey(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Keys(c) => f.debug_tuple("Keys").field(c).finish(),
            Self::ApiKey(_) => f.write_str("ApiKey(…)"),
        }
    }
}

impl Auth {
    /// Reads an account key; `None` when it is empty or a pair with an empty half.
    pub fn parse(key: &str) -> Option<Self> {
        let key = key.trim();
        if key.is_empty() {
            return None;
        }
        let mut parts = key.splitn(3, ':');
        let (id, secret, token) = (parts.next(), parts.next(), parts.next());
        match (id, secret) {
            (Some(k), None) => Some(Self::ApiKey(k.to_string())),
            (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => Some(Self::Keys(sigv4::Credentials {
                access_key_id: id.to_string(),
                secret_access_key: secret.to_string(),
                session_token: token.filter(|t| !t.is_empty()).map(str::to_string),
            })),
            _ => None,
        }
    }
}

/// Whether a DNS label looks like an AWS region (`us-east-1`, `eu-central-2`, `us-gov-west-1`).
fn is_region(label: &str) -> bool {
    let parts: Vec<&str> = label.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts.last().is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A base URL → (the URL requests go to, the region). The region is `#region=…` when given,
/// else the label after `bedrock-runtime` (or `bedrock-runtime-fips`) in the host.
pub fn endpoint(base: &str) -> Result<(String, String), String> {
    let (url, fragment) = base.split_once('#').unwrap_or((base, ""));
    let url = url.trim_end_matches('/').to_string();
    if let Some(r) = fragment.strip_prefix("region=").filter(|r| is_region(r)) {
        return Ok((url, r.to_string()));
    }
    let host = url.parse::<Uri>().ok().and_then(|u| u.host().map(str::to_string)).unwrap_or_default();
    let labels: Vec<&str> = host.split('.').collect();
    let region = labels
        .windows(2)
        .find(|w| w[0] == "bedrock-runtime" || w[0] == "bedrock-runtime-fips")
        .map(|w| w[1])
        .filter(|r| is_region(r));
    match region {
        Some(r) => Ok((url, r.to_string())),
        None => Err(format!(
            "no AWS region in the base URL `{url}`: use https://bedrock-runtime.<region>.amazonaws.com, \
             or add #region=<region> to a base URL whose host does not name it"
        )),
    }
}

/// Dresses the plan's call for a Bedrock account (a call to any other provider is returned as
/// it is): the Converse request (`converse_target`) and the adapter that reads its answers back.
pub fn dress(
    provider: &ProviderInfo,
    grant: &LeaseGrant,
    model: &str,
    call: UpstreamCall,
) -> Result<UpstreamCall, GatewayError> {
    if provider.auth != AuthStyle::AwsSigv4 {
        return Ok(call);
    }
    let UpstreamCall { target, stream, adapter, defer_auth_failure, observer, resume } = call;
    let account =
        Account { name: &grant.account_name, base_url: &grant.base_url, credential: grant.credential.as_ref() };
    let target = converse_target(provider, account, model, stream, target)?;
    let adapter = Box::new(adapter::ConverseAdapter::new(adapter, model));
    Ok(UpstreamCall { target, stream, adapter, defer_auth_failure, observer, resume })
}

/// The account a Bedrock request is made for.
#[derive(Debug, Clone, Copy)]
pub struct Account<'a> {
    /// Its name (for the words of a configuration error).
    pub name: &'a str,
    /// Its base URL (region included, see the module's doc).
    pub base_url: &'a str,
    /// Its key.
    pub credential: Option<&'a Credential>,
}

/// An OpenAI Chat HTTP target (as `providers::call::http_target` builds it) → the signed Converse
/// request for `account`. Fails when the account is misconfigured (502, its name and what is
/// wrong) or the request cannot be said in Converse (400).
pub fn converse_target(
    provider: &ProviderInfo,
    account: Account<'_>,
    model: &str,
    stream: bool,
    target: Target,
) -> Result<Target, GatewayError> {
    let misconfigured = |why: String| {
        GatewayError::BadGateway(format!("the {} account `{}` is misconfigured: {why}", provider.id, account.name))
    };
    let auth = account.credential.and_then(|c| Auth::parse(c.expose())).ok_or_else(|| {
        misconfigured("its key must be ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN] or a Bedrock API key".into())
    })?;
    let (base, region) = endpoint(account.base_url).map_err(misconfigured)?;
    let Target::Http { method, url, headers, body } = target else {
        return Err(GatewayError::BadRequest(format!("`{}` serves chat only", provider.id)));
    };
    if !url.ends_with("/chat/completions") {
        return Err(GatewayError::BadRequest(format!(
            "`{}` serves chat only through this gateway (Converse); embeddings and the other surfaces are not offered",
            provider.id
        )));
    }
    let chat: Value =
        serde_json::from_slice(&body).map_err(|_| GatewayError::BadRequest("the request body is not JSON".into()))?;
    let converse = converse::request(&chat, model).map_err(GatewayError::BadRequest)?;
    let payload = Bytes::from(converse.to_string());
    let op = if stream { "converse-stream" } else { "converse" };
    let url = format!("{base}/model/{}/{op}", sigv4::uri_encode(model, false));
    let uri = url.parse::<Uri>().map_err(|_| misconfigured(format!("`{base}` is not a URL")))?;
    let host = uri.authority().map(|a| a.as_str().to_string()).unwrap_or_default();
    let accept = if stream { "application/vnd.amazon.eventstream" } else { "application/json" };
    let mut out: Vec<(String, String)> =
        vec![("content-type".into(), "application/json".into()), ("accept".into(), accept.into())];
    out.extend(headers.into_iter().filter(|(k, _)| k.eq_ignore_ascii_case("user-agent")));
    match auth {
        Auth::ApiKey(key) => out.push(("authorization".into(), format!("Bearer {key}"))),
        Auth::Keys(creds) => {
            let amz_date = sigv4::amz_date_now();
            let mut signed = vec![
                ("host".to_string(), host),
                ("content-type".to_string(), "application/json".to_string()),
                ("x-amz-date".to_string(), amz_date.clone()),
            ];
            if let Some(t) = &creds.session_token {
                signed.push(("x-amz-security-token".into(), t.clone()));
            }
            let s = sigv4::sign(
                &creds,
                sigv4::Scope { region: &region, service: SERVICE, amz_date: &amz_date },
                sigv4::Request {
                    method: method.as_str(),
                    path: uri.path(),
                    query: uri.query().unwrap_or(""),
                    headers: &signed,
                    payload: &payload,
                },
            );
            // `host` is written by the client from the URL; the rest go as signed.
            out.extend(signed.into_iter().filter(|(k, _)| k != "host" && k != "content-type"));
            out.push(("authorization".into(), s.authorization));
        }
    }
    Ok(Target::Http { method, url, headers: out, body: payload })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_api_keys() {
        assert!(
            matches!(Auth::parse("AKIA1:s3cr/et+"), Some(Auth::Keys(c)) if c.secret_access_key == "s3cr/et+" && c.session_token.is_none())
        );
        assert!(
            matches!(Auth::parse("ASIA1:s:tok=="), Some(Auth::Keys(c)) if c.session_token.as_deref() == Some("tok=="))
        );
        assert!(matches!(Auth::parse("ABSKQmVkcm9ja0FQSUtleQ=="), Some(Auth::ApiKey(_))));
        assert!(Auth::parse("AKIA1:").is_none() && Auth::parse("").is_none());
        let shown = format!("{:?} {:?}", Auth::parse("ABSKsecretkey"), Auth::parse("AKIA1:s3cr3t:t0ken"));
        assert!(!shown.contains("secretkey") && !shown.contains("s3cr3t") && !shown.contains("t0ken"), "{shown}");
    }

    #[test]
    fn the_region_comes_from_the_host_or_the_fragment() {
        let r = |b: &str| endpoint(b).map(|(_, r)| r);
        assert_eq!(r("https://bedrock-runtime.us-east-1.amazonaws.com").as_deref(), Ok("us-east-1"));
        assert_eq!(r("https://bedrock-runtime-fips.us-gov-west-1.amazonaws.com/").as_deref(), Ok("us-gov-west-1"));
        assert_eq!(
            r("https://vpce-0a1b.bedrock-runtime.eu-central-1.vpce.amazonaws.com").as_deref(),
            Ok("eu-central-1")
        );
        assert_eq!(
            endpoint("http://127.0.0.1:9/aws#region=ap-southeast-2"),
            Ok(("http://127.0.0.1:9/aws".into(), "ap-southeast-2".into()))
        );
        assert!(endpoint("https://bedrock.internal.example").is_err_and(|e| e.contains("#region=")));
    }
}
