//! The OpenAI-compatible client for llama-server: chat (whole or streamed) with token
//! logprobs, grammar-constrained JSON, batched embeddings and model discovery. Connection
//! failures and "still loading" answers are retried with backoff; every error names the
//! server that failed and what to do about it.

mod sse;
pub mod wire;

use std::time::Duration;

use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

pub use sse::{SseDecoder, SseItem};
use wire::*;
pub use wire::{
    ChatMessage, ChatRequest, ChatResponse, Role, Sampling, StreamEvent, TokenLogprob, TopLogprob,
    Usage,
};

use crate::config::LlmConfig;

/// Which of the two servers a call went to; errors say it in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    Chat,
    Embedding,
}

impl std::fmt::Display for ServerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ServerKind::Chat => "chat model server",
            ServerKind::Embedding => "embedding server",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error(
        "{server} at {url} is not reachable ({detail}) after {attempts} attempt(s); is llama-server running there?"
    )]
    Unreachable {
        server: ServerKind,
        url: String,
        detail: String,
        attempts: u32,
    },
    #[error(
        "{server} at {url} did not answer within {seconds} s; it may be overloaded, or raise the timeout"
    )]
    Timeout {
        server: ServerKind,
        url: String,
        seconds: u64,
    },
    #[error("{server} at {url} answered HTTP {status}: {message}")]
    Http {
        server: ServerKind,
        url: String,
        status: u16,
        message: String,
    },
    #[error("{server} at {url} sent a response that is not valid: {detail}")]
    BadResponse {
        server: ServerKind,
        url: String,
        detail: String,
    },
    #[error("{server} at {url} lists no models at /v1/models; start it with a model (-m)")]
    NoModel { server: ServerKind, url: String },
    #[error(
        "the model's structured answer did not match what was asked: {detail} (output began: {snippet:?})"
    )]
    MalformedOutput { detail: String, snippet: String },
    #[error(
        "{server} at {url} returned {got}-d embeddings but {want}-d are needed; serve a {want}-d model such as all-MiniLM-L6-v2"
    )]
    EmbeddingDim {
        server: ServerKind,
        url: String,
        got: usize,
        want: usize,
    },
}

impl ServerKind {
    /// A one-word name, for metrics.
    pub fn short(self) -> &'static str {
        match self {
            ServerKind::Chat => "chat",
            ServerKind::Embedding => "embedding",
        }
    }
}

