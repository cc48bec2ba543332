//! Subscription accounts end to end: the real daemon, our mock upstream (which refuses what each
//! subscription endpoint refuses) and our mock OAuth server. `World` holds the three; each
//! scenario runs once per provider (`per_provider!`).

pub mod flows;
pub mod lifecycle;
pub mod quota;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use omnigate::app::Running;
use serde_json::{Value, json};

use crate::mock::MockUpstream;
use crate::mock::oauth::MockOAuth;
use crate::support::{self, TestEnv};

/// One subscription provider as the tests drive it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sub {
    /// Catalog id.
    pub provider: &'static str,
    /// Its prefix (and the mocks' path prefix).
    pub prefix: &'static str,
    /// A model it serves.
    pub model: &'static str,
}

pub const CC: Sub = Sub { provider: "claude-code", prefix: "cc", model: "claude-sonnet-4-5" };
pub const CX: Sub = Sub { provider: "codex", prefix: "cx", model: "gpt-5.5" };
pub const GC: Sub = Sub { provider: "gemini-cli", prefix: "gc", model: "gemini-2.5-pro" };
pub const GH: Sub = Sub { provider: "github-copilot", prefix: "gh", model: "gpt-4.1" };
pub const QW: Sub = Sub { provider: "qwen-code", prefix: "qw", model: "coder-model" };

/// Runs a scenario `fn name(sub: Sub)` as one test per provider.
#[macro_export]
macro_rules! per_provider {
    ($scenario:ident) => {
        mod $scenario {
            #[actix_rt::test]
            async fn claude_code() {
                super::$scenario($crate::subs::CC).await
            }
            #[actix_rt::test]
            async fn codex() {
                super::$scenario($crate::subs::CX).await
            }
            #[actix_rt::test]
            async fn gemini_cli() {
                super::$scenario($crate::subs::GC).await
            }
            #[actix_rt::test]
            async fn github_copilot() {
                super::$scenario($crate::subs::GH).await
            }
            #[actix_rt::test]
            async fn qwen_code() {
                super::$scenario($crate::subs::QW).await
            }
        }
    };
}

/// What every log line of this test binary went to (to prove no token is ever logged).
#[derive(Clone, Default)]
pub struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs (once) a global subscriber writing our crates' logs down to TRACE into a buffer.
pub fn logs() -> LogBuf {
    static BUF: OnceLock<LogBuf> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = LogBuf::default();
        let w = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info,omnigate=trace,actors=trace"))
            .with_writer(move || w.clone())
            .with_ansi(false)
            .try_init();
        buf
    })
    .clone()
}

