//! Web search behind a trait, with SearxNG's JSON API as the first backend.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use url::Url;

use super::SearchError;

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub title: String,
    pub url: String,
    /// The engine's excerpt of the page; may be empty.
    pub snippet: String,
}

/// Something that turns a query into ranked results.
#[async_trait]
pub trait SearchBackend: Send + Sync {
    /// At most `limit` results, best first, http(s) URLs only, without duplicates.
    async fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>, SearchError>;
}

/// A SearxNG instance: `GET {base}/search?q=…&format=json`.
///
/// The instance must allow the JSON format (`search.formats: [html, json]` in its
/// `settings.yml`); otherwise it answers 403, reported as such.
#[derive(Debug, Clone)]
pub struct SearxNg {
    http: reqwest::Client,
    endpoint: Url,
    timeout: Duration,
}

impl SearxNg {
    /// Longest wait for the search server: SearxNG itself waits for its engines (3 s by
    /// default), so this leaves room for a slow engine without stalling the chat.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// A backend for the instance at `search_url` (`config.web.search_url`), with or without a
    /// trailing slash or `/search`.
    pub fn new(http: reqwest::Client, search_url: &str) -> Result<Self, SearchError> {
        let invalid = |reason: String| SearchError::InvalidUrl {
            url: search_url.to_owned(),
            reason,
        };
        let mut base = Url::parse(search_url.trim()).map_err(|e| invalid(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("it must start with http:// or https://".into()));
        }
        base.set_query(None);
        base.set_fragment(None);
        let path = base.path().trim_end_matches('/').to_owned();
        let path = path.strip_suffix("/search").unwrap_or(&path);
        base.set_path(&format!("{path}/search"));
        Ok(SearxNg {
            http,
            endpoint: base,
            timeout: Self::DEFAULT_TIMEOUT,
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The endpoint queries go to (without the query string).
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    fn url_for(&self, query: &str) -> Url {
        let mut url = self.endpoint.clone();
        url.query_pairs_mut()
            .append_pair("q", query)
            .append_pair("format", "json");
        url
    }
}

#[derive(Debug, Deserialize)]
struct WireResponse {
    #[serde(default)]
    results: Vec<WireResult>,
}

#[derive(Debug, Deserialize)]
struct WireResult {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    content: Option<String>,
}

#[async_trait]
impl SearchBackend for SearxNg {
    async fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>, SearchError> {
        let url = self.url_for(query);
        // Errors name the endpoint, not the query: the query is the user's message.
        let at = self.endpoint.to_string();
        let response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| request_error(&at, e))?;
        let status = response.status();
        if !status.is_success() {
            let hint = match status.as_u16() {
                403 => {
                    "; SearxNG refuses JSON unless `json` is listed under `search.formats` in its settings.yml"
                }
                429 => {
                    "; SearxNG's limiter blocked the request: disable `server.limiter` for this client"
                }
                _ => "",
            };
            return Err(SearchError::Status {
                url: at,
                status: status.as_u16(),
                hint,
            });
        }
        let body = response.bytes().await.map_err(|e| request_error(&at, e))?;
        let wire: WireResponse =
            serde_json::from_slice(&body).map_err(|e| SearchError::Decode {
                url: at.clone(),
                reason: e.to_string(),
            })?;
        Ok(hits_from(wire.results, limit))
    }
}

fn request_error(url: &str, e: reqwest::Error) -> SearchError {
    if e.is_timeout() {
        SearchError::Timeout {
            url: url.to_owned(),
        }
    } else {
        SearchError::Request {
            url: url.to_owned(),
            source: e,
        }
    }
}

/// Keeps http(s) results with a URL, first occurrence of each URL, at most `limit`.
fn hits_from(results: Vec<WireResult>, limit: usize) -> Vec<SearchHit> {
    let mut seen = HashSet::new();
    results
        .into_iter()
        .filter_map(|r| {
            let url = r.url?.trim().to_owned();
            let parsed = Url::parse(&url).ok()?;
            if !matches!(parsed.scheme(), "http" | "https") || !seen.insert(url.clone()) {
                return None;
            }
            Some(SearchHit {
                title: collapse(r.title.as_deref().unwrap_or_default()),
                url,
                snippet: collapse(r.content.as_deref().unwrap_or_default()),
            })
        })
        .take(limit)
        .collect()
}

/// Whitespace runs become one space.
pub(crate) fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_is_normalised() {
        let http = reqwest::Client::new();
        for base in [
            "http://searx.local",
            "http://searx.local/",
            "http://searx.local/search",
            "http://searx.local/search/?q=x",
        ] {
            let s = SearxNg::new(http.clone(), base).unwrap();
            assert_eq!(s.endpoint().as_str(), "http://searx.local/search", "{base}");
        }
        let s = SearxNg::new(http.clone(), "https://example.org/searx/").unwrap();
        assert_eq!(
            s.url_for("rust & tokio").as_str(),
            "https://example.org/searx/search?q=rust+%26+tokio&format=json"
        );
        assert!(SearxNg::new(http.clone(), "ftp://x").is_err());
        assert!(SearxNg::new(http, "not a url").is_err());
    }

    #[test]
    fn results_are_filtered_and_deduplicated() {
        let r = |url: Option<&str>, title: &str| WireResult {
            url: url.map(str::to_owned),
            title: Some(title.to_owned()),
            content: Some("  some\n text ".into()),
        };
        let hits = hits_from(
            vec![
                r(Some("https://a.example/"), "A"),
                r(Some("javascript:alert(1)"), "bad"),
                r(None, "no url"),
                r(Some("https://a.example/"), "A again"),
                r(Some("http://b.example/x"), " B\ttitle "),
                r(Some("http://c.example/"), "C"),
            ],
            2,
        );
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].snippet, "some text");
        assert_eq!(hits[1].title, "B title");
    }
}
