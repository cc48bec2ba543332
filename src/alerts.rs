//! Budget warnings leave the request path here: each 80 % crossing (`limits::Warning`) is posted
//! as JSON to `[budgets] webhook` when one is set, retried with backoff (1 s, 2 s, 4 s, 8 s) on a
//! connection failure or a non-2xx answer, then given up with a log line. Requests never wait for
//! it; a slow receiver only delays the warnings behind it.

use std::time::Duration;

use crate::limits::Warning;

/// Attempts per warning.
const ATTEMPTS: u32 = 5;

/// Starts the task that posts the warnings `rx` receives to `webhook`.
pub fn spawn(webhook: Option<String>, mut rx: tokio::sync::mpsc::UnboundedReceiver<Warning>) {
    actix_rt::spawn(async move {
        let client = awc::Client::builder().timeout(Duration::from_secs(10)).finish();
        while let Some(w) = rx.recv().await {
            let Some(url) = webhook.as_deref() else { continue };
            let body = serde_json::json!({
                "event": "budget.warning",
                "holder": w.holder.as_str(),
                "name": w.name,
                "spent_usd": w.spent_usd,
                "budget_usd": w.budget_usd,
                "period": w.period.as_str(),
                "resets_at": w.resets_at,
            });
            let mut wait = Duration::from_secs(1);
            for attempt in 1..=ATTEMPTS {
                match client.post(url).send_json(&body).await {
                    Ok(r) if r.status().is_success() => break,
                    Ok(r) => {
                        tracing::warn!(status = r.status().as_u16(), attempt, "the budget webhook refused a warning")
                    }
                    Err(e) => tracing::warn!(error = %e, attempt, "the budget webhook is unreachable"),
                }
                if attempt == ATTEMPTS {
                    tracing::error!(name = %w.name, "a budget warning could not be delivered to the webhook");
                    break;
                }
                actix_rt::time::sleep(wait).await;
                wait *= 2;
            }
        }
    });
}
