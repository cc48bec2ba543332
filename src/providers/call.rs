//! How an upstream is called: endpoint paths per dialect and operation, credential placement,
//! and the request headers.

use actors::credential::Credential;
use actors::executor::Target;
use bytes::Bytes;

use super::{AccountOptions, ProviderInfo};
use crate::config::AuthStyle;
use crate::protocol::Dialect;

/// What the upstream is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A chat / message / response generation.
    Generate,
    /// Embeddings (OpenAI's `/embeddings`, Gemini's `:batchEmbedContents`).
    Embeddings,
    /// Anthropic token counting.
    CountTokens,
    /// OpenAI legacy text completions (`/completions`).
    Completions,
    /// OpenAI moderations (`/moderations`).
    Moderations,
    /// Cohere/Jina-style rerank (`/rerank`).
    Rerank,
    /// OpenAI image generation (`/images/generations`).
    Images,
    /// OpenAI image edits (`/images/edits`, multipart).
    ImageEdits,
    /// OpenAI audio transcription (`/audio/transcriptions`, multipart).
    Transcriptions,
    /// OpenAI audio translation (`/audio/translations`, multipart).
    Translations,
    /// OpenAI text to speech (`/audio/speech`).
    Speech,
}

/// The `anthropic-version` header value sent upstream when the client sent none.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The beta that Claude Code's `context_management` body field needs (the API refuses the field
/// without it: "context_management: Extra inputs are not permitted").
pub const CONTEXT_MANAGEMENT_BETA: &str = "context-management-2025-06-27";

/// Client headers that change an upstream's behaviour: the only client headers ever passed on
/// (never hop-by-hop headers, never credentials), each only to an upstream of its own family.
pub const FORWARDABLE: [&str; 6] = [
    "anthropic-beta",
    "anthropic-version",
    "openai-beta",
    "openai-organization",
    "openai-project",
    "x-goog-user-project",
];

/// The forwardable headers of a client request (lower-case names; sane values only).
pub fn forwardable(headers: &awc::http::header::HeaderMap) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in FORWARDABLE {
        for v in headers.get_all(name) {
            if let Ok(s) = v.to_str()
                && !s.is_empty()
                && s.len() <= 1024
            {
                out.push((name.to_string(), s.to_string()));
            }
        }
    }
    out
}

/// The headers one attempt adds for the client: Anthropic betas (the client's, merged with what
/// the provider and the body need) and version to Anthropic upstreams, `OpenAI-Beta` (and the
/// organization headers when the account allows) to OpenAI upstreams, `x-goog-user-project` to
/// Gemini upstreams — and only when the client speaks that family too.
pub fn passed_on(
    client_headers: &[(String, String)],
    client: Dialect,
    upstream: Dialect,
    account: Option<&AccountOptions>,
    required_betas: &[&str],
) -> Vec<(String, String)> {
    fn values<'a>(headers: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        headers.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    let get_all = |n: &'static str| values(client_headers, n);
    let mut out = Vec::new();
    let openai = |d: Dialect| matches!(d, Dialect::OpenaiChat | Dialect::OpenaiResponses);
    match upstream {
        Dialect::Anthropic => {
            let mut betas: Vec<String> = Vec::new();
            let from_client = if client == Dialect::Anthropic { get_all("anthropic-beta").collect() } else { vec![] };
            for b in
                from_client.into_iter().flat_map(|v| v.split(',')).map(str::trim).chain(required_betas.iter().copied())
            {
                if !b.is_empty() && !betas.iter().any(|x| x == b) {
                    betas.push(b.to_string());
                }
            }
            if !betas.is_empty() {
                out.push(("anthropic-beta".into(), betas.join(",")));
            }
            let version = (client == Dialect::Anthropic).then(|| get_all("anthropic-version").next()).flatten();
            out.push(("anthropic-version".into(), version.unwrap_or(ANTHROPIC_VERSION).to_string()));
        }
        d if openai(d) && openai(client) => {
            out.extend(get_all("openai-beta").map(|v| ("openai-beta".to_string(), v.to_string())));
            if account.is_some_and(|a| a.forward_org_headers) {
                for n in ["openai-organization", "openai-project"] {
                    out.extend(get_all(n).map(|v| (n.to_string(), v.to_string())));
                }
            }
        }
        Dialect::Gemini if client == Dialect::Gemini => {
            out.extend(get_all("x-goog-user-project").map(|v| ("x-goog-user-project".to_string(), v.to_string())));
        }
        Dialect::OpenaiChat | Dialect::OpenaiResponses | Dialect::Gemini => {}
    }
    out
}

