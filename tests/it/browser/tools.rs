//! The Tools page in headless Chromium: every coding tool's card with the `omnigate setup`
//! command and the settings it writes for this gateway (as `GET /api/tools` renders them from the
//! same code), a model typed in goes into every snippet, and the copy buttons copy.

use super::driver::Driver;
use super::{open, sign_in};
use crate::mock::MockUpstream;
use crate::support::{TestEnv, base, mock_config};

#[actix_web::test]
#[ignore = "needs Chromium and chromedriver: run through scripts/test"]
async fn the_tools_page_shows_each_tools_settings_with_copy_buttons() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let b = base(&app);
    let d = Driver::start().await;
    sign_in(&d, &b, &env.admin_password).await;
    open(&d, "tools").await;
    for id in ["claude-code", "codex", "gemini-cli", "opencode", "cline", "continue", "cursor", "aider"] {
        d.wait_text(&format!("#tool-{id} .tool-command"), &format!("omnigate setup {id}")).await;
    }
    d.wait_text("#tool-codex pre", "[model_providers.omnigate]").await;
    d.wait_text("#tool-codex pre", &format!("base_url = \"{b}/v1\"")).await;
    d.wait_text("#tool-claude-code pre", "\"ANTHROPIC_BASE_URL\"").await;
    d.wait_text("#tool-cursor pre", "Override OpenAI Base URL").await;

    // A model typed in goes into the snippets and the commands.
    d.type_into("#tools-form input[name=model]", "mock/mock-model").await;
    d.click_button("#tools-form", "Show").await;
    d.wait_text("#tool-aider pre", "model: openai/mock/mock-model").await;
    d.wait_text("#tool-aider .tool-command", "omnigate setup aider --model mock/mock-model").await;

    d.click("#copy-snippet-opencode").await;
    d.wait_text("#tool-opencode", "Cop").await;
    d.click("#copy-command-gemini-cli").await;
    d.wait_text("#tool-gemini-cli", "Cop").await;
    d.screenshot("tools").await;
    assert!(d.js_errors().await.is_empty(), "no script errors");
    d.quit().await;
    app.stop().await;
}