impl LlmError {
    /// A one-word name of the error, for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            LlmError::Unreachable { .. } => "unreachable",
            LlmError::Timeout { .. } => "timeout",
            LlmError::Http { .. } => "http",
            LlmError::BadResponse { .. } => "bad_response",
            LlmError::NoModel { .. } => "no_model",
            LlmError::MalformedOutput { .. } => "malformed_output",
            LlmError::EmbeddingDim { .. } => "embedding_dim",
        }
    }

    /// Worth trying again later (the server is down, busy or slow), as opposed to a request
    /// the server will never accept.
    pub fn is_transient(&self) -> bool {
        match self {
            LlmError::Unreachable { .. } | LlmError::Timeout { .. } => true,
            LlmError::Http { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

#[derive(Debug)]
struct Endpoint {
    kind: ServerKind,
    base: String,
    configured_model: String,
    resolved_model: OnceCell<String>,
}

impl Endpoint {
    fn new(kind: ServerKind, base: &str, model: &str) -> Self {
        Self {
            kind,
            base: base.trim_end_matches('/').to_owned(),
            configured_model: model.trim().to_owned(),
            resolved_model: OnceCell::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

/// Retry policy for connection-level failures.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub max_retries: u32,
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The waits between attempts: `first`, doubling, capped at `max`, `max_retries` of them.
    pub fn builder(&self) -> backon::ExponentialBuilder {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.first)
            .with_max_delay(self.max)
            .with_max_times(self.max_retries as usize)
    }
}

#[derive(Debug)]
pub struct LlmClient {
    http: reqwest::Client,
    chat: Endpoint,
    embed: Endpoint,
    request_timeout: Duration,
    embedding_timeout: Duration,
    backoff: Backoff,
    embedding_dim: usize,
    embedding_batch: usize,
    /// Token counts already asked for, by text hash (see [`LlmClient::count_tokens`]).
    token_counts: std::sync::Mutex<std::collections::HashMap<u64, usize>>,
    /// The chat server has no `/tokenize`: count with the safe bound.
    no_tokenizer: std::sync::atomic::AtomicBool,
}

/// Token counts remembered at most; a conversation's messages fit many times over.
const TOKEN_COUNT_CACHE: usize = 8192;

/// A token count no tokenizer exceeds: one token per UTF-8 byte (byte-level BPE and byte
/// fallback never make a token of less than a byte), plus a few for the message frame.
pub fn token_bound(text: &str) -> usize {
    text.len() + 4
}

impl LlmClient {
    pub fn new(cfg: &LlmConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout())
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            http,
            chat: Endpoint::new(ServerKind::Chat, &cfg.chat_url, &cfg.chat_model),
            embed: Endpoint::new(
                ServerKind::Embedding,
                &cfg.embedding_url,
                &cfg.embedding_model,
            ),
            request_timeout: cfg.request_timeout(),
            embedding_timeout: cfg.embedding_timeout(),
            backoff: Backoff {
                max_retries: cfg.max_retries,
                first: Duration::from_millis(250),
                max: Duration::from_secs(4),
            },
            embedding_dim: cfg.embedding_dim,
            embedding_batch: cfg.embedding_batch.max(1),
            token_counts: Default::default(),
            no_tokenizer: Default::default(),
        })
    }

    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    pub fn chat_url(&self) -> &str {
        &self.chat.base
    }

    pub fn embedding_url(&self) -> &str {
        &self.embed.base
    }

    /// Model ids the server lists at `/v1/models`.
    pub async fn list_models(&self, kind: ServerKind) -> Result<Vec<String>, LlmError> {
        let ep = self.endpoint(kind);
        let url = ep.url("/v1/models");
        let resp = self
            .send_with_retry(ep, Duration::from_secs(10), || self.http.get(&url))
            .await?;
        let models: WireModels = decode_json(ep, resp).await?;
        Ok(models.data.into_iter().map(|m| m.id).collect())
    }

    /// The model id requests use: the configured one, or the server's first if `auto`.
    pub async fn model(&self, kind: ServerKind) -> Result<String, LlmError> {
        let ep = self.endpoint(kind);
        if !ep.configured_model.eq_ignore_ascii_case("auto") {
            return Ok(ep.configured_model.clone());
        }
        ep.resolved_model
            .get_or_try_init(|| async {
                let models = self.list_models(kind).await?;
                models.into_iter().next().ok_or_else(|| LlmError::NoModel {
                    server: kind,
                    url: ep.base.clone(),
                })
            })
            .await
            .cloned()
    }

    /// A whole (non-streamed) chat completion.
    pub async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let ep = &self.chat;
        let model = self.model(ServerKind::Chat).await?;
        let body = wire_request(req, &model, false);
        let url = ep.url("/v1/chat/completions");
        let resp = self
            .send_with_retry(ep, self.request_timeout, || {
                self.http.post(&url).json(&body)
            })
            .await?;
        let wire: WireChatResponse = decode_json(ep, resp).await?;
        let model = wire.model.clone();
        let usage = wire.usage.clone();
        let choice = wire
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| LlmError::BadResponse {
                server: ep.kind,
                url: ep.base.clone(),
                detail: "no choices in the completion".into(),
            })?;
        Ok(ChatResponse {
            content: choice.message.and_then(|m| m.content).unwrap_or_default(),
            finish_reason: choice.finish_reason,
            logprobs: choice.logprobs.and_then(|l| l.content).unwrap_or_default(),
            usage,
            model,
        })
    }

    /// A streamed chat completion: text deltas (with their logprobs) as they are generated,
    /// then one `Done`. Only the connection is retried; a stream broken midway is an error.
    pub async fn chat_stream(
        &self,
        req: &ChatRequest,
    ) -> Result<impl Stream<Item = Result<StreamEvent, LlmError>> + Send + 'static + use<>, LlmError>
    {
        let ep = &self.chat;
        let model = self.model(ServerKind::Chat).await?;
        let body = wire_request(req, &model, true);
        let url = ep.url("/v1/chat/completions");
        let resp = self
            .send_with_retry(ep, self.request_timeout, || {
                self.http.post(&url).json(&body)
            })
            .await?;
        let kind = ep.kind;
        let base = ep.base.clone();
        let timeout_secs = self.request_timeout.as_secs();
        let bytes = resp.bytes_stream();
        let state = StreamState {
            bytes: Box::pin(bytes),
            decoder: SseDecoder::new(),
            pending: Default::default(),
            finished: false,
        };
        Ok(futures::stream::unfold(state, move |mut st| {
            let base = base.clone();
            async move {
                loop {
                    if let Some(ev) = st.pending.pop_front() {
                        return Some((ev, st));
                    }
                    if st.finished {
                        return None;
                    }
                    match st.bytes.next().await {
                        Some(Ok(chunk)) => {
                            for item in st.decoder.push(&chunk) {
                                st.accept(item, kind, &base);
                            }
                        }
                        Some(Err(e)) => {
                            st.finished = true;
                            let err = if e.is_timeout() {
                                LlmError::Timeout {
                                    server: kind,
                                    url: base.clone(),
                                    seconds: timeout_secs,
                                }
                            } else {
                                LlmError::Unreachable {
                                    server: kind,
                                    url: base.clone(),
                                    detail: format!("stream broken: {}", error_chain(&e)),
                                    attempts: 1,
                                }
                            };
                            return Some((Err(err), st));
                        }
                        None => {
                            for item in st.decoder.finish() {
                                st.accept(item, kind, &base);
                            }
                            if !st.finished {
                                st.finished = true;
                                st.pending.push_back(Err(LlmError::BadResponse {
                                    server: kind,
                                    url: base.clone(),
                                    detail: "the stream ended without a finish reason".into(),
                                }));
                            }
                        }
                    }
                }
            }
        }))
    }

    /// A chat completion constrained by a JSON schema (grammar-enforced by llama-server),
    /// decoded into `T`.
    pub async fn chat_json<T: DeserializeOwned>(
        &self,
        messages: Vec<ChatMessage>,
        name: &str,
        schema: serde_json::Value,
        max_tokens: u32,
    ) -> Result<T, LlmError> {
        let req = ChatRequest {
            messages,
            max_tokens: Some(max_tokens),
            temperature: Some(0.0),
            json_schema: Some((name.to_owned(), schema)),
            ..Default::default()
        };
        let resp = self.chat(&req).await?;
        parse_json_output(&resp.content)
    }

    /// Embeddings for `texts`, in order, sent in batches. Each is L2-normalised by the server;
    /// the dimension is checked against the schema's.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        let ep = &self.embed;
        let model = self.model(ServerKind::Embedding).await?;
        let url = ep.url("/v1/embeddings");
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.embedding_batch) {
            let body = WireEmbeddingRequest {
                model: &model,
                input: batch,
                encoding_format: "float",
            };
            let resp = self
                .send_with_retry(ep, self.embedding_timeout, || {
                    self.http.post(&url).json(&body)
                })
                .await?;
            let mut wire: WireEmbeddings = decode_json(ep, resp).await?;
            if wire.data.len() != batch.len() {
                return Err(LlmError::BadResponse {
                    server: ep.kind,
                    url: ep.base.clone(),
                    detail: format!(
                        "asked for {} embeddings, got {}",
                        batch.len(),
                        wire.data.len()
                    ),
                });
            }
            wire.data.sort_by_key(|e| e.index);
            for e in wire.data {
                if e.embedding.len() != self.embedding_dim {
                    return Err(LlmError::EmbeddingDim {
                        server: ep.kind,
                        url: ep.base.clone(),
                        got: e.embedding.len(),
                        want: self.embedding_dim,
                    });
                }
                out.push(e.embedding);
            }
        }
        Ok(out)
    }

    /// Token counts of `texts` by the chat model's own tokenizer (llama-server's `/tokenize`),
    /// each text asked once and remembered, so a conversation's messages are counted once.
    /// Never fails: a server without `/tokenize`, or one that does not answer in time, gets
    /// [`token_bound`], which is safe for any script (it overcounts English about fourfold).
    pub async fn count_tokens(&self, texts: &[&str]) -> Vec<usize> {
        use std::hash::{Hash, Hasher};
        use std::sync::atomic::Ordering;
        let key = |t: &str| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            t.hash(&mut h);
            h.finish()
        };
        let mut out: Vec<Option<usize>> = {
            let cache = self.token_counts.lock().unwrap();
            texts.iter().map(|t| cache.get(&key(t)).copied()).collect()
        };
        if self.no_tokenizer.load(Ordering::Relaxed) {
            return texts
                .iter()
                .zip(out)
                .map(|(t, c)| c.unwrap_or_else(|| token_bound(t)))
                .collect();
        }
        let url = self.chat.url("/tokenize");
        let missing: Vec<usize> = (0..texts.len()).filter(|&i| out[i].is_none()).collect();
        let asked = futures::future::join_all(missing.iter().map(|&i| {
            let body = serde_json::json!({ "content": texts[i] });
            let req = self
                .http
                .post(&url)
                .timeout(Duration::from_secs(5))
                .json(&body);
            async move {
                let resp = req.send().await.ok()?;
                if resp.status() == reqwest::StatusCode::NOT_FOUND {
                    return Some(Err(()));
                }
                let v: serde_json::Value = resp.error_for_status().ok()?.json().await.ok()?;
                v["tokens"].as_array().map(|a| Ok(a.len() + 4))
            }
        }))
        .await;
        let mut cache = self.token_counts.lock().unwrap();
        if cache.len() + missing.len() > TOKEN_COUNT_CACHE {
            cache.clear();
        }
        for (&i, answer) in missing.iter().zip(asked) {
            match answer {
                Some(Ok(n)) => {
                    cache.insert(key(texts[i]), n);
                    out[i] = Some(n);
                }
                Some(Err(())) => {
                    tracing::warn!("the chat server has no /tokenize; counting one token per byte");
                    self.no_tokenizer.store(true, Ordering::Relaxed);
                }
                None => {}
            }
        }
        texts
            .iter()
            .zip(out)
            .map(|(t, c)| c.unwrap_or_else(|| token_bound(t)))
            .collect()
    }

    pub async fn embed_one(&self, text: &str) -> Result<Vec<f32>, LlmError> {
        let mut v = self.embed(&[text.to_owned()]).await?;
        Ok(v.pop().expect("embed returns one vector per text"))
    }

    fn endpoint(&self, kind: ServerKind) -> &Endpoint {
        match kind {
            ServerKind::Chat => &self.chat,
            ServerKind::Embedding => &self.embed,
        }
    }

    /// Sends, retrying connection failures and 502/503/504 (llama-server answers 503 while
    /// it loads the model) with exponential backoff.
    async fn send_with_retry(
        &self,
        ep: &Endpoint,
        timeout: Duration,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, LlmError> {
        use backon::Retryable;
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let once = || async {
            let attempt = attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            match build().timeout(timeout).send().await {
                Ok(resp) if resp.status().is_success() => Ok(resp),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let text = resp.text().await.unwrap_or_default();
                    let message = serde_json::from_str::<WireErrorBody>(&text)
                        .map(|b| b.error.message)
                        .unwrap_or_else(|_| truncate(&text, 300));
                    Err(LlmError::Http {
                        server: ep.kind,
                        url: ep.base.clone(),
                        status,
                        message,
                    })
                }
                Err(e) if e.is_timeout() && !e.is_connect() => Err(LlmError::Timeout {
                    server: ep.kind,
                    url: ep.base.clone(),
                    seconds: timeout.as_secs(),
                }),
                Err(e) => Err(LlmError::Unreachable {
                    server: ep.kind,
                    url: ep.base.clone(),
                    detail: error_chain(&e),
                    attempts: attempt,
                }),
            }
        };
        let sent = once
            .retry(self.backoff.builder())
            .when(|e| {
                matches!(
                    e,
                    LlmError::Http {
                        status: 502..=504,
                        ..
                    } | LlmError::Unreachable { .. }
                )
            })
            .notify(|e, wait| {
                tracing::warn!(server = %ep.kind, url = %ep.base, error = %e, retry_in = ?wait, "request failed; retrying")
            })
            .await;
        if let Err(e) = &sent {
            crate::metrics::model_error(ep.kind.short(), e.kind());
        }
        sent
    }
}