/// The endpoint URL of an operation.
pub fn endpoint(dialect: Dialect, base_url: &str, op: Operation, model: &str, stream: bool) -> String {
    let base = base_url.trim_end_matches('/');
    match (dialect, op) {
        (Dialect::Gemini, Operation::Embeddings) => format!("{base}/models/{model}:batchEmbedContents"),
        (_, Operation::Embeddings) => format!("{base}/embeddings"),
        (_, Operation::Completions) => format!("{base}/completions"),
        (_, Operation::Moderations) => format!("{base}/moderations"),
        (_, Operation::Rerank) => format!("{base}/rerank"),
        (_, Operation::Images) => format!("{base}/images/generations"),
        (_, Operation::ImageEdits) => format!("{base}/images/edits"),
        (_, Operation::Transcriptions) => format!("{base}/audio/transcriptions"),
        (_, Operation::Translations) => format!("{base}/audio/translations"),
        (_, Operation::Speech) => format!("{base}/audio/speech"),
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

/// The Azure OpenAI data-plane API version used when the base URL names none (the newest GA
/// version of the inference API: learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle).
pub const AZURE_API_VERSION: &str = "2024-10-21";

/// Azure OpenAI's URL for an operation. A resource base URL
/// (`https://R.openai.azure.com/openai[?api-version=V]`) is called per deployment, the model
/// being the deployment's name: `{base}/deployments/{model}/chat/completions?api-version=V`. A base
/// URL ending in `/v1` is the v1 API, which takes plain OpenAI paths and no version.
pub fn azure_endpoint(dialect: Dialect, base_url: &str, op: Operation, model: &str, stream: bool) -> String {
    let (path, query) = base_url.split_once('?').unwrap_or((base_url, ""));
    let path = path.trim_end_matches('/');
    if path.ends_with("/v1") {
        let url = endpoint(dialect, path, op, model, stream);
        return if query.is_empty() { url } else { format!("{url}?{query}") };
    }
    let plain = endpoint(dialect, "", op, model, stream);
    let version = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("api-version="))
        .filter(|v| !v.is_empty())
        .unwrap_or(AZURE_API_VERSION);
    let model = model.replace('/', "%2F");
    format!("{path}/deployments/{model}{plain}?api-version={version}")
}

/// What one attempt sends.
#[derive(Debug)]
pub struct Outgoing<'a> {
    /// The operation.
    pub op: Operation,
    /// The upstream model id.
    pub model: &'a str,
    /// Whether the answer streams.
    pub stream: bool,
    /// The body.
    pub body: Bytes,
    /// Headers passed on for the client (`passed_on`).
    pub extra: Vec<(String, String)>,
}

/// Builds the HTTP target of one attempt.
pub fn http_target(
    provider: &ProviderInfo,
    base_url: &str,
    credential: Option<&Credential>,
    o: Outgoing<'_>,
) -> Target {
    let Outgoing { op, model, stream, body, extra } = o;
    let mut url = match provider.auth {
        AuthStyle::AzureApiKey => azure_endpoint(provider.dialect, base_url, op, model, stream),
        _ => endpoint(provider.dialect, base_url, op, model, stream),
    };
    let mut headers: Vec<(String, String)> = vec![
        ("content-type".into(), "application/json".into()),
        ("accept".into(), if stream { "text/event-stream" } else { "application/json" }.into()),
        ("user-agent".into(), concat!("omnigate/", env!("CARGO_PKG_VERSION")).into()),
    ];
    if provider.dialect == Dialect::Anthropic && !extra.iter().any(|(k, _)| k == "anthropic-version") {
        headers.push(("anthropic-version".into(), ANTHROPIC_VERSION.into()));
    }
    headers.extend(extra);
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
            AuthStyle::AzureApiKey => headers.push(("api-key".into(), secret.to_string())),
            // Signed after the build: `providers::sign` (the key file itself is never sent) and
            // `providers::bedrock::dress` (SigV4 over the finished Converse request).
            AuthStyle::None | AuthStyle::GoogleServiceAccount | AuthStyle::AwsSigv4 => {}
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
        assert_eq!(
            endpoint(Dialect::Gemini, "https://g/v1beta", Operation::Embeddings, "gemini-embedding-001", false),
            "https://g/v1beta/models/gemini-embedding-001:batchEmbedContents"
        );
        assert_eq!(
            endpoint(Dialect::OpenaiChat, "http://h/v1", Operation::Completions, "m", true),
            "http://h/v1/completions"
        );
        assert_eq!(endpoint(Dialect::OpenaiChat, "http://h/v1/", Operation::Rerank, "m", false), "http://h/v1/rerank");
    }

    #[test]
    fn azure_calls_a_deployment_with_an_api_version_or_the_v1_api_as_it_is() {
        let r = "https://r.openai.azure.com/openai";
        assert_eq!(
            azure_endpoint(Dialect::OpenaiChat, r, Operation::Generate, "gpt4o-prod", true),
            "https://r.openai.azure.com/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(
            azure_endpoint(
                Dialect::OpenaiChat,
                &format!("{r}/?api-version=2025-04-01-preview"),
                Operation::Embeddings,
                "emb",
                false
            ),
            "https://r.openai.azure.com/openai/deployments/emb/embeddings?api-version=2025-04-01-preview"
        );
        assert_eq!(
            azure_endpoint(
                Dialect::OpenaiResponses,
                "https://r.openai.azure.com/openai/v1/",
                Operation::Generate,
                "d",
                false
            ),
            "https://r.openai.azure.com/openai/v1/responses"
        );
    }
}
