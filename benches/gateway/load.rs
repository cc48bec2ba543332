//! The load generator: open-loop fixed-rate runs, closed-loop max throughput (with or without
//! sticky sessions), unloaded one-connection runs, direct-against-gateway comparisons in
//! alternating slices, time to first byte, and percentiles.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use super::{KEY, body, cpu_secs};

/// Unloaded latency: one connection, one request at a time, `rate` a second.
pub async fn unloaded(url: &str, rate: u64, secs: u64, payload: &Value) -> Vec<f64> {
    let c = awc::Client::builder().connector(awc::Connector::new().limit(1)).disable_timeout().finish();
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut lat = Vec::new();
    for _ in 0..rate * secs {
        let t = Instant::now();
        if let Ok(mut r) = c.post(url).bearer_auth(KEY).send_json(payload).await
            && r.status().is_success()
            && r.body().limit(1 << 20).await.is_ok()
        {
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        actix_rt::time::sleep(interval.saturating_sub(t.elapsed())).await;
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    lat
}

pub fn client() -> awc::Client {
    awc::Client::builder().connector(awc::Connector::new().limit(0)).disable_timeout().finish()
}

pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub struct RunStats {
    pub lat_ms: Vec<f64>,
    pub errors: usize,
    pub elapsed: f64,
}

/// Open-loop load at a fixed rate; latency from each request's scheduled time.
pub async fn fixed_rate(url: &str, rate: u64, secs: u64, payload: &Value) -> RunStats {
    let c = client();
    let lat = Rc::new(RefCell::new(Vec::with_capacity((rate * secs) as usize)));
    let errors = Rc::new(RefCell::new(0usize));
    let n = rate * secs;
    let start = tokio::time::Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tasks = Vec::with_capacity(n as usize);
    for i in 0..n {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due).await;
        let (c, lat, errors, url, payload) = (c.clone(), lat.clone(), errors.clone(), url.to_string(), payload.clone());
        tasks.push(actix_rt::spawn(async move {
            let ok = match c.post(url).bearer_auth(KEY).send_json(&payload).await {
                Ok(mut r) => r.status().is_success() && r.body().limit(1 << 20).await.is_ok(),
                Err(_) => false,
            };
            if ok {
                lat.borrow_mut().push(due.elapsed().as_secs_f64() * 1000.0);
            } else {
                *errors.borrow_mut() += 1;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut v = lat.borrow().clone();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let errors = *errors.borrow();
    RunStats { lat_ms: v, errors, elapsed: start.elapsed().as_secs_f64() }
}

/// Slices a comparison is cut into: direct and through the gateway alternate, so a slow phase of
/// this VM (its loopback latency is bimodal) falls on both sides alike.
pub const SLICES: u64 = 4;

/// [`fixed_rate`] against the direct URL and the gateway's in alternating slices of `secs`:
/// `(direct, gateway, the gateway's CPU µs per request)`.
pub async fn paired(
    direct: (&str, &Value),
    gateway: (&str, &Value),
    rate: u64,
    secs: u64,
    pid: u32,
) -> (RunStats, RunStats, f64) {
    let slice = (secs / SLICES).max(1);
    let empty = || RunStats { lat_ms: Vec::new(), errors: 0, elapsed: 0.0 };
    let (mut d, mut g, mut cpu) = (empty(), empty(), 0.0);
    for _ in 0..SLICES {
        for through_gateway in [false, true] {
            let (url, payload) = if through_gateway { gateway } else { direct };
            let cpu0 = cpu_secs(pid);
            let r = fixed_rate(url, rate, slice, payload).await;
            let side = if through_gateway {
                cpu += cpu_secs(pid) - cpu0;
                &mut g
            } else {
                &mut d
            };
            side.lat_ms.extend(r.lat_ms);
            side.errors += r.errors;
            side.elapsed += r.elapsed;
        }
    }
    for side in [&mut d, &mut g] {
        side.lat_ms.sort_by(f64::total_cmp);
    }
    let cpu_us = cpu * 1e6 / g.lat_ms.len().max(1) as f64;
    (d, g, cpu_us)
}

/// [`unloaded`] the same way: `(direct, gateway)` latencies, sorted.
pub async fn paired_unloaded(direct: &str, gateway: &str, secs: u64) -> (Vec<f64>, Vec<f64>) {
    let slice = (secs / SLICES).max(1);
    let (mut d, mut g) = (Vec::new(), Vec::new());
    for _ in 0..SLICES {
        d.extend(unloaded(direct, 20, slice, &body(false)).await);
        g.extend(unloaded(gateway, 20, slice, &body(false)).await);
    }
    d.sort_by(f64::total_cmp);
    g.sort_by(f64::total_cmp);
    (d, g)
}

/// Closed-loop load with `conc` connections for `secs`: completed requests per second.
pub async fn max_throughput(url: &str, conc: usize, secs: u64, payload: &Value) -> (f64, usize) {
    max_throughput_with(url, conc, secs, payload, Sessions::None).await
}

/// Which sticky session (`X-Session-Id`) each request of a load names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Sessions {
    None,
    /// One per connection, as a coding tool's session.
    PerConnection,
    /// A new one every request.
    PerRequest,
}

/// The same, each request naming a session as `sessions` says.
pub async fn max_throughput_with(
    url: &str,
    conc: usize,
    secs: u64,
    payload: &Value,
    sessions: Sessions,
) -> (f64, usize) {
    static RUN: AtomicUsize = AtomicUsize::new(0);
    let run = RUN.fetch_add(1, Ordering::Relaxed);
    let c = client();
    let done = Rc::new(RefCell::new((0usize, 0usize)));
    let stop = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let tasks: Vec<_> = (0..conc)
        .map(|conn| {
            let (c, done, url, payload) = (c.clone(), done.clone(), url.to_string(), payload.clone());
            actix_rt::spawn(async move {
                let mut n = 0usize;
                while Instant::now() < stop {
                    n += 1;
                    let mut req = c.post(&url).bearer_auth(KEY);
                    match sessions {
                        Sessions::None => {}
                        Sessions::PerConnection => req = req.insert_header(("x-session-id", format!("s{run}-{conn}"))),
                        Sessions::PerRequest => req = req.insert_header(("x-session-id", format!("s{run}-{conn}-{n}"))),
                    }
                    let ok = match req.send_json(&payload).await {
                        Ok(mut r) => r.status().is_success() && r.body().limit(1 << 20).await.is_ok(),
                        Err(_) => false,
                    };
                    let mut d = done.borrow_mut();
                    if ok { d.0 += 1 } else { d.1 += 1 }
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let (ok, err) = *done.borrow();
    (ok as f64 / start.elapsed().as_secs_f64(), err)
}

/// Time to the first body byte of `n` sequential streaming requests, in ms (sorted).
pub async fn ttfb(url: &str, n: usize) -> Vec<f64> {
    ttfb_with(url, n, &body(true)).await
}

/// The same with a given body.
pub async fn ttfb_with(url: &str, n: usize, payload: &Value) -> Vec<f64> {
    let c = client();
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let mut r = c.post(url).bearer_auth(KEY).send_json(payload).await.expect("stream");
        let first = r.next().await;
        assert!(matches!(first, Some(Ok(_))));
        v.push(t.elapsed().as_secs_f64() * 1000.0);
        while r.next().await.is_some() {}
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v
}

pub fn summary(name: &str, s: &RunStats) -> Value {
    json!({"name": name, "n": s.lat_ms.len(), "errors": s.errors, "p50_ms": pct(&s.lat_ms, 0.5), "p99_ms": pct(&s.lat_ms, 0.99),
           "achieved_rps": s.lat_ms.len() as f64 / s.elapsed})
}
