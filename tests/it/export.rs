//! `GET /api/usage/export`: every row of a time range, streamed across pages, read back as a
//! spreadsheet or a billing script would (an RFC 4180 reader, JSON lines); bad parameters are a
//! 400 naming them; it needs the admin token.

use sea_orm::{EntityTrait, Set};
use serde_json::Value;

use crate::support::{TestEnv, base, client, mock_config};

/// A usage row at `ts`, written straight to the database.
fn row(ts: i64, error: Option<&str>) -> entities::usage::ActiveModel {
    entities::usage::ActiveModel {
        ts: Set(ts),
        request_id: Set(format!("req-{ts}")),
        key_name: Set(Some("ci".into())),
        client_dialect: Set("openai-chat".into()),
        provider: Set(Some("mock".into())),
        account: Set(Some("a".into())),
        model: Set("mock/mock-model".into()),
        status: Set(if error.is_some() { 502 } else { 200 }),
        error: Set(error.map(str::to_string)),
        input_tokens: Set(10),
        output_tokens: Set(ts % 7),
        cache_read_tokens: Set(0),
        cache_write_tokens: Set(0),
        reasoning_tokens: Set(0),
        total_tokens: Set(10 + ts % 7),
        cost_usd: Set(Some(0.001)),
        list_cost_usd: Set(None),
        cost_source: Set("priced".into()),
        latency_ms: Set(12),
        ttfb_ms: Set(None),
        streamed: Set(false),
        attempts: Set(1),
        ..Default::default()
    }
}

async fn get(app: &omnigate::app::Running, token: Option<&str>, query: &str) -> (u16, String, String) {
    let mut req = client().get(format!("{}/api/usage/export{query}", base(app)));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let mut r = req.send().await.expect("send");
    let mime = crate::support::header(&r, "content-type");
    let body = r.body().limit(64 << 20).await.expect("body");
    (r.status().as_u16(), mime, String::from_utf8_lossy(&body).into_owned())
}

#[actix_web::test]
async fn usage_rows_export_as_csv_and_json_lines_across_pages() {
    let env = TestEnv::new().await;
    let app = env.start(&mock_config("http://127.0.0.1:9", &[("a", "k")], "")).await;
    let t0 = 1_700_000_000_000i64;
    let tricky = "upstream said: \"no, really\"\nsecond line";
    let rows: Vec<_> = (0..2345).map(|i| row(t0 + i, (i == 7).then_some(tricky))).collect();
    for chunk in rows.chunks(500) {
        entities::usage::Entity::insert_many(chunk.to_vec()).exec(&app.state.db).await.expect("seed");
    }
    let token = env.admin_token.clone();

    // CSV: a header of the table's columns, every row once, the tricky field intact.
    let (status, mime, text) = get(&app, Some(&token), "").await;
    assert_eq!((status, mime.as_str()), (200, "text/csv; charset=utf-8"));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader.headers().expect("header").iter().map(str::to_string).collect();
    for c in [
        "id",
        "ts",
        "request_id",
        "key_name",
        "provider",
        "model",
        "status",
        "error",
        "input_tokens",
        "cost_usd",
        "cost_source",
    ] {
        assert!(headers.iter().any(|h| h == c), "{c} in {headers:?}");
    }
    let at = |name: &str| headers.iter().position(|h| h == name).unwrap_or(usize::MAX);
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a valid CSV record")).collect();
    assert_eq!(records.len(), 2345, "every row, across three pages");
    let ids: std::collections::BTreeSet<&str> = records.iter().map(|r| &r[at("request_id")]).collect();
    assert_eq!(ids.len(), 2345, "no row twice");
    let odd = records.iter().find(|r| &r[at("ts")] == (t0 + 7).to_string().as_str()).expect("row 7");
    assert_eq!((&odd[at("error")], &odd[at("status")]), (tricky, "502"));
    assert_eq!(&records[0][at("ttfb_ms")], "", "a null is an empty field");

    // A time range, as JSON lines.
    let q = format!("?since={}&until={}&format=jsonl", t0 + 100, t0 + 1600);
    let (status, mime, text) = get(&app, Some(&token), &q).await;
    assert_eq!((status, mime.as_str()), (200, "application/x-ndjson"));
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
    assert_eq!(lines.len(), 1500);
    assert_eq!((lines[0]["ts"].as_i64(), lines[1499]["ts"].as_i64()), (Some(t0 + 100), Some(t0 + 1599)));
    assert_eq!(lines[0]["output_tokens"].as_i64(), Some((t0 + 100) % 7));

    // Bad parameters name themselves; the export is the admin's.
    for (q, name) in [
        ("?format=xml", "format"),
        ("?since=soon", "since"),
        ("?since=2000&until=1000", "until"),
        ("?limit=3", "limit"),
    ] {
        let (status, _, text) = get(&app, Some(&token), q).await;
        assert_eq!(status, 400, "{q}: {text}");
        assert!(text.contains(name), "{q}: {text}");
    }
    assert_eq!(get(&app, None, "").await.0, 401);
    app.stop().await;
}
