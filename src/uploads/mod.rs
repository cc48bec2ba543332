//! Multipart uploads (`/v1/audio/transcriptions`, `/v1/audio/translations`, `/v1/images/edits`):
//! a client form read once (`intake`), its small text fields kept in memory and its files spooled
//! to temporary files, and for every attempt a freshly encoded `multipart/form-data` body streamed
//! from those files with `model` rewritten (`Form::encoded`). It never holds a file whole in
//! memory, and the spooled files go with the last reference to the form, whichever way the
//! request ends. It knows nothing of routing or providers.

pub mod intake;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use actors::executor::BodySource;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::stream::LocalBoxStream;
use tokio::io::AsyncReadExt;

use crate::protocol::raw::RawObject;

/// Chunks a spooled file is read in.
const READ_CHUNK: usize = 64 * 1024;

/// The files of one request, removed when it is dropped.
#[derive(Debug, Default)]
pub struct Spool {
    files: Vec<PathBuf>,
}

impl Spool {
    /// Takes charge of `path` (before the file is created: a drop in between removes nothing).
    pub fn own(&mut self, path: PathBuf) {
        self.files.push(path);
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        for f in &self.files {
            // Already gone (never created, or removed by a sweep) is fine.
            let _ = std::fs::remove_file(f);
        }
    }
}

/// One part of a form, in the client's order.
#[derive(Debug)]
pub enum PartBody {
    /// A text field (bounded in size when read).
    Text(String),
    /// A file, spooled.
    File {
        /// Where it is spooled.
        path: PathBuf,
        /// Its size in bytes.
        len: u64,
        /// The client's file name (sanitised for a header).
        filename: String,
        /// The client's content type, if it gave one.
        content_type: Option<String>,
    },
}

/// A named part.
#[derive(Debug)]
pub struct Part {
    /// The field name (`file`, `image[]`, `timestamp_granularities[]`, ...).
    pub name: String,
    /// Its content.
    pub body: PartBody,
}

/// A client's form, read and spooled.
#[derive(Debug)]
pub struct Form {
    /// The parts, in order.
    pub parts: Vec<Part>,
    /// Owns the spooled files.
    _spool: Spool,
}

impl Form {
    /// A form of `parts` whose files `spool` owns.
    pub fn new(parts: Vec<Part>, spool: Spool) -> Self {
        Self { parts, _spool: spool }
    }

    /// The first text field called `name`.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.parts.iter().find_map(|p| match &p.body {
            PartBody::Text(t) if p.name == name => Some(t.as_str()),
            _ => None,
        })
    }

    /// How many file parts are called one of `names`.
    pub fn files(&self, names: &[&str]) -> usize {
        self.parts
            .iter()
            .filter(|p| matches!(p.body, PartBody::File { .. }) && names.contains(&p.name.as_str()))
            .count()
    }

    /// The text fields as a JSON object of strings (what the pipeline reads of a body: `model`,
    /// `stream`, session markers); a repeated field keeps its last value.
    pub fn as_object(&self) -> RawObject {
        let mut o = RawObject::default();
        for p in &self.parts {
            if let PartBody::Text(t) = &p.body {
                o.set(&p.name, t);
            }
        }
        o
    }

    /// The body of one attempt: this form with `model` set to `model`, as `multipart/form-data`
    /// under a new boundary. Answers the body and its `Content-Type`.
    pub fn encoded(self: &Arc<Self>, model: &str) -> (Arc<dyn BodySource>, String) {
        let boundary = format!("omnigate-{}", uuid::Uuid::new_v4().simple());
        let mut segments = Vec::with_capacity(self.parts.len() * 2 + 1);
        let mut head = BytesMut::new();
        for p in &self.parts {
            head.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match &p.body {
                PartBody::Text(t) => {
                    let value = if p.name == "model" { model } else { t.as_str() };
                    head.extend_from_slice(disposition(&p.name, None).as_bytes());
                    head.extend_from_slice(b"\r\n");
                    head.extend_from_slice(value.as_bytes());
                    head.extend_from_slice(b"\r\n");
                }
                PartBody::File { path, len, filename, content_type } => {
                    head.extend_from_slice(disposition(&p.name, Some(filename)).as_bytes());
                    let ct = content_type.as_deref().unwrap_or("application/octet-stream");
                    head.extend_from_slice(format!("Content-Type: {ct}\r\n\r\n").as_bytes());
                    segments.push(Segment::Bytes(head.split().freeze()));
                    segments.push(Segment::File { path: path.clone(), len: *len });
                    head.extend_from_slice(b"\r\n");
                }
            }
        }
        head.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        segments.push(Segment::Bytes(head.freeze()));
        let len = segments.iter().map(Segment::len).sum();
        let source = Encoded { segments, len, _form: Arc::clone(self) };
        (Arc::new(source), format!("multipart/form-data; boundary={boundary}"))
    }
}

/// A `Content-Disposition` header line (with its CRLF) for a part. Quotes, CR and LF in names
/// are percent-encoded as browsers do (WHATWG HTML, "multipart/form-data encoding algorithm").
fn disposition(name: &str, filename: Option<&str>) -> String {
    let esc = |s: &str| s.replace('"', "%22").replace('\r', "%0D").replace('\n', "%0A");
    match filename {
        Some(f) => format!("Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\n", esc(name), esc(f)),
        None => format!("Content-Disposition: form-data; name=\"{}\"\r\n", esc(name)),
    }
}

