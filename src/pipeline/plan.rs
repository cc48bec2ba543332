//! The request plan: how each attempt's upstream call is built from the client's request.
//! Same dialect on both sides is a passthrough with only `model` rewritten.

use actors::executor::{Target as ExecTarget, UpstreamCall};
use actors::router::messages::LeaseGrant;
use bytes::Bytes;
use serde_json::json;

use crate::error::GatewayError;
use crate::protocol::Dialect;
use crate::protocol::raw::RawObject;
use crate::providers::ProviderInfo;
use crate::providers::call::{Operation, http_target};
use crate::providers::demo::Echo;
use crate::translate::passthrough::{ChatPassthrough, EmbeddingsPassthrough};

/// How to build upstream calls for one client request.
#[derive(Debug)]
pub enum Plan {
    /// OpenAI Chat Completions from the client.
    Chat {
        /// The client body, top level parsed.
        body: RawObject,
        /// Whether the client itself asked for `stream_options.include_usage`.
        client_wants_usage: bool,
    },
    /// OpenAI embeddings from the client.
    Embeddings {
        /// The client body.
        body: RawObject,
    },
}

impl Plan {
    /// The dialect the client speaks.
    pub fn client_dialect(&self) -> Dialect {
        match self {
            Self::Chat { .. } | Self::Embeddings { .. } => Dialect::OpenaiChat,
        }
    }

    /// Builds one attempt for `provider` / `model` under `lease`.
    pub fn build(
        &self,
        provider: &ProviderInfo,
        lease: &LeaseGrant,
        model: &str,
        stream: bool,
    ) -> Result<UpstreamCall, GatewayError> {
        match self {
            Self::Chat {
                body,
                client_wants_usage,
            } => {
                if provider.dialect != Dialect::OpenaiChat {
                    return Err(GatewayError::NotImplemented(format!(
                        "provider `{}` speaks {}; translation from OpenAI Chat is not available",
                        provider.id,
                        provider.dialect.as_str()
                    )));
                }
                let mut body = body.clone();
                body.set("model", &model);
                if stream && !client_wants_usage {
                    // Ask for usage so it can be recorded; the adapter hides the extra chunk.
                    let mut opts: serde_json::Map<String, serde_json::Value> =
                        body.parse("stream_options").unwrap_or_default();
                    opts.insert("include_usage".into(), json!(true));
                    body.set("stream_options", &opts);
                }
                let bytes = Bytes::from(body.to_vec());
                let adapter = Box::new(ChatPassthrough::new(stream && !client_wants_usage));
                let target = if provider.local {
                    ExecTarget::Local(Box::new(Echo::new(&bytes, model)))
                } else {
                    http_target(
                        provider,
                        &lease.base_url,
                        lease.credential.as_ref(),
                        Operation::Generate,
                        model,
                        stream,
                        bytes,
                    )
                };
                Ok(UpstreamCall {
                    target,
                    stream,
                    adapter,
                })
            }
            Self::Embeddings { body } => {
                if provider.dialect != Dialect::OpenaiChat || provider.local {
                    return Err(GatewayError::BadRequest(format!(
                        "provider `{}` does not serve embeddings",
                        provider.id
                    )));
                }
                let mut body = body.clone();
                body.set("model", &model);
                let bytes = Bytes::from(body.to_vec());
                let target = http_target(
                    provider,
                    &lease.base_url,
                    lease.credential.as_ref(),
                    Operation::Embeddings,
                    model,
                    false,
                    bytes,
                );
                Ok(UpstreamCall {
                    target,
                    stream: false,
                    adapter: Box::new(EmbeddingsPassthrough::default()),
                })
            }
        }
    }
}
