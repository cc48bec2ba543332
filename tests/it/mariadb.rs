//! MariaDB's own start-up errors, against the real test server: a URL that names no database or
//! no server, and a database in another character set than utf8mb4, each refused with a message
//! that says what to do (never a panic). MariaDB only (`OG_TEST_MYSQL`): `#[ignore]`d in a plain
//! run, run in `scripts/test`'s MariaDB pass and named for the others.

use omnigate::db::{self, DbError};
use sea_orm::ConnectionTrait;

use crate::support::mysql_admin_url;

fn admin() -> String {
    mysql_admin_url().expect("this test is of MariaDB: set OG_TEST_MYSQL (scripts/test runs it in its MariaDB pass)")
}

#[ignore = "needs MariaDB (OG_TEST_MYSQL): scripts/test runs it in its MariaDB pass"]
#[actix_web::test]
async fn wrong_urls_and_a_latin1_database_are_refused_saying_what_to_do() {
    let base = admin().trim_end_matches('/').to_string();

    // No database in the URL.
    let err = db::connect(&format!("{base}/"), 1, false).await.expect_err("no database named");
    assert!(matches!(err, DbError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("names no database"), "{err}");

    // No server there: the PostgreSQL-style connect error, password redacted.
    let err = db::connect("mariadb://u:secret@127.0.0.1:1/og", 1, false).await.expect_err("nothing listens");
    assert!(matches!(err, DbError::Connect { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with("cannot connect to mariadb://u:***@127.0.0.1:1/og"), "{text}");
    assert!(!text.contains("secret"), "{text}");

    // A malformed URL is an error, not a panic in the driver.
    let err = db::connect("mysql://root@127.0.0.1:notaport/og", 1, false).await.expect_err("bad port");
    assert!(matches!(err, DbError::Connect { .. }), "{err:?}");

    // A database made in latin1: refused before any migration, naming the fix.
    let name = format!("og_{}", uuid::Uuid::new_v4().simple());
    let conn = sea_orm::Database::connect(format!("{base}/")).await.expect("connect");
    conn.execute_unprepared(&format!("CREATE DATABASE {name} CHARACTER SET latin1")).await.expect("create");
    let err = db::open(&format!("{base}/{name}"), 1).await.expect_err("latin1");
    assert!(err.to_string().contains("utf8mb4"), "{err}");
    let tables = conn
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::MySql,
            format!("SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = '{name}'"),
        ))
        .await
        .expect("count")
        .and_then(|r| r.try_get::<i64>("", "n").ok());
    assert_eq!(tables, Some(0), "nothing was created in it");

    // The same URL spelled mariadb:// or mysql:// opens a utf8mb4 database.
    let url = crate::support::fresh_mysql_database(&admin()).await;
    let d = db::open(&url.replacen("mysql://", "mariadb://", 1), 1).await.expect("mariadb:// opens");
    assert_eq!(d.backend, db::Backend::MySql);
    d.close().await;
    conn.close().await.ok();
}
