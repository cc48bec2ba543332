//! What `/proc` tells of the gateway process (CPU time, resident memory) and of the machine, and
//! when and on which commit a run was measured.

use std::process::Command;

use serde_json::{Value, json};

/// Resident set size of a process, in MiB.
pub fn rss_mib(pid: u32) -> f64 {
    status_mib(pid, &["VmRSS:"])
}

/// The sum of `/proc/<pid>/status` fields (kB), in MiB.
pub fn status_mib(pid: u32, fields: &[&str]) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |name: &str| {
        s.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
    };
    fields.iter().filter_map(|f| kb(f)).sum::<f64>() / 1024.0
}

/// Resident memory of a process split as `(anonymous, file-backed)` MiB: the process's own
/// memory, and the pages of its executable and libraries it has touched (shared, clean, given
/// back under memory pressure).
pub fn rss_split_mib(pid: u32) -> (f64, f64) {
    (status_mib(pid, &["RssAnon:"]), status_mib(pid, &["RssFile:", "RssShmem:"]))
}

/// The machine the figures were measured on, for `results.json`.
pub fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model =
        cpuinfo.lines().find_map(|l| l.strip_prefix("model name")).map(|v| v.trim_start_matches([' ', '\t', ':']));
    let mem_kb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
    });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    json!({
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "cpu_model": model,
        "mem_gib": mem_kb.map(|k| (k as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0),
        "kernel": kernel.trim(),
        "measured_at_unix": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
    })
}

/// When and on which commit the figures were measured, for `results.json`.
pub fn measured() -> Value {
    let run = |args: &[&str]| {
        Command::new(args[0])
            .args(&args[1..])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    json!({
        "date": run(&["date", "-u", "+%F"]),
        "commit": run(&["git", "rev-parse", "--short", "HEAD"]),
        "dirty": run(&["git", "status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty()),
    })
}

/// User + system CPU time of a process (and its threads), in seconds.
pub fn cpu_secs(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = s.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields after the command: state is index 0, utime is 11, stime is 12 (stat fields 14, 15).
    let tick = 100.0;
    let u: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let st: f64 = f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    (u + st) / tick
}
