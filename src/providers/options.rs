//! Per-account options kept as one JSON object (`accounts.options`): settings that are read with
//! the account, never queried. Unknown keys are kept out by the config's own validation.

use serde::{Deserialize, Serialize};

/// What an account allows beyond its credential.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountOptions {
    /// Pass the client's `OpenAI-Organization` / `OpenAI-Project` headers to this account's
    /// upstream (off by default: they name the client's organization, which the gateway's
    /// account usually does not belong to).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub forward_org_headers: bool,
    /// Most requests in any 60 seconds (sliding window).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    /// Most tokens in any 60 seconds, as estimated before sending (sliding window).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u32>,
    /// Least time between two requests, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_gap_ms: Option<u64>,
}

/// A surface beyond generation (and OpenAI embeddings) that an upstream serves in its own
/// dialect, so the gateway can pass requests for it through (`serves = ["completions", ...]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Extra {
    /// OpenAI's legacy `POST /completions` (without it, completions are translated to chat).
    Completions,
    /// OpenAI's `POST /moderations`.
    Moderations,
    /// Cohere/Jina-style `POST /rerank`.
    Rerank,
    /// OpenAI's `POST /images/generations` (JSON, not streamed).
    Images,
    /// OpenAI's `POST /images/edits` (multipart: images, mask, prompt).
    #[serde(rename = "image_edits")]
    ImageEdits,
    /// OpenAI's `POST /audio/transcriptions` (multipart: an audio file).
    Transcriptions,
    /// OpenAI's `POST /audio/translations` (multipart: an audio file, answered in English).
    Translations,
    /// OpenAI's `POST /audio/speech` (JSON in, audio out).
    Speech,
}

/// Every extra surface, in the order they are written.
const EXTRAS: [Extra; 8] = [
    Extra::Completions,
    Extra::Moderations,
    Extra::Rerank,
    Extra::Images,
    Extra::ImageEdits,
    Extra::Transcriptions,
    Extra::Translations,
    Extra::Speech,
];

/// The extra surfaces an upstream serves (`Extra`), as a set; written as a list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<Extra>", into = "Vec<Extra>")]
pub struct Serves {
    /// `POST /completions`.
    pub completions: bool,
    /// `POST /moderations`.
    pub moderations: bool,
    /// `POST /rerank`.
    pub rerank: bool,
    /// `POST /images/generations`.
    pub images: bool,
    /// `POST /images/edits`.
    pub image_edits: bool,
    /// `POST /audio/transcriptions`.
    pub transcriptions: bool,
    /// `POST /audio/translations`.
    pub translations: bool,
    /// `POST /audio/speech`.
    pub speech: bool,
}

impl Serves {
    /// Whether none is served.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Whether `e` is served.
    pub fn has(&self, e: Extra) -> bool {
        match e {
            Extra::Completions => self.completions,
            Extra::Moderations => self.moderations,
            Extra::Rerank => self.rerank,
            Extra::Images => self.images,
            Extra::ImageEdits => self.image_edits,
            Extra::Transcriptions => self.transcriptions,
            Extra::Translations => self.translations,
            Extra::Speech => self.speech,
        }
    }
}

impl From<Vec<Extra>> for Serves {
    fn from(v: Vec<Extra>) -> Self {
        Self {
            completions: v.contains(&Extra::Completions),
            moderations: v.contains(&Extra::Moderations),
            rerank: v.contains(&Extra::Rerank),
            images: v.contains(&Extra::Images),
            image_edits: v.contains(&Extra::ImageEdits),
            transcriptions: v.contains(&Extra::Transcriptions),
            translations: v.contains(&Extra::Translations),
            speech: v.contains(&Extra::Speech),
        }
    }
}

impl From<Serves> for Vec<Extra> {
    fn from(s: Serves) -> Self {
        EXTRAS.into_iter().filter(|e| s.has(*e)).collect()
    }
}

/// What a custom provider keeps beyond its columns (`providers.options`, JSON): the pacing
/// defaults of its accounts (an account's own value wins) and the extra surfaces it serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderOptions {
    /// Default `rpm` of its accounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    /// Default `tpm` of its accounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u32>,
    /// Default `min_gap_ms` of its accounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_gap_ms: Option<u64>,
    /// Default `max_concurrent` of its accounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    /// The extra surfaces it serves.
    #[serde(skip_serializing_if = "Serves::is_empty")]
    pub serves: Serves,
}

impl ProviderOptions {
    /// Reads the stored JSON (an unreadable value is the defaults).
    pub fn from_json(s: &str) -> Self {
        serde_json::from_str(s).unwrap_or_default()
    }

    /// The stored JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

impl AccountOptions {
    /// Reads the stored JSON (an unreadable value is the defaults).
    pub fn from_json(s: &str) -> Self {
        serde_json::from_str(s).unwrap_or_default()
    }

    /// The stored JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}