struct StreamState {
    bytes: std::pin::Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    decoder: SseDecoder,
    pending: std::collections::VecDeque<Result<StreamEvent, LlmError>>,
    finished: bool,
}

impl StreamState {
    fn accept(&mut self, item: SseItem, kind: ServerKind, base: &str) {
        if self.finished {
            return;
        }
        match item {
            SseItem::Done => {
                // `[DONE]` without a finish chunk still ends the stream cleanly.
                self.finished = true;
                if !self
                    .pending
                    .iter()
                    .any(|e| matches!(e, Ok(StreamEvent::Done { .. })))
                {
                    self.pending.push_back(Ok(StreamEvent::Done {
                        finish_reason: None,
                        usage: None,
                    }));
                }
            }
            SseItem::Data(data) => match parse_stream_chunk(&data) {
                Ok(events) => {
                    for ev in events {
                        if matches!(ev, StreamEvent::Done { .. }) {
                            self.finished = true;
                        }
                        self.pending.push_back(Ok(ev));
                    }
                }
                Err(detail) => {
                    self.finished = true;
                    self.pending.push_back(Err(LlmError::BadResponse {
                        server: kind,
                        url: base.to_owned(),
                        detail,
                    }));
                }
            },
        }
    }
}

/// Turns one `data:` payload of a chat stream into events. Pure.
pub fn parse_stream_chunk(data: &str) -> Result<Vec<StreamEvent>, String> {
    if let Ok(err) = serde_json::from_str::<WireErrorBody>(data) {
        return Err(format!(
            "server reported an error mid-stream: {}",
            err.error.message
        ));
    }
    let chunk: WireChatResponse = serde_json::from_str(data).map_err(|e| {
        format!(
            "stream chunk is not valid JSON ({e}): {}",
            truncate(data, 200)
        )
    })?;
    let mut events = Vec::new();
    let usage = chunk.usage.clone();
    if let Some(choice) = chunk.choices.into_iter().next() {
        let text = choice.delta.and_then(|d| d.content).unwrap_or_default();
        let logprobs = choice.logprobs.and_then(|l| l.content).unwrap_or_default();
        if !text.is_empty() || !logprobs.is_empty() {
            events.push(StreamEvent::Delta { text, logprobs });
        }
        if choice.finish_reason.is_some() {
            events.push(StreamEvent::Done {
                finish_reason: choice.finish_reason,
                usage,
            });
        }
    }
    Ok(events)
}

