//! Backup and restore of the SQLite database: `GET /api/backup` while requests run gives a file
//! that passes SQLite's integrity check and holds a consistent snapshot; restored into a fresh data
//! directory it starts a daemon that has the same entries and serves; a restore is refused while
//! a daemon holds the database, and so are a damaged file and one made by a newer version. On
//! PostgreSQL the API says to use pg_dump.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use omnigate::backup::{self, BackupError};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use serde_json::json;

use crate::admin_write_support::post_api;
use crate::mock::MockUpstream;
use crate::support::{TestEnv, base, client, mock_config, post};

fn chat() -> serde_json::Value {
    json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hello"}]})
}

fn rows(c: &backup::Checked, table: &str) -> i64 {
    c.rows.iter().find(|(t, _)| t == table).map_or(-1, |(_, n)| *n)
}

#[actix_web::test]
async fn a_backup_taken_under_load_restores_into_a_daemon_that_serves() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let cfg = mock_config(&mock.base(), &[("a", "ka")], "");
    let app = env.start(&cfg).await;
    let get_backup = || async {
        let mut r = client()
            .get(format!("{}/api/backup", base(&app)))
            .bearer_auth(&env.admin_token)
            .send()
            .await
            .expect("send");
        let body = r.body().limit(256 << 20).await.expect("body");
        (r.status().as_u16(), body)
    };
    if !env.is_sqlite() {
        let (status, body) = get_backup().await;
        assert_eq!(status, 400);
        assert!(String::from_utf8_lossy(&body).contains("pg_dump"));
        app.stop().await;
        return;
    }
    let (s, v) = post_api(&app, &env, "/api/aliases", json!({"alias": "fast", "target": "mock/mock-model"})).await;
    assert_eq!(s, 201, "{v}");
    for _ in 0..20 {
        assert_eq!(post(&app, "/v1/chat/completions", chat()).await.status(), 200);
    }
    app.state.runtime.flush_usage().await;
    // Traffic keeps running while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (stop, served, url) = (stop.clone(), served.clone(), base(&app));
            actix_rt::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let r = client()
                        .post(format!("{url}/v1/chat/completions"))
                        .bearer_auth("sk-og-ci-0001")
                        .send_json(&chat())
                        .await;
                    if r.is_ok_and(|r| r.status() == 200) {
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    actix_rt::time::sleep(std::time::Duration::from_millis(200)).await;
    let (status, body) = get_backup().await;
    actix_rt::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for l in load {
        l.await.ok();
    }
    assert_eq!(status, 200);
    assert!(served.load(Ordering::Relaxed) > 10, "requests were served meanwhile");
    app.state.runtime.flush_usage().await;
    let live = entities::usage::Entity::find().count(&app.state.db).await.expect("count");
    // No snapshot file is left behind in the data directory.
    let left: Vec<_> = std::fs::read_dir(env.dir.path()).expect("dir").flatten().map(|e| e.file_name()).collect();
    assert!(!left.iter().any(|n| n.to_string_lossy().starts_with(".backup-")), "{left:?}");

    let out = tempfile::tempdir().expect("tempdir");
    let file = out.path().join("snap.db");
    std::fs::write(&file, &body).expect("write");
    let checked = backup::check(&file).await.expect("the backup passes the integrity check");
    let in_backup = rows(&checked, "usage");
    assert!((20..=live as i64).contains(&in_backup), "{in_backup} of {live}");
    assert_eq!(rows(&checked, "model_aliases"), 1);
    app.stop().await;

    // Restored into a fresh data directory (same master key), a daemon has the same entries and serves.
    let mut fresh = TestEnv::new().await;
    fresh.master_key = env.master_key.clone();
    let (restored, kept) = backup::restore(&file, &fresh.db_url).await.expect("restore");
    assert_eq!((restored.rows.len(), kept), (checked.rows.len(), None));
    let app = fresh.start(&cfg).await;
    assert_eq!(entities::usage::Entity::find().count(&app.state.db).await.expect("count") as i64, in_backup);
    let aliases = crate::support::admin_get(&app, &fresh, "/api/aliases").await;
    assert_eq!(aliases[0]["alias"], "fast", "{aliases}");
    let r =
        post(&app, "/v1/chat/completions", json!({"model": "fast", "messages": [{"role": "user", "content": "hi"}]}))
            .await;
    assert_eq!(r.status(), 200, "the restored account's sealed key opens with the same master key");
    // Not while a daemon holds the database.
    let busy = backup::restore(&file, &fresh.db_url).await;
    assert!(matches!(busy, Err(BackupError::InUse(_))), "{busy:?}");
    app.stop().await;
    // Afterwards it is, and the replaced file is kept.
    let (_, kept) = backup::restore(&file, &fresh.db_url).await.expect("restore again");
    assert!(kept.is_some_and(|k| k.exists()));
}

