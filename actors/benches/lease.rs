//! Lease latency on the router's thread: the routing table's `lease_for` plus taking and dropping
//! the in-flight slot, over 1,000 accounts (50 providers × 20, round-robin) with 10,000 live
//! sticky sessions, half the leases carrying a session. Run: `cargo bench -p omnigate-actors
//! --bench lease`. Prints p50, p99 and max in µs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, clippy::cast_precision_loss)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use actors::account::AccountHealth;
use actors::router::Strategy;
use actors::router::pacing::Pacing;
use actors::router::sessions::SessionPolicy;
use actors::router::slot::{Slot, SlotGuard};
use actors::router::table::{AccountEntry, ProviderEntry, RoutingTable};

const PROVIDERS: usize = 50;
const PER_PROVIDER: usize = 20;
const SESSIONS: usize = 10_000;
const LEASES: usize = 200_000;

fn main() {
    let mut accounts = Vec::new();
    let mut providers = HashMap::new();
    for p in 0..PROVIDERS {
        let provider: Arc<str> = format!("p{p}").into();
        providers.insert(provider.to_string(), ProviderEntry { strategy: Strategy::RoundRobin, ..Default::default() });
        for a in 0..PER_PROVIDER {
            let id = (p * PER_PROVIDER + a) as i64;
            accounts.push(AccountEntry {
                id,
                provider: Arc::clone(&provider),
                name: format!("a{id}").into(),
                priority: 1,
                weight: 1,
                enabled: true,
                max_concurrent: None,
                pacing: Pacing::default(),
                base_url: "http://x".into(),
                credential: None,
                health: AccountHealth::default(),
                slot: Arc::new(Slot::default()),
                addr: None,
            });
        }
    }
    let mut t = RoutingTable::new(accounts, providers, 3);
    t.set_session_policy(SessionPolicy { ttl_ms: 3_600_000, max: 50_000 }, 0);
    let mut rng = rand::rng();
    let sessions: Vec<String> = (0..SESSIONS).map(|i| format!("key\u{0}session-{i:05}")).collect();
    let provider_names: Vec<String> = (0..PROVIDERS).map(|p| format!("p{p}")).collect();
    for (i, s) in sessions.iter().enumerate() {
        let _ = t.lease_for(&provider_names[i % PROVIDERS], "m", &[], Some(s), 1, &mut rng);
    }
    assert_eq!(t.sessions().len(), SESSIONS);
    let mut samples = Vec::with_capacity(LEASES);
    for i in 0..LEASES {
        // A session's requests go to the provider it was bound on.
        let s = (i / 2) % SESSIONS;
        let (provider, session) = if i % 2 == 0 {
            (&provider_names[s % PROVIDERS], Some(sessions[s].as_str()))
        } else {
            (&provider_names[i % PROVIDERS], None)
        };
        let now = 2 + (i as i64 / 100);
        let t0 = Instant::now();
        let picked = t.lease_for(provider, "m", &[], session, now, &mut rng).expect("an account");
        let guard = SlotGuard::take(&t.accounts()[picked.index].slot, now);
        drop(guard);
        samples.push(t0.elapsed().as_nanos() as u64);
    }
    samples.sort_unstable();
    let q = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)] as f64 / 1000.0;
    println!(
        "lease over {} accounts, {} sessions ({} leases, half with a session): p50 {:.2} µs, p99 {:.2} µs, max {:.2} µs",
        PROVIDERS * PER_PROVIDER,
        t.sessions().len(),
        LEASES,
        q(0.50),
        q(0.99),
        q(1.0)
    );
}