/// Decodes a constrained-output answer, tolerating the code fences small models like to add.
pub fn parse_json_output<T: DeserializeOwned>(content: &str) -> Result<T, LlmError> {
    let trimmed = content.trim();
    let body = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|s| s.strip_suffix("```"))
        .unwrap_or(trimmed)
        .trim();
    serde_json::from_str(body).map_err(|e| LlmError::MalformedOutput {
        detail: e.to_string(),
        snippet: truncate(content, 120),
    })
}

fn wire_request<'a>(req: &'a ChatRequest, model: &'a str, stream: bool) -> WireChatRequest<'a> {
    WireChatRequest {
        model,
        messages: &req.messages,
        stream,
        max_tokens: req.max_tokens,
        temperature: req.temperature,
        logprobs: req.top_logprobs > 0,
        top_logprobs: (req.top_logprobs > 0).then_some(req.top_logprobs),
        response_format: req.json_schema.as_ref().map(|(name, schema)| {
            serde_json::json!({
                "type": "json_schema",
                "json_schema": { "name": name, "strict": true, "schema": schema }
            })
        }),
        stop: &req.stop,
        seed: req.seed,
        stream_options: stream.then(|| serde_json::json!({ "include_usage": true })),
        sampling: req.sampling,
        cache_prompt: true,
    }
}