#[actix_web::test]
async fn damaged_files_and_newer_versions_are_refused_before_anything_is_replaced() {
    let env = TestEnv::new().await;
    if !env.is_sqlite() {
        return;
    }
    let app = env.start(&mock_config("http://127.0.0.1:9", &[("a", "ka")], "")).await;
    let out = tempfile::tempdir().expect("tempdir");
    let good = out.path().join("good.db");
    backup::snapshot(&app.state.db, &good).await.expect("snapshot");
    assert!(matches!(backup::snapshot(&app.state.db, &good).await, Err(BackupError::Exists(_))), "never overwritten");
    app.stop().await;
    let target = TestEnv::new().await;

    let junk = out.path().join("junk.db");
    std::fs::write(&junk, vec![7u8; 8192]).expect("write");
    let e = backup::restore(&junk, &target.db_url).await.expect_err("junk refused");
    assert!(matches!(e, BackupError::Unsound { .. }), "{e}");

    let newer = out.path().join("newer.db");
    std::fs::copy(&good, &newer).expect("copy");
    let conn = sea_orm::Database::connect(format!("sqlite://{}", newer.display())).await.expect("open");
    conn.execute_unprepared("INSERT INTO seaql_migrations (version, applied_at) VALUES ('m20991231_999999_future', 0)")
        .await
        .expect("insert");
    conn.close().await.ok();
    let e = backup::restore(&newer, &target.db_url).await.expect_err("newer refused");
    assert!(e.to_string().contains("newer Omnigate"), "{e}");
    assert!(
        !target.sqlite_file().exists() || std::fs::metadata(target.sqlite_file()).map(|m| m.len()).unwrap_or(0) == 0
    );
}

/// Runs the real binary with `args`: (exit code, stdout + stderr).
fn omnigate(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_omnigate"))
        .args(args)
        .env_remove("OMNIGATE_CONFIG")
        .env_remove("OMNIGATE_DATABASE_URL")
        .output()
        .expect("run omnigate");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[actix_web::test]
async fn the_backup_and_restore_commands_work_beside_a_running_daemon_and_refuse_a_held_database() {
    let env = TestEnv::new().await;
    if !env.is_sqlite() {
        return;
    }
    let app = env.start(&mock_config("http://127.0.0.1:9", &[("a", "ka")], "")).await;
    let out = tempfile::tempdir().expect("tempdir");
    let file = out.path().join("cli.db");
    let dir = env.dir.path().display().to_string();
    // While the daemon runs and holds its lock.
    let (code, text) = omnigate(&["backup", "--data-dir", &dir, &file.display().to_string()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("integrity check ok"), "{text}");
    let (code, text) = omnigate(&["backup", "--data-dir", &dir, &file.display().to_string()]);
    assert_ne!(code, 0, "never over an existing file: {text}");
    assert!(text.contains("exists already"), "{text}");
    // Restoring over the running daemon's database is refused.
    let (code, text) = omnigate(&["restore", "--data-dir", &dir, &file.display().to_string()]);
    assert_ne!(code, 0);
    assert!(text.contains("stop it first"), "{text}");
    app.stop().await;
    let fresh = tempfile::tempdir().expect("tempdir");
    let (code, text) =
        omnigate(&["restore", "--data-dir", &fresh.path().display().to_string(), &file.display().to_string()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("integrity check ok") && text.contains("same master key"), "{text}");
    assert!(fresh.path().join("omnigate.db").exists());
}
