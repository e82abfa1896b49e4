//! The OpenAI-compatible wire format as llama-server speaks it. Every response struct ignores
//! unknown fields (llama.cpp adds `timings`, token `id`s and more) and tolerates `null`s.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// A chat request as our code builds it; the client fills in `model` and `stream`.
#[derive(Debug, Clone, Default)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    /// Number of alternatives per token to return (0 = logprobs off).
    pub top_logprobs: u8,
    /// Grammar-constrained JSON output: `(name, schema)`.
    pub json_schema: Option<(String, serde_json::Value)>,
    pub stop: Vec<String>,
    pub seed: Option<u64>,
    /// Sampling beyond temperature, for llama-server (other servers ignore what they do not
    /// know): see [`Sampling`].
    pub sampling: Sampling,
}

/// llama-server's samplers against a small model's loops and copying.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Sampling {
    /// Penalise tokens seen in the last 64 (1 = off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_penalty: Option<f32>,
    /// DRY ("don't repeat yourself"): penalise extending a sequence that already occurs in the
    /// context, growing with its length beyond `dry_allowed_length` tokens (0 = off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_multiplier: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_allowed_length: Option<u32>,
    /// Drop tokens less likely than this share of the likeliest one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_p: Option<f32>,
}

impl ChatRequest {
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        Self {
            messages,
            ..Default::default()
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct WireChatRequest<'a> {
    pub model: &'a str,
    pub messages: &'a [ChatMessage],
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub logprobs: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<serde_json::Value>,
    #[serde(flatten)]
    pub sampling: Sampling,
    /// llama-server: reuse the slot's cached prompt prefix (its default; sent so a server
    /// started otherwise still does).
    pub cache_prompt: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TopLogprob {
    pub token: String,
    pub logprob: f64,
    #[serde(default)]
    pub bytes: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TokenLogprob {
    pub token: String,
    pub logprob: f64,
    #[serde(default)]
    pub bytes: Option<Vec<u8>>,
    #[serde(default)]
    pub top_logprobs: Vec<TopLogprob>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct WireLogprobs {
    #[serde(default)]
    pub content: Option<Vec<TokenLogprob>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u32,
    #[serde(default)]
    pub completion_tokens: u32,
    #[serde(default)]
    pub total_tokens: u32,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireMessage {
    #[serde(default)]
    pub content: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireChoice {
    #[serde(default)]
    pub message: Option<WireMessage>,
    #[serde(default)]
    pub delta: Option<WireMessage>,
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub logprobs: Option<WireLogprobs>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireChatResponse {
    #[serde(default)]
    pub choices: Vec<WireChoice>,
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(default)]
    pub model: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireModel {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireModels {
    #[serde(default)]
    pub data: Vec<WireModel>,
}

#[derive(Debug, Serialize)]
pub(crate) struct WireEmbeddingRequest<'a> {
    pub model: &'a str,
    pub input: &'a [String],
    pub encoding_format: &'static str,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireEmbedding {
    #[serde(default)]
    pub index: usize,
    pub embedding: Vec<f32>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireEmbeddings {
    pub data: Vec<WireEmbedding>,
}

/// The error body llama-server (and OpenAI) send: `{"error": {"message": ..., "type": ...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct WireErrorBody {
    pub error: WireError,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireError {
    #[serde(default)]
    pub message: String,
}

/// A finished chat completion.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatResponse {
    pub content: String,
    pub finish_reason: Option<String>,
    /// Empty unless `top_logprobs > 0` was requested.
    pub logprobs: Vec<TokenLogprob>,
    pub usage: Option<Usage>,
    pub model: Option<String>,
}

/// One piece of a streamed completion.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Delta {
        text: String,
        logprobs: Vec<TokenLogprob>,
    },
    Done {
        finish_reason: Option<String>,
        usage: Option<Usage>,
    },
}
