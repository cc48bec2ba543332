//! Cline's settings live in VS Code's extension state, which we must not edit, so setup prints
//! them: the "OpenAI Compatible" API provider with a base URL, API key and model ID, as
//! https://docs.cline.bot/provider-config/openai-compatible describes.

use super::Target;

/// Where this format is documented.
pub const SOURCE: &str = "https://docs.cline.bot/provider-config/openai-compatible";
/// Shown with the snippet.
pub const NOTE: &str = "Cline keeps its settings in the editor: nothing is written, enter these by hand.";

/// What to enter in Cline's settings.
pub fn instructions(t: &Target) -> String {
    format!(
        "In VS Code, open Cline, then its settings (the gear icon):\n  API Provider: OpenAI Compatible\n  Base URL:     {}\n  API Key:      {}\n  Model ID:     {}\nThen press Done.\n",
        t.v1(),
        t.key,
        t.model_or_placeholder()
    )
}
