//! Running as a systemd service: `omnigate service install [--user] [--print]` writes a unit
//! (`Type=notify`, a watchdog, `Restart=on-failure`, and hardening: `NoNewPrivileges`,
//! `ProtectSystem=strict` with the data directory the only writable path), and the daemon speaks
//! the sd_notify protocol itself (a datagram to `$NOTIFY_SOCKET`: `READY=1` once it serves,
//! `RELOADING=1` around a SIGHUP, `STOPPING=1`, and `WATCHDOG=1` every half `$WATCHDOG_USEC` while
//! its router answers). Without `$NOTIFY_SOCKET` every call is a no-op.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Sends `state` (newline-separated `KEY=value` lines) to the service manager, if one listens.
pub fn notify(state: &str) {
    #[cfg(unix)]
    {
        let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
        let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else { return };
        let bytes = path.as_encoded_bytes();
        let sent = if let Some(name) = bytes.strip_prefix(b"@") {
            // An abstract socket (Linux).
            #[cfg(target_os = "linux")]
            {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(name)
                    .and_then(|addr| sock.send_to_addr(state.as_bytes(), &addr))
            }
            #[cfg(not(target_os = "linux"))]
            {
                let _ = name;
                Err(std::io::Error::other("abstract sockets are Linux-only"))
            }
        } else {
            sock.send_to(state.as_bytes(), PathBuf::from(path))
        };
        if let Err(e) = sent {
            tracing::debug!(error = %e, "sd_notify failed");
        }
    }
    #[cfg(not(unix))]
    let _ = state;
}

/// The watchdog interval the service manager asked for (`$WATCHDOG_USEC`, for this process).
pub fn watchdog_every() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Some(pid) = std::env::var("WATCHDOG_PID").ok().and_then(|p| p.parse::<u32>().ok())
        && pid != std::process::id()
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// Pings the watchdog every half interval while `alive` says the daemon works.
pub fn spawn_watchdog<F, Fut>(alive: F)
where
    F: Fn() -> Fut + 'static,
    Fut: std::future::Future<Output = bool>,
{
    let Some(every) = watchdog_every() else { return };
    actix_rt::spawn(async move {
        loop {
            actix_rt::time::sleep(every).await;
            if alive().await {
                notify("WATCHDOG=1");
            } else {
                tracing::warn!("the watchdog was not fed: the router did not answer");
            }
        }
    });
}

/// Where `service install` writes the unit.
pub fn unit_path(user: bool) -> PathBuf {
    if user {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
            .unwrap_or_else(|| PathBuf::from(".config"));
        base.join("systemd/user/omnigate.service")
    } else {
        PathBuf::from("/etc/systemd/system/omnigate.service")
    }
}

/// The unit for `exe serve` with `config` (if any) and `data_dir`; `log_file`'s directory (the
/// config's `[log] file`) is writable beside the data directory.
pub fn unit(exe: &Path, config: Option<&Path>, data_dir: &Path, log_file: Option<&Path>, user: bool) -> String {
    let quote = |p: &Path| {
        let s = p.display().to_string();
        if s.contains([' ', '"', '\\']) { format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")) } else { s }
    };
    let mut exec = format!("{} serve --data-dir {}", quote(exe), quote(data_dir));
    if let Some(c) = config {
        exec.push_str(&format!(" --config {}", quote(c)));
    }
    let wanted = if user { "default.target" } else { "multi-user.target" };
    let mut writable = quote(data_dir);
    if let Some(dir) = log_file.and_then(Path::parent).filter(|d| !d.starts_with(data_dir)) {
        writable.push(' ');
        writable.push_str(&quote(dir));
    }
    format!(
        "# Written by `omnigate service install`; `omnigate service install --print` shows what it would write.\n\
         [Unit]\n\
         Description=Omnigate AI gateway\n\
         Documentation=https://github.com/omnigate/omnigate\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=notify\n\
         ExecStart={exec}\n\
         ExecReload=/bin/kill -HUP $MAINPID\n\
         Restart=on-failure\n\
         RestartSec=2\n\
         WatchdogSec=30\n\
         TimeoutStopSec=45\n\
         NoNewPrivileges=yes\n\
         ProtectSystem=strict\n\
         ReadWritePaths={writable}\n\
         PrivateTmp=yes\n\
         ProtectKernelTunables=yes\n\
         ProtectKernelModules=yes\n\
         ProtectControlGroups=yes\n\
         RestrictSUIDSGID=yes\n\
         LockPersonality=yes\n\
         \n\
         [Install]\n\
         WantedBy={wanted}\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_hardens_and_only_the_data_dir_is_writable() {
        let u = unit(
            Path::new("/usr/local/bin/omnigate"),
            Some(Path::new("/etc/omnigate.toml")),
            Path::new("/var/lib/omnigate"),
            None,
            false,
        );
        assert!(
            u.contains(
                "ExecStart=/usr/local/bin/omnigate serve --data-dir /var/lib/omnigate --config /etc/omnigate.toml\n"
            ),
            "{u}"
        );
        for line in [
            "Type=notify",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ReadWritePaths=/var/lib/omnigate",
            "Restart=on-failure",
            "WantedBy=multi-user.target",
            "ExecReload=/bin/kill -HUP $MAINPID",
        ] {
            assert!(u.lines().any(|l| l == line), "{line}: {u}");
        }
        let logged = unit(
            Path::new("/usr/local/bin/omnigate"),
            None,
            Path::new("/var/lib/omnigate"),
            Some(Path::new("/var/log/omnigate/omnigate.log")),
            false,
        );
        assert!(logged.lines().any(|l| l == "ReadWritePaths=/var/lib/omnigate /var/log/omnigate"), "{logged}");
        let spaced = unit(Path::new("/opt/my tools/omnigate"), None, Path::new("/home/a b/.omnigate"), None, true);
        assert!(
            spaced.contains("ExecStart=\"/opt/my tools/omnigate\" serve --data-dir \"/home/a b/.omnigate\"\n"),
            "{spaced}"
        );
        assert!(spaced.contains("WantedBy=default.target"));
    }
}
