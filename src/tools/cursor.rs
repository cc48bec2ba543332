//! Cursor's model settings live in the editor's state, which we must not edit, so setup prints
//! them: an OpenAI API key with "Override OpenAI Base URL", as
//! https://docs.cursor.com/settings/api-keys describes.

use super::Target;

/// Where this format is documented.
pub const SOURCE: &str = "https://docs.cursor.com/settings/api-keys";
/// Shown with the snippet.
pub const NOTE: &str = "Cursor sends these requests from its own servers, so the gateway's URL must be reachable from the internet \
     (a 127.0.0.1 address will not work); nothing is written, enter these by hand.";

/// What to enter in Cursor's settings.
pub fn instructions(t: &Target) -> String {
    format!(
        "In Cursor, open Cursor Settings > Models:\n  OpenAI API Key:            {}\n  Override OpenAI Base URL:  {} (switch it on)\n  Add model:                 {}\nThen press Verify.\n",
        t.key,
        t.v1(),
        t.model_or_placeholder()
    )
}
