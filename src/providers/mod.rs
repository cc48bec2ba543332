//! Providers: the built-in catalog, the runtime registry, how each upstream is called, and the
//! built-in demo model.

pub mod bedrock;
pub mod call;
pub mod catalog;
pub mod demo;
pub mod options;
pub mod registry;
pub mod vertex;

pub use catalog::{Catalog, CatalogModel, CatalogProvider};
pub use options::{AccountOptions, Extra, ProviderOptions, Serves};
pub use registry::{AccountInfo, ModelInfo, ProviderInfo, Registry};

use crate::config::AuthStyle;
use crate::protocol::Dialect;

/// The credential style a dialect's upstreams usually expect.
pub fn default_auth(dialect: Dialect) -> AuthStyle {
    match dialect {
        Dialect::OpenaiChat | Dialect::OpenaiResponses => AuthStyle::Bearer,
        Dialect::Anthropic => AuthStyle::XApiKey,
        Dialect::Gemini => AuthStyle::XGoogApiKey,
    }
}

/// Signs a built attempt for providers whose credential is not sent as it is (`vertex`: an
/// access token minted from a service account key); every other call passes unchanged.
pub async fn sign(
    runtime: &crate::runtime::Runtime,
    provider: &ProviderInfo,
    grant: &actors::router::messages::LeaseGrant,
    call: actors::executor::UpstreamCall,
) -> Result<actors::executor::UpstreamCall, String> {
    match provider.auth {
        AuthStyle::GoogleServiceAccount => {
            vertex::sign(&runtime.google_tokens, grant.account_id, grant.credential.as_ref(), call).await
        }
        AuthStyle::Bearer
        | AuthStyle::XApiKey
        | AuthStyle::XGoogApiKey
        | AuthStyle::AzureApiKey
        | AuthStyle::Query
        | AuthStyle::None
        // Dressed (converted, then signed) by `bedrock::dress`, which also wraps the adapter.
        | AuthStyle::AwsSigv4 => Ok(call),
    }
}
