//! How an upstream is called: endpoint paths per dialect and operation, credential placement,
//! and the request headers.

use actors::credential::Credential;
use actors::executor::Target;
use bytes::Bytes;

use super::ProviderInfo;
use crate::config::AuthStyle;
use crate::protocol::Dialect;

/// What the upstream is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A chat / message / response generation.
    Generate,
    /// Embeddings (OpenAI dialect only).
    Embeddings,
    /// Anthropic token counting.
    CountTokens,
}

/// The `anthropic-version` header value sent upstream.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The endpoint URL of an operation.
pub fn endpoint(dialect: Dialect, base_url: &str, op: Operation, model: &str, stream: bool) -> String {
    let base = base_url.trim_end_matches('/');
    match (dialect, op) {
        (_, Operation::Embeddings) => format!("{base}/embeddings"),
        (Dialect::Anthropic, Operation::CountTokens) => format!("{base}/messages/count_tokens"),
        (Dialect::OpenaiChat, _) => format!("{base}/chat/completions"),
        (Dialect::OpenaiResponses, _) => format!("{base}/responses"),
        (Dialect::Anthropic, _) => format!("{base}/messages"),
        (Dialect::Gemini, Operation::CountTokens) => format!("{base}/models/{model}:countTokens"),
        (Dialect::Gemini, Operation::Generate) if stream => {
            format!("{base}/models/{model}:streamGenerateContent?alt=sse")
        }
        (Dialect::Gemini, Operation::Generate) => format!("{base}/models/{model}:generateContent"),
    }
}

/// Builds the HTTP target of one attempt.
pub fn http_target(
    provider: &ProviderInfo,
    base_url: &str,
    credential: Option<&Credential>,
    op: Operation,
    model: &str,
    stream: bool,
    body: Bytes,
) -> Target {
    let mut url = endpoint(provider.dialect, base_url, op, model, stream);
    let mut headers: Vec<(String, String)> = vec![
        ("content-type".into(), "application/json".into()),
        ("accept".into(), if stream { "text/event-stream" } else { "application/json" }.into()),
        ("user-agent".into(), concat!("omnigate/", env!("CARGO_PKG_VERSION")).into()),
    ];
    if provider.dialect == Dialect::Anthropic {
        headers.push(("anthropic-version".into(), ANTHROPIC_VERSION.into()));
    }
    if let Some(c) = credential {
        let secret = c.expose();
        match provider.auth {
            AuthStyle::Bearer => headers.push(("authorization".into(), format!("Bearer {secret}"))),
            AuthStyle::XApiKey => headers.push(("x-api-key".into(), secret.to_string())),
            AuthStyle::XGoogApiKey => headers.push(("x-goog-api-key".into(), secret.to_string())),
            AuthStyle::Query => {
                let sep = if url.contains('?') { '&' } else { '?' };
                url = format!("{url}{sep}key={secret}");
            }
            AuthStyle::None => {}
        }
    }
    Target::Http { method: awc::http::Method::POST, url, headers, body }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_per_dialect() {
        assert_eq!(
            endpoint(Dialect::OpenaiChat, "http://h/v1/", Operation::Generate, "m", true),
            "http://h/v1/chat/completions"
        );
        assert_eq!(
            endpoint(Dialect::Anthropic, "https://api.anthropic.com/v1", Operation::CountTokens, "m", false),
            "https://api.anthropic.com/v1/messages/count_tokens"
        );
        assert_eq!(
            endpoint(Dialect::Gemini, "https://g/v1beta", Operation::Generate, "gemini-2.5-pro", true),
            "https://g/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            endpoint(Dialect::OpenaiResponses, "http://h/v1", Operation::Generate, "m", false),
            "http://h/v1/responses"
        );
    }
}
