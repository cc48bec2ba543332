//! `AppState`: what every handler shares (config, database, sealer, key snapshot, sessions, actors).

use std::sync::Arc;
use std::time::Instant;

use actix::{Addr, MailboxError};
use actors::router::actor::LeaseDesk;
use actors::router::messages::{Lease, LeaseGrant};
use actors::router::table::Unavailable;
use sea_orm::DatabaseConnection;

use crate::auth::Sessions;
use crate::config::Config;
use crate::keys::KeyTable;
use crate::runtime::Runtime;
use crate::secrets::Sealer;

/// Shared state, cheap to clone (everything inside is shared).
#[derive(Clone)]
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The database pool.
    pub db: DatabaseConnection,
    /// Seals credentials and digests keys.
    pub sealer: Sealer,
    /// Active gateway keys.
    pub keys: KeyTable,
    /// Dashboard sessions.
    pub sessions: Sessions,
    /// `OMNIGATE_ADMIN_TOKEN`, if set.
    pub admin_token: Option<String>,
    /// This start's local CLI token (`<data dir>/cli.token`), if it could be written.
    pub local_token: Option<String>,
    /// Process start, for uptime.
    pub started: Instant,
    /// The actors and the registry.
    pub runtime: Arc<Runtime>,
    /// The lease desk of the thread this state serves: each HTTP worker's own; the main
    /// arbiter's for the state kept outside the workers.
    pub desk: Addr<LeaseDesk>,
}

impl AppState {
    /// Leases an account from this thread's desk (no cross-thread hop on an HTTP worker).
    pub async fn lease(&self, lease: Lease) -> Result<Result<LeaseGrant, Unavailable>, MailboxError> {
        self.desk.send(lease).await
    }
}