/// A piece of an encoded body.
#[derive(Debug, Clone)]
enum Segment {
    Bytes(Bytes),
    File { path: PathBuf, len: u64 },
}

impl Segment {
    fn len(&self) -> u64 {
        match self {
            Self::Bytes(b) => b.len() as u64,
            Self::File { len, .. } => *len,
        }
    }
}

/// An encoded form, readable once per attempt; holds the form (and so its files) alive.
struct Encoded {
    segments: Vec<Segment>,
    len: u64,
    _form: Arc<Form>,
}

impl BodySource for Encoded {
    fn len(&self) -> u64 {
        self.len
    }

    fn open(&self) -> LocalBoxStream<'static, Result<Bytes, std::io::Error>> {
        let segments = self.segments.clone();
        futures_util::stream::iter(segments)
            .flat_map(|s| match s {
                Segment::Bytes(b) => futures_util::stream::once(async move { Ok(b) }).boxed_local(),
                Segment::File { path, len } => file_stream(path, len),
            })
            .boxed_local()
    }
}

/// The first `len` bytes of the file at `path`, in chunks; a shorter file is an error (the
/// upstream must never get fewer bytes than the `Content-Length` sent).
fn file_stream(path: PathBuf, len: u64) -> LocalBoxStream<'static, Result<Bytes, std::io::Error>> {
    struct State {
        path: PathBuf,
        file: Option<tokio::fs::File>,
        left: u64,
        done: bool,
    }
    let state = State { path, file: None, left: len, done: false };
    futures_util::stream::unfold(state, |mut st| async move {
        if st.done || st.left == 0 {
            return None;
        }
        let file = match st.file.as_mut() {
            Some(f) => f,
            None => match tokio::fs::File::open(&st.path).await {
                Ok(f) => st.file.insert(f),
                Err(e) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
            },
        };
        let want = usize::try_from(st.left.min(READ_CHUNK as u64)).unwrap_or(READ_CHUNK);
        let mut buf = BytesMut::with_capacity(want);
        match file.read_buf(&mut buf).await {
            Ok(0) => {
                st.done = true;
                Some((Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)), st))
            }
            Ok(n) => {
                let n = (n as u64).min(st.left);
                buf.truncate(usize::try_from(n).unwrap_or(0));
                st.left -= n;
                Some((Ok(buf.freeze()), st))
            }
            Err(e) => {
                st.done = true;
                Some((Err(e), st))
            }
        }
    })
    .boxed_local()
}

/// Where uploads are spooled: `<data dir>/uploads`.
pub fn spool_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("uploads")
}

/// Removes what an earlier run left in the spool directory (a crash skips the drops): spool
/// files untouched for an hour (another instance sharing the directory may be spooling now).
/// Called at start-up.
pub fn sweep(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let hour = std::time::Duration::from_secs(3600);
    for e in entries.flatten() {
        let stale = e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|a| a > hour));
        if stale && e.file_name().to_string_lossy().starts_with(intake::PREFIX) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn a_form_is_encoded_with_its_model_rewritten_and_its_file_streamed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("og-upload-test");
        std::fs::write(&path, b"RIFF....WAVE").unwrap_or_else(|e| panic!("{e}"));
        let mut spool = Spool::default();
        spool.own(path.clone());
        let parts = vec![
            Part { name: "model".into(), body: PartBody::Text("alias".into()) },
            Part {
                name: "file".into(),
                body: PartBody::File {
                    path: path.clone(),
                    len: 12,
                    filename: "a\"b.wav".into(),
                    content_type: Some("audio/wav".into()),
                },
            },
            Part { name: "language".into(), body: PartBody::Text("en".into()) },
        ];
        let form = Arc::new(Form::new(parts, spool));
        let (source, ct) = form.encoded("whisper-1");
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap_or_default().to_string();
        let chunks: Vec<Result<Bytes, std::io::Error>> = source.open().collect().await;
        let body: Vec<u8> = chunks.into_iter().flat_map(|c| c.unwrap_or_default().to_vec()).collect();
        assert_eq!(body.len() as u64, source.len());
        let text = String::from_utf8_lossy(&body).into_owned();
        let want = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a%22b.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF....WAVE\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"language\"\r\n\r\nen\r\n--{boundary}--\r\n"
        );
        assert_eq!(text, want);
        // A second attempt reads it again from the start.
        let again: Vec<Result<Bytes, std::io::Error>> = source.open().collect().await;
        assert_eq!(again.into_iter().map(|c| c.map(|b| b.len()).unwrap_or(0)).sum::<usize>(), body.len());
        drop(source);
        assert!(path.exists(), "the form still holds it");
        drop(form);
        assert!(!path.exists(), "the last reference removes the spooled file");
    }

    #[test]
    fn the_start_up_sweep_removes_only_stale_spool_files() {
        let dir = tempfile::tempdir().unwrap();
        let make = |name: &str, age: u64| {
            let p = dir.path().join(name);
            let f = std::fs::File::create(&p).unwrap();
            f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(age)).unwrap();
            p
        };
        let stale = make("og-upload-old", 7200);
        let fresh = make("og-upload-new", 10);
        let other = make("notes.txt", 7200);
        sweep(dir.path());
        assert!(!stale.exists());
        assert!(fresh.exists(), "another instance may be spooling it now");
        assert!(other.exists(), "not ours");
    }
}
