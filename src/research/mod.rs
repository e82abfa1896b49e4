//! Web search and readable page text, for answers that need sources.
//!
//! The search path of a chat turn, when the gate chose [`crate::gate::GateAction::Search`]:
//! 1. [`search_query`] strips the request around the subject ("can you look up X?" → "X");
//! 2. [`research`] asks the [`SearchBackend`] ([`SearxNg`]) for hits and fetches the top
//!    pages concurrently with [`fetch_readable`]: a deadline, a streamed byte cap, HTML only,
//!    at most 3 redirects each checked, no private addresses (literal ones by the URL, names
//!    by [`resolve::PublicOnly`], the resolver of [`fetch_client`]); [`readable`] reduces each
//!    page to its text, depth-capped, on a blocking thread with a deadline;
//! 3. [`Sources`] numbers hits and pages once: [`Sources::context`] goes into the system
//!    prompt (cite as `[n]`), [`Sources::markdown`] is appended to the answer, so the user sees
//!    the same numbers the model cited, and that the answer came from the web.
//!
//! [`answer_context`] and [`sources_markdown`] do step 3 from plain slices.
//!
//! Research on topics the user approved, in idle hours, reuses the same search and fetch:
//! [`proposals`] picks topics to offer, [`findings`] turns a page into short statements (the
//! page fenced as untrusted data, the answer checked against it). The runs themselves, which
//! need the database and the chat, are `crate::assistant::researcher`.

mod error;
mod fetch;
pub mod findings;
pub mod present;
pub mod proposals;
mod query;
pub mod readable;
pub mod resolve;
mod run;
mod search;
mod sources;

pub use error::{FetchError, SearchError};
pub use fetch::{FetchLimits, Page, fetch_client, fetch_readable, page_fetcher, web_client};
pub use query::{MAX_QUERY_CHARS, search_query};
pub use run::{Research, ResearchOptions, research};
pub use search::{SearchBackend, SearchHit, SearxNg};
pub use sources::{DEFAULT_CONTEXT_CHARS, Source, Sources, answer_context, sources_markdown};
