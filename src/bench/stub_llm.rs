//! A scripted OpenAI-compatible server that speaks llama-server's wire format: chat
//! completions (whole and streamed, with `logprobs`/`top_logprobs`), embeddings, `/v1/models`,
//! `/health`, plus the failures a real server shows: HTTP errors, slowness, a stream cut off.
//! Tests queue replies; unscripted chat requests get a default answer. It serves the tests
//! and `threeam bench turn` (which reads when each streamed request arrived).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

pub const STUB_MODEL: &str = "stub-model";
pub const EMBED_DIM: usize = 384;

/// One scripted answer to a chat completion request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Answer with these tokens; each gets `logprob`, and `top` alternatives are listed.
    Tokens {
        tokens: Vec<(String, f64)>,
        finish: &'static str,
    },
    /// Answer with an HTTP error in llama-server's error shape.
    Error { status: u16, message: String },
    /// Wait before answering with the next reply in the queue (or the default).
    Delay(Duration),
    /// Stream this many tokens, then drop the connection.
    CutAfter {
        tokens: Vec<(String, f64)>,
        after: usize,
    },
}

impl Reply {
    /// Text split into word-ish tokens, all with the same log-probability.
    pub fn text(text: &str, logprob: f64) -> Self {
        Reply::Tokens {
            tokens: tokenize(text).into_iter().map(|t| (t, logprob)).collect(),
            finish: "stop",
        }
    }

    /// The first part of a longer answer: generation stopped at `max_tokens` (`"length"`), as
    /// a 48-token draft of anything but a short answer does.
    pub fn truncated(text: &str, logprob: f64) -> Self {
        Reply::Tokens {
            tokens: tokenize(text).into_iter().map(|t| (t, logprob)).collect(),
            finish: "length",
        }
    }

    /// A JSON value as the whole answer (what a json_schema-constrained request returns).
    pub fn json(value: &Value) -> Self {
        Self::text(&value.to_string(), -0.01)
    }
}

/// Splits like a BPE tokenizer roughly would: words keep their leading space.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        if (ch == ' ' || ch == '\n') && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(ch);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[derive(Default)]
struct Inner {
    chat: VecDeque<Reply>,
    /// Answers to json_schema-constrained requests (extraction and the like), scripted apart
    /// so background work never takes a reply meant for the conversation.
    structured: VecDeque<Reply>,
    embed_errors: VecDeque<Reply>,
    requests: Vec<(String, Value)>,
    token_delay: Duration,
    embed_dim: Option<usize>,
    /// Answers json_schema requests by schema name and request (before the queue).
    responder: Option<Responder>,
    /// Answers plain chat requests by request (before the queue).
    chat_responder: Option<ChatResponder>,
    /// The answer to unscripted chat requests (the built-in one when `None`).
    default_chat: Option<Reply>,
    /// When each streamed chat request reached the handler.
    stream_arrivals: Vec<std::time::Instant>,
}

/// `request body -> answer` for plain chat requests, or `None` to fall back to the queue.
pub type ChatResponder = Arc<dyn Fn(&Value) -> Option<Reply> + Send + Sync>;

/// `(schema name, request body) -> answer`, or `None` to fall back to the queue.
pub type Responder = Arc<dyn Fn(&str, &Value) -> Option<Reply> + Send + Sync>;

#[derive(Clone)]
pub struct StubLlm {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    shutdown: Arc<tokio::sync::Notify>,
}

