//! The router: the routing view of every account and the strategies that lease one.

pub mod strategy;

pub use strategy::Strategy;
