//! The router: the routing view of every account and the strategies that lease one.

pub mod actor;
pub mod messages;
pub mod slot;
pub mod strategy;
pub mod table;

pub use strategy::Strategy;