impl StubLlm {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    /// Binds a specific address (used to bring a "crashed" server back on the same port).
    pub async fn start_on(addr: SocketAddr) -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind stub");
        let addr = listener.local_addr().unwrap();
        let shutdown = Arc::new(tokio::sync::Notify::new());
        let app = Router::new()
            .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
            .route("/v1/models", get(models))
            .route("/v1/chat/completions", post(chat))
            .route("/v1/embeddings", post(embeddings))
            .route("/tokenize", post(tokenize_route))
            .with_state(inner.clone());
        let stop = shutdown.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.notified().await })
                .await
                .ok();
        });
        Self {
            addr,
            inner,
            shutdown,
        }
    }

    /// Answers plain (not json_schema) chat requests by request, before the queue; `None`
    /// falls back to the queue.
    pub fn set_chat_responder(&self, f: impl Fn(&Value) -> Option<Reply> + Send + Sync + 'static) {
        self.inner.lock().unwrap().chat_responder = Some(Arc::new(f));
    }

    /// Answers unscripted chat requests with `reply` from now on.
    pub fn set_default_chat(&self, reply: Reply) {
        self.inner.lock().unwrap().default_chat = Some(reply);
    }

    /// When each streamed chat request so far reached the server.
    pub fn stream_arrivals(&self) -> Vec<std::time::Instant> {
        self.inner.lock().unwrap().stream_arrivals.clone()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn push(&self, reply: Reply) {
        self.inner.lock().unwrap().chat.push_back(reply);
    }

    /// Queue an answer for the next json_schema-constrained request (default: no facts).
    pub fn push_structured(&self, reply: Reply) {
        self.inner.lock().unwrap().structured.push_back(reply);
    }

    /// Answer json_schema requests with a function of the schema name and the request (for
    /// multi-step work like the night cycle, where the order of calls is not scripted).
    pub fn set_structured_responder(
        &self,
        f: impl Fn(&str, &Value) -> Option<Reply> + Send + Sync + 'static,
    ) {
        self.inner.lock().unwrap().responder = Some(Arc::new(f));
    }

    /// json_schema requests whose schema has this name.
    pub fn structured_requests_named(&self, name: &str) -> Vec<Value> {
        self.structured_requests()
            .into_iter()
            .filter(|b| b["response_format"]["json_schema"]["name"] == name)
            .collect()
    }

    pub fn push_embed_error(&self, reply: Reply) {
        self.inner.lock().unwrap().embed_errors.push_back(reply);
    }

    /// Delay between streamed chunks (a slow model).
    pub fn set_token_delay(&self, d: Duration) {
        self.inner.lock().unwrap().token_delay = d;
    }

    /// Serve embeddings of another width (to test the dimension check).
    pub fn set_embed_dim(&self, dim: usize) {
        self.inner.lock().unwrap().embed_dim = Some(dim);
    }

    /// `(path, body)` of every request received, in order.
    pub fn requests(&self) -> Vec<(String, Value)> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// Conversation requests (not json_schema-constrained ones). The decision gate reads the
    /// first tokens of the answer's own stream, so a turn is one of these, or two when the
    /// gate decides to start again (a search, a question back).
    pub fn chat_requests(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|(p, b)| p == "/v1/chat/completions" && b.get("response_format").is_none())
            .map(|(_, b)| b)
            .collect()
    }

    /// json_schema-constrained requests (fact extraction…).
    pub fn structured_requests(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|(p, b)| p == "/v1/chat/completions" && b.get("response_format").is_some())
            .map(|(_, b)| b)
            .collect()
    }

    pub fn stop(&self) {
        self.shutdown.notify_waiters();
    }
}

/// llama-server's `/tokenize`: the stub's word-ish tokens, numbered.
async fn tokenize_route(Json(body): Json<Value>) -> Json<Value> {
    let n = tokenize(body["content"].as_str().unwrap_or_default()).len();
    Json(json!({ "tokens": (0..n).collect::<Vec<usize>>() }))
}

async fn models() -> Json<Value> {
    Json(json!({
        "models": [{"name": STUB_MODEL, "model": STUB_MODEL}],
        "object": "list",
        "data": [{"id": STUB_MODEL, "object": "model", "created": 1_700_000_000, "owned_by": "llamacpp",
                  "meta": {"vocab_type": 2, "n_vocab": 151936, "n_ctx_train": 32768, "n_embd": 896}}]
    }))
}

fn error_response(status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let kind = if status == 503 {
        "unavailable_error"
    } else if status < 500 {
        "invalid_request_error"
    } else {
        "server_error"
    };
    (
        code,
        Json(json!({"error": {"code": status, "message": message, "type": kind}})),
    )
        .into_response()
}

#[derive(Clone, Copy, PartialEq)]
enum Queue {
    Chat,
    Structured,
}

impl Inner {
    fn pop(&mut self, q: Queue) -> Option<Reply> {
        match q {
            Queue::Chat => self.chat.pop_front(),
            Queue::Structured => self.structured.pop_front(),
        }
    }
}

