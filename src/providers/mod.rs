//! Providers: the built-in catalog, custom providers from the database, and how each is called.

pub mod catalog;


pub use catalog::{Catalog, CatalogModel, CatalogProvider};


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