impl LogBuf {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The daemon's environment, the mock upstream and the mock OAuth server.
pub struct World {
    pub env: TestEnv,
    pub upstream: MockUpstream,
    pub oauth: MockOAuth,
}

/// RFC 3339 of a time `ms` from now.
pub fn at(ms_from_now: i64) -> String {
    let t = omnigate::store::now_ms() + ms_from_now;
    chrono_like(t)
}

fn chrono_like(ms: i64) -> String {
    // Civil-from-days (Howard Hinnant), to write RFC 3339 without a date crate in the tests.
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

impl World {
    /// A fresh environment and both mocks; Copilot's exchange and Qwen's tokens name the mock
    /// upstream's `/gh` and `/qw` as their API.
    pub async fn new() -> Self {
        logs();
        let env = TestEnv::new().await;
        let upstream = MockUpstream::start().await;
        let oauth = MockOAuth::start().await;
        *oauth.state.copilot_api.lock().unwrap() = format!("http://{}/gh", upstream.addr);
        *oauth.state.qwen_resource.lock().unwrap() = format!("http://{}/qw", upstream.addr);
        Self { env, upstream, oauth }
    }

    /// The account's base URL override, for providers whose API is not named by their tokens.
    pub fn base_url(&self, s: Sub) -> Option<String> {
        let u = self.upstream.addr;
        match s.prefix {
            "cc" => Some(format!("http://{u}/cc/v1")),
            "cx" => Some(format!("http://{u}/cx/backend-api/codex")),
            "gc" => Some(format!("http://{u}/gc/v1internal")),
            _ => None,
        }
    }

    /// The token endpoint override.
    pub fn token_url(&self, s: Sub) -> String {
        match s.prefix {
            "gh" => format!("{}/copilot_internal/v2/token", self.oauth.url("gh")),
            p => format!("{}/token", self.oauth.url(p)),
        }
    }

    /// A config account of `s` seeded with these tokens (the refresh token made valid at the
    /// mock OAuth server).
    pub fn account(&self, s: Sub, name: &str, access: &str, refresh: &str, expires_in_ms: i64) -> String {
        self.oauth.grant_refresh(refresh);
        let u = self.upstream.addr;
        let extra = match s.prefix {
            "cx" => ", extra = { account_id = \"acct-seed\" }".to_string(),
            "gc" => ", extra = { project = \"proj-seed\" }".to_string(),
            // What their tokens name as the API (the official files hold it too).
            "gh" => format!(", extra = {{ api_base = \"http://{u}/gh\" }}"),
            "qw" => format!(", extra = {{ resource_url = \"http://{u}/qw\" }}"),
            _ => String::new(),
        };
        let base = self.base_url(s).map(|b| format!("base_url = \"{b}\"\n")).unwrap_or_default();
        format!(
            "\n[[accounts]]\nprovider = \"{p}\"\nname = \"{name}\"\n{base}oauth = {{ access_token = \"{access}\", refresh_token = \"{refresh}\", expires_at = \"{exp}\", token_url = \"{tu}\", usage_url = \"{uu}/usage\"{extra} }}\n",
            p = s.provider,
            exp = at(expires_in_ms),
            tu = self.token_url(s),
            uu = self.oauth.url(s.prefix),
        )
    }

    /// The gateway key and `accounts`, with `extra` sections first.
    pub fn config(&self, extra: &str, accounts: &str) -> String {
        format!("{extra}\n[usage]\nquota_poll_secs = 0\n\n[[keys]]\nname = \"ci\"\nkey = \"sk-og-ci-0001\"\n{accounts}")
    }

    /// Starts the daemon with `text`.
    pub async fn start(&self, text: &str) -> Running {
        self.env.start(text).await
    }

    /// Requests to the mock upstream under `s`'s prefix (Code Assist's discovery calls left out).
    pub fn upstream_calls(&self, s: Sub) -> Vec<crate::mock::Recorded> {
        self.upstream
            .requests()
            .into_iter()
            .filter(|r| {
                r.path.starts_with(&format!("/{}/", s.prefix)) || r.path.starts_with(&format!("/{}:", s.prefix))
            })
            .filter(|r| {
                !r.path.contains("CodeAssist") && !r.path.contains("onboardUser") && !r.path.contains("/operations/")
            })
            .collect()
    }
}

/// A chat request for `s`'s model (streamed or not), answered with status and body text.
pub async fn chat(app: &Running, s: Sub, stream: bool) -> (u16, String, String) {
    let body = json!({"model": format!("{}/{}", s.prefix, s.model), "stream": stream, "max_tokens": 64,
                      "messages": [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "What is the capital of France?"}]});
    let mut r = support::post(app, "/v1/chat/completions", body).await;
    let status = r.status().as_u16();
    let account = support::header(&r, "x-omnigate-account");
    let text = support::text_body(&mut r).await;
    (status, text, account)
}

/// The `/api/accounts` entry of an account by name.
pub async fn api_account(app: &Running, env: &TestEnv, name: &str) -> Value {
    let v = support::admin_get(app, env, "/api/accounts").await;
    v["accounts"].as_array().and_then(|a| a.iter().find(|x| x["name"] == name).cloned()).unwrap_or(Value::Null)
}
