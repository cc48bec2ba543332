//! Integration tests: the real daemon on an ephemeral port, real SQLite files, a real PostgreSQL
//! (`OG_TEST_PG`) or a real MariaDB (`OG_TEST_MYSQL`), and our mock upstream.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../mock/mod.rs"]
mod mock;
mod support;

mod accounts_cli;
mod admin_observe;
mod admin_write_accounts;
mod admin_write_combos;
mod admin_write_keys;
mod admin_write_providers;
mod admin_write_restart;
mod admin_write_settings;
mod admin_write_support;
mod admin_write_transforms;
mod backup;
mod bedrock;
mod bench_table;
mod browser;
mod browser_assets;
mod bundle;
mod cache;
mod clients;
mod clouds;
mod cluster;
mod container;
mod dead_accounts;
mod export;
mod fidelity;
mod first_hour;
mod foundation;
mod hardening;
mod import_omniroute;
mod key_limits;
mod mariadb;
mod media;
mod metrics;
mod pipeline;
mod pricing;
mod reasoning;
mod replay;
mod resilience;
mod responses_ws;
mod rollups;
mod routing_combos;
mod routing_context;
mod routing_failures;
mod routing_pacing;
mod routing_resume;
mod routing_sessions;
mod routing_transforms;
mod secret_refs;
mod service;
mod stops;
mod streams;
mod subs;
mod supervision;
mod surfaces;
mod tools;
mod tools_ops;
mod translate_http;
mod translation;
mod upstream_answers;
mod usage;
mod users;
