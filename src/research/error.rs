//! What can go wrong on the way to the web, each with the URL and the reason.

/// A web search failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("the search URL {url:?} is not usable: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("the search request to {url} failed: {source}")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the search request to {url} timed out")]
    Timeout { url: String },
    #[error("the search server at {url} answered HTTP {status}{hint}")]
    Status {
        url: String,
        status: u16,
        /// Extra advice for a known cause, starting with "; " (or empty).
        hint: &'static str,
    },
    #[error("the search server at {url} sent an answer that is not SearxNG JSON: {reason}")]
    Decode { url: String, reason: String },
}

/// Fetching a page failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url:?} is not a fetchable URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("{url} is on a private or local network, which web fetches may not reach")]
    Blocked { url: String },
    #[error("fetching {url} failed: {source}")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("fetching {url} timed out")]
    Timeout { url: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} is not an HTML page (content type {content_type:?})")]
    NotHtml { url: String, content_type: String },
    #[error("{url} redirected more than {limit} times")]
    TooManyRedirects { url: String, limit: usize },
    #[error("{url} redirected to an unusable location {location:?}")]
    BadRedirect { url: String, location: String },
    #[error("{url} could not be read in time (the page is too complex)")]
    Unreadable { url: String },
}

impl FetchError {
    /// The URL the error is about.
    pub fn url(&self) -> &str {
        match self {
            FetchError::InvalidUrl { url, .. }
            | FetchError::Blocked { url }
            | FetchError::Request { url, .. }
            | FetchError::Timeout { url }
            | FetchError::Unreadable { url }
            | FetchError::Status { url, .. }
            | FetchError::NotHtml { url, .. }
            | FetchError::TooManyRedirects { url, .. }
            | FetchError::BadRedirect { url, .. } => url,
        }
    }
}
