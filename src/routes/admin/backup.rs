//! `GET /api/backup`: a consistent snapshot of the SQLite database while traffic runs
//! (`backup::snapshot`), streamed as a download and deleted once sent. On PostgreSQL it is a 400
//! pointing at `pg_dump`.

use std::io::Read;
use std::path::PathBuf;

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;

use super::{fail, guarded};
use crate::backup::{self, BackupError};
use crate::error::GatewayError;
use crate::state::AppState;

/// Bytes read per chunk of the download.
const CHUNK: usize = 256 * 1024;

/// The snapshot file, removed when the download ends (or its client leaves).
struct Spool {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl Drop for Spool {
    fn drop(&mut self) {
        self.file = None;
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn next_chunk(mut s: Spool) -> Option<(Result<Bytes, std::io::Error>, Spool)> {
    let mut file = s.file.take()?;
    let read = web::block(move || {
        let mut buf = vec![0u8; CHUNK];
        let n = file.read(&mut buf)?;
        buf.truncate(n);
        Ok::<_, std::io::Error>((buf, file))
    })
    .await;
    match read {
        Ok(Ok((buf, _))) if buf.is_empty() => None,
        Ok(Ok((buf, file))) => {
            s.file = Some(file);
            Some((Ok(Bytes::from(buf)), s))
        }
        Ok(Err(e)) => Some((Err(e), s)),
        Err(_) => Some((Err(std::io::Error::other("the backup reader stopped")), s)),
    }
}

/// `GET /api/backup`
pub(super) async fn download(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    let now = crate::store::now_ms();
    let path = state.config.data_dir().join(format!(".backup-{now}-{}.db", std::process::id()));
    let bytes = match backup::snapshot(&state.db, &path).await {
        Ok(n) => n,
        Err(e @ BackupError::NotSqlite) => return fail(GatewayError::BadRequest(e.to_string())),
        Err(e) => {
            tracing::error!(error = %e, "backup failed");
            return fail(GatewayError::Internal("the backup failed; see the log".into()));
        }
    };
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            tracing::error!(error = %e, "backup file unreadable");
            return fail(GatewayError::Internal("the backup failed; see the log".into()));
        }
    };
    tracing::info!(bytes, "backup sent");
    let spool = Spool { path, file: Some(file) };
    HttpResponse::Ok()
        .content_type("application/vnd.sqlite3")
        .no_chunking(bytes)
        .insert_header(("content-disposition", format!("attachment; filename=\"omnigate-{now}.db\"")))
        .streaming(futures_util::stream::unfold(spool, next_chunk))
}
