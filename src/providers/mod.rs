//! Providers: the built-in catalog, the runtime registry, how each upstream is called, and the
//! built-in demo model.

pub mod call;
pub mod catalog;
pub mod demo;
pub mod options;
pub mod registry;

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