async fn decode_json<T: DeserializeOwned>(
    ep: &Endpoint,
    resp: reqwest::Response,
) -> Result<T, LlmError> {
    let text = resp.text().await.map_err(|e| LlmError::BadResponse {
        server: ep.kind,
        url: ep.base.clone(),
        detail: format!("body could not be read: {}", error_chain(&e)),
    })?;
    serde_json::from_str(&text).map_err(|e| LlmError::BadResponse {
        server: ep.kind,
        url: ep.base.clone(),
        detail: format!("{e}; body began {:?}", truncate(&text, 200)),
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let msg = inner.to_string();
        if !s.contains(&msg) {
            s.push_str(": ");
            s.push_str(&msg);
        }
        src = inner.source();
    }
    s
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_llama_cpp_chunks_with_extras() {
        let first = r#"{"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}],"created":1,"id":"x","model":"m","object":"chat.completion.chunk"}"#;
        assert!(parse_stream_chunk(first).unwrap().is_empty());
        let mid = r#"{"choices":[{"finish_reason":null,"index":0,"delta":{"content":"Hi"},"logprobs":{"content":[{"id":13,"token":"Hi","logprob":-0.1,"bytes":[72,105],"top_logprobs":[{"id":13,"token":"Hi","logprob":-0.1,"bytes":[72,105]}]}]}}],"object":"chat.completion.chunk"}"#;
        match &parse_stream_chunk(mid).unwrap()[..] {
            [StreamEvent::Delta { text, logprobs }] => {
                assert_eq!(text, "Hi");
                assert_eq!(logprobs[0].top_logprobs.len(), 1);
            }
            other => panic!("{other:?}"),
        }
        let last = r#"{"choices":[{"finish_reason":"stop","index":0,"delta":{}}],"usage":{"completion_tokens":2,"prompt_tokens":5,"total_tokens":7},"timings":{"prompt_n":5}}"#;
        assert_eq!(
            parse_stream_chunk(last).unwrap(),
            vec![StreamEvent::Done {
                finish_reason: Some("stop".into()),
                usage: Some(Usage {
                    prompt_tokens: 5,
                    completion_tokens: 2,
                    total_tokens: 7
                })
            }]
        );
    }

    #[test]
    fn error_chunk_and_garbage_are_errors() {
        assert!(
            parse_stream_chunk(r#"{"error":{"message":"boom","type":"server_error"}}"#)
                .unwrap_err()
                .contains("boom")
        );
        assert!(parse_stream_chunk("not json").is_err());
    }

    #[test]
    fn json_output_tolerates_fences_and_reports_garbage() {
        #[derive(serde::Deserialize, Debug)]
        struct A {
            a: u8,
        }
        assert_eq!(
            parse_json_output::<A>("```json\n{\"a\":1}\n```").unwrap().a,
            1
        );
        let err = parse_json_output::<A>("I think a is one").unwrap_err();
        assert!(matches!(err, LlmError::MalformedOutput { .. }));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        use backon::BackoffBuilder;
        let b = Backoff {
            max_retries: 5,
            first: Duration::from_millis(100),
            max: Duration::from_millis(500),
        };
        let waits: Vec<u64> = b.builder().build().map(|d| d.as_millis() as u64).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
    }

    #[test]
    fn request_serialises_logprobs_and_schema() {
        let mut req = ChatRequest::new(vec![ChatMessage::user("hi")]);
        req.top_logprobs = 5;
        req.json_schema = Some(("x".into(), serde_json::json!({"type":"object"})));
        let v = serde_json::to_value(wire_request(&req, "m", true)).unwrap();
        assert_eq!(v["logprobs"], true);
        assert_eq!(v["top_logprobs"], 5);
        assert_eq!(v["response_format"]["type"], "json_schema");
        assert_eq!(v["stream"], true);
        let plain =
            serde_json::to_value(wire_request(&ChatRequest::new(vec![]), "m", false)).unwrap();
        assert!(plain.get("logprobs").is_none() && plain.get("response_format").is_none());
    }

    proptest::proptest! {
        /// Whatever a server sends as a stream chunk, and whatever a model writes as its
        /// constrained answer: an error or a value, never a panic.
        #[test]
        fn any_chunk_or_answer_is_read_without_a_panic(
            text in "\\PC{0,200}",
            json_ish in r#"(```(json)?)?[ {}\[\]":,0-9a-z.\\-]{0,120}(```)?"#,
        ) {
            let _ = parse_stream_chunk(&text);
            let _ = parse_stream_chunk(&json_ish);
            let _ = parse_json_output::<serde_json::Value>(&text);
            let _ = parse_json_output::<serde_json::Value>(&json_ish);
            let _ = parse_json_output::<Vec<String>>(&json_ish);
        }
    }
}
