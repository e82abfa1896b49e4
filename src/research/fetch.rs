//! Fetching one web page and reducing it to readable text, defensively: a deadline for the
//! whole fetch, a cap on the bytes read (streamed, so a huge or endless page costs at most
//! the cap), HTML only, few redirects, and no private-network addresses unless allowed.
//!
//! Redirects are followed here, not by reqwest, so each hop is checked (scheme, private
//! address, loop) and counted. Use [`web_client`] for the `http` argument: it does not follow
//! redirects itself.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use url::{Host, Url};

use super::FetchError;
use super::readable;
use super::resolve::{Lookup, PrivateName, PublicOnly, is_private};

/// How much a fetch may cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchLimits {
    /// Deadline for the whole fetch: every redirect hop and the body.
    pub timeout: Duration,
    /// Bytes of body read at most; the rest of a bigger page is never downloaded.
    pub max_bytes: usize,
    /// Redirects followed at most.
    pub max_redirects: usize,
    /// Characters of readable text kept.
    pub max_text_chars: usize,
    /// Allow loopback, private, link-local addresses and `localhost` (tests, intranets).
    pub allow_private: bool,
}

/// Longest a page's HTML may take to read (a 1 MiB page takes well under a second).
const PARSE_DEADLINE: Duration = Duration::from_secs(5);

impl Default for FetchLimits {
    fn default() -> Self {
        FetchLimits {
            timeout: Duration::from_secs(8),
            max_bytes: 1024 * 1024,
            max_redirects: 3,
            max_text_chars: 12_000,
            allow_private: false,
        }
    }
}

/// A fetched page's readable content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The URL asked for (a search hit's URL).
    pub requested_url: String,
    /// The URL the content came from, after redirects.
    pub url: String,
    pub title: String,
    pub text: String,
    /// The body hit `max_bytes` or the text hit `max_text_chars`.
    pub truncated: bool,
}

/// An HTTP client for the search backend: no automatic redirects, a connect timeout, and an
/// honest user agent. Pages are fetched with [`fetch_client`].
pub fn web_client() -> Result<reqwest::Client, reqwest::Error> {
    base_client().build()
}

/// The HTTP client for [`fetch_readable`]: [`web_client`]'s settings, and unless the
/// private network is allowed, names resolved through [`PublicOnly`] with `lookup` (the
/// system's resolver in the bot, a scripted one in tests), so no name reaches a private
/// address.
pub fn fetch_client(guard: Option<Lookup>) -> Result<reqwest::Client, reqwest::Error> {
    let builder = base_client();
    match guard {
        Some(lookup) => builder.dns_resolver(Arc::new(PublicOnly::new(lookup))),
        None => builder,
    }
    .build()
}

/// The client and limits every page fetch of the bot uses, the gate's and `threeam fetch`'s
/// alike: the private network refused (by address and by resolved name) unless
/// `fetch_private`.
pub fn page_fetcher(fetch_private: bool) -> Result<(reqwest::Client, FetchLimits), reqwest::Error> {
    let guard = (!fetch_private).then(super::resolve::system_lookup);
    let limits = FetchLimits {
        allow_private: fetch_private,
        ..FetchLimits::default()
    };
    Ok((fetch_client(guard)?, limits))
}

fn base_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!(
            "3AM/",
            env!("CARGO_PKG_VERSION"),
            " (personal assistant; reads pages its user asked about)"
        ))
}

/// Fetches `url` and extracts its readable text, within `limits`. `http` should come from
/// [`web_client`] (a client that follows redirects by itself would bypass the hop checks).
pub async fn fetch_readable(
    http: &reqwest::Client,
    url: &str,
    limits: &FetchLimits,
) -> Result<Page, FetchError> {
    match tokio::time::timeout(limits.timeout, fetch(http, url, limits)).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::Timeout {
            url: url.to_owned(),
        }),
    }
}