async fn chat(State(inner): State<Arc<Mutex<Inner>>>, Json(body): Json<Value>) -> Response {
    let queue = if body.get("response_format").is_some() {
        Queue::Structured
    } else {
        Queue::Chat
    };
    let (mut reply, delay, default_chat) = {
        let mut g = inner.lock().unwrap();
        if body["stream"].as_bool().unwrap_or(false) {
            g.stream_arrivals.push(std::time::Instant::now());
        }
        g.requests
            .push(("/v1/chat/completions".into(), body.clone()));
        let scripted = if queue == Queue::Structured {
            let name = body["response_format"]["json_schema"]["name"]
                .as_str()
                .unwrap_or("");
            g.responder.clone().and_then(|f| f(name, &body))
        } else {
            g.chat_responder.clone().and_then(|f| f(&body))
        };
        let next = scripted.or_else(|| g.pop(queue));
        (next, g.token_delay, g.default_chat.clone())
    };
    while let Some(Reply::Delay(d)) = reply {
        tokio::time::sleep(d).await;
        let mut g = inner.lock().unwrap();
        reply = g.pop(queue);
    }
    let reply = reply.unwrap_or_else(|| match queue {
        Queue::Structured => Reply::json(&json!({"facts": []})),
        Queue::Chat => {
            default_chat.unwrap_or_else(|| Reply::text("This is the stub model's answer.", -0.05))
        }
    });
    let stream = body["stream"].as_bool().unwrap_or(false);
    let top = if body["logprobs"].as_bool().unwrap_or(false) {
        body["top_logprobs"].as_u64().unwrap_or(0) as usize
    } else {
        usize::MAX
    };
    let model = body["model"].as_str().unwrap_or(STUB_MODEL).to_owned();
    match reply {
        Reply::Error { status, message } => error_response(status, &message),
        Reply::Delay(_) => unreachable!(),
        Reply::Tokens { tokens, finish } if !stream => {
            whole(&model, &tokens, finish, top, body_prompt_tokens(&body))
        }
        Reply::Tokens { tokens, finish } => streamed(model, tokens, Some(finish), None, top, delay),
        Reply::CutAfter { tokens, after } => {
            if stream {
                streamed(model, tokens, None, Some(after), top, delay)
            } else {
                // A whole response cut short is just a dropped connection.
                Response::builder()
                    .status(200)
                    .body(Body::from_stream(futures::stream::once(async {
                        Err::<Bytes, std::io::Error>(std::io::Error::other("connection reset"))
                    })))
                    .unwrap()
            }
        }
    }
}

fn body_prompt_tokens(body: &Value) -> usize {
    body["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|x| x["content"].as_str().unwrap_or("").len() / 4 + 4)
                .sum()
        })
        .unwrap_or(0)
}

fn logprob_entry(token: &str, logprob: f64, top: usize) -> Value {
    let mut alts =
        vec![json!({"id": 100, "token": token, "logprob": logprob, "bytes": token.as_bytes()})];
    // Alternatives share the remaining probability mass, as a real distribution would.
    let rest = (1.0 - logprob.exp()).max(1e-6);
    for i in 1..top.min(20) {
        let p = rest / 2f64.powi(i as i32);
        let alt = format!("{token}~{i}");
        alts.push(json!({"id": 100 + i, "token": alt, "logprob": p.ln(), "bytes": alt.as_bytes()}));
    }
    json!({"id": 100, "token": token, "logprob": logprob, "bytes": token.as_bytes(), "top_logprobs": alts})
}

fn timings(n_prompt: usize, n_predicted: usize) -> Value {
    json!({"cache_n": 0, "prompt_n": n_prompt, "prompt_ms": 12.5, "prompt_per_token_ms": 0.2, "prompt_per_second": 5000.0,
           "predicted_n": n_predicted, "predicted_ms": 40.0, "predicted_per_token_ms": 3.0, "predicted_per_second": 300.0})
}

