//! Omnigate: a self-hosted AI gateway, as an actor system.
//!
//! # Request flow
//! 1. `routes::*` parses the body in the client's dialect and checks the gateway key against the
//!    in-memory `keys::KeyTable` (never the database on the hot path).
//!
//! # Start-up (`app::start`)
//! config (defaults → file → env → flags) → validate against the catalog → open the database
//! (SQLite lock, migrations) → unlock the master key → upsert config entries → bootstrap admin
//! password and first key → serve. On stop: drain, checkpoint the WAL, close.

pub mod app;
pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod error;
pub mod keys;
pub mod logging;
pub mod pipeline;
pub mod protocol;
pub mod providers;
pub mod routes;
pub mod runtime;
pub mod secrets;
pub mod sse;
pub mod state;
pub mod store;
pub mod translate;