async fn fetch(
    http: &reqwest::Client,
    requested: &str,
    limits: &FetchLimits,
) -> Result<Page, FetchError> {
    let mut url = Url::parse(requested.trim()).map_err(|e| FetchError::InvalidUrl {
        url: requested.to_owned(),
        reason: e.to_string(),
    })?;
    check_target(&url, requested, limits)?;
    let mut seen = HashSet::from([url.clone()]);
    let mut response = loop {
        let at = url.to_string();
        let response = http
            .get(url.clone())
            .header(
                reqwest::header::ACCEPT,
                "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
            )
            .send()
            .await
            .map_err(|e| request_error(&at, e))?;
        if !response.status().is_redirection() {
            break response;
        }
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let Some(next) = Some(&location)
            .filter(|l| !l.is_empty())
            .and_then(|l| url.join(l).ok())
        else {
            return Err(FetchError::BadRedirect { url: at, location });
        };
        // A loop would only end at the hop limit; stop at the first repeat.
        if seen.len() > limits.max_redirects || !seen.insert(next.clone()) {
            return Err(FetchError::TooManyRedirects {
                url: requested.to_owned(),
                limit: limits.max_redirects,
            });
        }
        check_target(&next, &at, limits).map_err(|e| match e {
            FetchError::InvalidUrl { .. } => FetchError::BadRedirect { url: at, location },
            other => other,
        })?;
        url = next;
    };
    let at = url.to_string();
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status {
            url: at,
            status: status.as_u16(),
        });
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mime: Option<mime::Mime> = content_type.parse().ok();
    let is_html = mime.as_ref().is_some_and(|m| {
        m.essence_str() == "text/html" || m.essence_str() == "application/xhtml+xml"
    });
    if !is_html {
        return Err(FetchError::NotHtml {
            url: at,
            content_type,
        });
    }

    // Read at most max_bytes, chunk by chunk; dropping the response closes the connection.
    let mut body = Vec::new();
    let mut cut = false;
    while let Some(chunk) = response.chunk().await.map_err(|e| request_error(&at, e))? {
        let room = limits.max_bytes - body.len();
        if chunk.len() >= room {
            body.extend_from_slice(&chunk[..room]);
            cut = chunk.len() > room || response.content_length() != Some(body.len() as u64);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    let charset = mime
        .as_ref()
        .and_then(|m| m.get_param(mime::CHARSET))
        .map(|c| c.as_str().to_ascii_lowercase());
    let html = decode(&body, charset.as_deref());
    // Parsing is CPU work: on a blocking thread, so the bot's other tasks go on, with a
    // deadline a hostile page cannot stretch.
    let max_chars = limits.max_text_chars;
    let parse = tokio::task::spawn_blocking(move || readable::extract(&html, max_chars));
    let readable = match tokio::time::timeout(PARSE_DEADLINE, parse).await {
        Ok(Ok(readable)) => readable,
        Ok(Err(_)) | Err(_) => return Err(FetchError::Unreadable { url: at }),
    };
    Ok(Page {
        requested_url: requested.to_owned(),
        url: at,
        title: readable.title,
        text: readable.text,
        truncated: cut || readable.truncated,
    })
}

fn request_error(url: &str, e: reqwest::Error) -> FetchError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if c.is::<PrivateName>() {
            return FetchError::Blocked {
                url: url.to_owned(),
            };
        }
        cause = c.source();
    }
    if e.is_timeout() {
        FetchError::Timeout {
            url: url.to_owned(),
        }
    } else {
        FetchError::Request {
            url: url.to_owned(),
            source: e,
        }
    }
}

/// http(s) only, and no private network unless allowed: literal addresses (in any of the
/// forms URLs allow: `2130706433`, `0177.0.0.1` and `0x7f.1` are 127.0.0.1 too) and local
/// names here; names that resolve to a private address are refused by the fetch client's
/// resolver ([`super::resolve`]), on every hop.
fn check_target(url: &Url, shown: &str, limits: &FetchLimits) -> Result<(), FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::InvalidUrl {
            url: shown.to_owned(),
            reason: format!("the scheme {:?} is not http or https", url.scheme()),
        });
    }
    if limits.allow_private {
        return Ok(());
    }
    let private = match url.host() {
        None => true,
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost") || d.ends_with(".local")
        }
        Some(Host::Ipv4(ip)) => is_private(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => is_private(IpAddr::V6(ip)),
    };
    if private {
        Err(FetchError::Blocked {
            url: url.to_string(),
        })
    } else {
        Ok(())
    }
}

/// The body as text: UTF-8 unless the server says Latin-1 / Windows-1252 (then each byte is
/// its code point, exact for Latin-1 and close for 1252). A body cut at the byte cap may end
/// inside a UTF-8 sequence; the lossy decoding turns that into one replacement character.
fn decode(body: &[u8], charset: Option<&str>) -> String {
    match charset {
        Some("iso-8859-1" | "latin1" | "latin-1" | "windows-1252" | "cp1252" | "us-ascii") => {
            body.iter().map(|&b| b as char).collect()
        }
        _ => String::from_utf8_lossy(body).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, allow_private: bool) -> Result<(), FetchError> {
        let limits = FetchLimits {
            allow_private,
            ..FetchLimits::default()
        };
        check_target(&Url::parse(url).unwrap(), url, &limits)
    }

    #[test]
    fn private_targets_are_blocked_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/",
            "http://localhost/admin",
            "http://10.1.2.3/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://printer.local/",
            "http://100.100.1.1/",
            // 127.0.0.1 in the other forms URLs allow.
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://0x7f.0.0.1/",
            "http://0x7f000001/",
            "http://127.1/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://198.18.0.1/",
            "http://240.0.0.1/",
        ] {
            assert!(
                matches!(check(url, false), Err(FetchError::Blocked { .. })),
                "{url}"
            );
            assert!(check(url, true).is_ok(), "{url}");
        }
        assert!(check("https://example.org/", false).is_ok());
        assert!(check("http://8.8.8.8/", false).is_ok());
        assert!(matches!(
            check("ftp://example.org/", true),
            Err(FetchError::InvalidUrl { .. })
        ));
        assert!(matches!(
            check("file:///etc/passwd", true),
            Err(FetchError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn bodies_decode_by_charset() {
        assert_eq!(decode("héllo".as_bytes(), None), "héllo");
        assert_eq!(decode(&[0x68, 0xE9], Some("iso-8859-1")), "hé");
        assert_eq!(decode(&[0x68, 0xC3], Some("utf-8")), "h\u{FFFD}");
    }
}