fn whole(
    model: &str,
    tokens: &[(String, f64)],
    finish: &str,
    top: usize,
    n_prompt: usize,
) -> Response {
    let content: String = tokens.iter().map(|(t, _)| t.as_str()).collect();
    let mut choice = json!({"finish_reason": finish, "index": 0, "message": {"role": "assistant", "content": content}});
    if top != usize::MAX {
        choice["logprobs"] = json!({"content": tokens.iter().map(|(t, l)| logprob_entry(t, *l, top)).collect::<Vec<_>>()});
    }
    Json(json!({
        "choices": [choice], "created": 1_700_000_000, "model": model, "system_fingerprint": "b0000-stub",
        "object": "chat.completion", "id": "chatcmpl-stub",
        "usage": {"completion_tokens": tokens.len(), "prompt_tokens": n_prompt, "total_tokens": tokens.len() + n_prompt},
        "timings": timings(n_prompt, tokens.len())
    }))
    .into_response()
}

fn streamed(
    model: String,
    tokens: Vec<(String, f64)>,
    finish: Option<&'static str>,
    cut_after: Option<usize>,
    top: usize,
    delay: Duration,
) -> Response {
    let chunk = move |choice: Value, extra: Option<(&str, Value)>| {
        let mut v = json!({"choices": [choice], "created": 1_700_000_000, "id": "chatcmpl-stub", "model": model,
                           "system_fingerprint": "b0000-stub", "object": "chat.completion.chunk"});
        if let Some((k, x)) = extra {
            v[k] = x;
        }
        Bytes::from(format!("data: {v}\n\n"))
    };
    let stream = async_stream(move |tx| async move {
        let n = tokens.len();
        let _ = tx.send(Ok(chunk(json!({"finish_reason": null, "index": 0, "delta": {"role": "assistant", "content": null}}), None))).await;
        for (i, (t, l)) in tokens.iter().enumerate() {
            if cut_after == Some(i) {
                let _ = tx
                    .send(Err(std::io::Error::other("connection reset by stub")))
                    .await;
                return;
            }
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let mut c = json!({"finish_reason": null, "index": 0, "delta": {"content": t}});
            if top != usize::MAX {
                c["logprobs"] = json!({"content": [logprob_entry(t, *l, top)]});
            }
            if tx.send(Ok(chunk(c, None))).await.is_err() {
                return;
            }
        }
        if let Some(f) = finish {
            let done = chunk(
                json!({"finish_reason": f, "index": 0, "delta": {}}),
                Some((
                    "usage",
                    json!({"completion_tokens": n, "prompt_tokens": 10, "total_tokens": n + 10}),
                )),
            );
            let _ = tx.send(Ok(done)).await;
            let _ = tx.send(Ok(Bytes::from_static(b"data: [DONE]\n\n"))).await;
        }
    });
    Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

/// A stream fed by a spawned task, so the producer can sleep between items.
fn async_stream<F, Fut>(f: F) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(f(tx));
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

async fn embeddings(State(inner): State<Arc<Mutex<Inner>>>, Json(body): Json<Value>) -> Response {
    let (err, dim) = {
        let mut g = inner.lock().unwrap();
        g.requests.push(("/v1/embeddings".into(), body.clone()));
        (g.embed_errors.pop_front(), g.embed_dim.unwrap_or(EMBED_DIM))
    };
    match err {
        Some(Reply::Error { status, message }) => return error_response(status, &message),
        Some(Reply::Delay(d)) => tokio::time::sleep(d).await,
        _ => {}
    }
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect(),
        _ => return error_response(400, "\"input\" must be a string or an array of strings"),
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"index": i, "object": "embedding", "embedding": embed_text(t, dim)}))
        .collect();
    Json(json!({"model": body["model"], "object": "list", "usage": {"prompt_tokens": 1, "total_tokens": 1}, "data": data})).into_response()
}

/// A deterministic bag-of-words embedding: texts sharing words are close, like a real model's.
pub fn embed_text(text: &str, dim: usize) -> Vec<f32> {
    let mut v = vec![0f32; dim];
    for word in text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut h: u64 = 0xcbf29ce484222325;
        for b in word.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100000001b3);
        }
        v[(h % dim as u64) as usize] += 1.0;
        v[((h >> 20) % dim as u64) as usize] += 0.5;
    }
    if v.iter().all(|x| *x == 0.0) {
        v[0] = 1.0;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}
