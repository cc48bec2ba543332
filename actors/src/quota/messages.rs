//! Messages the quota tracker hears, and the one it tells the router.

use actix::Message;
use serde::Serialize;

use super::{Observation, QuotaConfig, QuotaView, Window};

/// What an upstream response (headers, a 429 body) or a usage endpoint said about the quota.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Observe(pub Observation);

/// New quota tuning (settings edited at run time).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct SetQuotaConfig(pub QuotaConfig);

/// Returns the windows and the routing view.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "QuotaSnapshot")]
pub struct GetQuota;

/// A subject's windows and the routing view they make.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QuotaSnapshot {
    /// The windows, by name.
    pub windows: Vec<Window>,
    /// What the router makes of them.
    pub view: QuotaView,
}

/// An account's routing view changed (from its quota tracker, to the router).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct QuotaChanged {
    /// Account id.
    pub id: i64,
    /// The new view.
    pub view: QuotaView,
}

/// The account was deleted: the tracker stops its timers and never writes or tells again (it
/// ends once its last address is gone).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Retire;

/// Windows another instance wrote (several instances): adopted where newer, told to the router,
/// never written back.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct AdoptWindows(pub Vec<Window>);
