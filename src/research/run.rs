//! The search path of a turn: search, fetch the top pages concurrently, keep what worked.

use futures::future::join_all;

use super::fetch::fetch_readable;
use super::{FetchError, FetchLimits, Page, SearchBackend, SearchError, SearchHit, Sources};

/// How much one research step may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResearchOptions {
    /// Search results to ask for.
    pub hits: usize,
    /// Of those, how many pages to fetch (the rest contribute their snippets).
    pub pages: usize,
    pub fetch: FetchLimits,
}

impl Default for ResearchOptions {
    fn default() -> Self {
        ResearchOptions {
            hits: 5,
            pages: 3,
            fetch: FetchLimits::default(),
        }
    }
}

/// What a search found.
#[derive(Debug)]
pub struct Research {
    pub query: String,
    pub hits: Vec<SearchHit>,
    /// The pages that could be fetched, in hit order.
    pub pages: Vec<Page>,
    /// The pages that could not (slow, not HTML, too many redirects…), for the log.
    pub failures: Vec<FetchError>,
}

impl Research {
    /// The numbered sources for the prompt and the answer's links.
    pub fn sources(&self, max_chars: usize) -> Sources {
        Sources::build(&self.hits, &self.pages, max_chars)
    }
}

/// Searches `query` and fetches the top pages. A failed page fetch is not an error (its
/// snippet still counts); a failed search is.
pub async fn research(
    backend: &dyn SearchBackend,
    http: &reqwest::Client,
    query: &str,
    opts: &ResearchOptions,
) -> Result<Research, SearchError> {
    let hits = backend.search(query, opts.hits).await?;
    let fetches = hits
        .iter()
        .take(opts.pages)
        .map(|h| fetch_readable(http, &h.url, &opts.fetch));
    let mut pages = Vec::new();
    let mut failures = Vec::new();
    for result in join_all(fetches).await {
        match result {
            Ok(page) => pages.push(page),
            Err(error) => {
                tracing::warn!(%error, "a search result could not be fetched; using its snippet");
                failures.push(error);
            }
        }
    }
    Ok(Research {
        query: query.to_owned(),
        hits,
        pages,
        failures,
    })
}
