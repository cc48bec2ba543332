//! The router: the routing view of every account, sticky session bindings, pacing and the
//! strategies that lease one.

pub mod actor;
pub mod messages;
pub mod pacing;
pub mod sessions;
pub mod slot;
pub mod strategy;
pub mod table;

pub use strategy::Strategy;
