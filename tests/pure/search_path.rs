//! The search path against local fixtures only: SearxNG JSON search, page fetching with its
//! limits (size cap, HTML only, deadline, redirects, private addresses), readable text, and
//! the numbered sources the answer cites.

use std::time::Duration;

use crate::common::fixtures_web::WebFixture;
use threeam::research::{
    FetchError, FetchLimits, ResearchOptions, SearchBackend, SearchError, SearxNg, fetch_readable,
    research, search_query, web_client,
};

/// Limits for fixtures on 127.0.0.1, with a short deadline so the slow pages fail fast.
fn limits() -> FetchLimits {
    FetchLimits {
        timeout: Duration::from_millis(800),
        allow_private: true,
        ..FetchLimits::default()
    }
}

fn searx(web: &WebFixture) -> SearxNg {
    SearxNg::new(web_client().unwrap(), &web.base()).unwrap()
}

#[tokio::test]
async fn searxng_results_are_parsed_filtered_and_deduplicated() {
    let web = WebFixture::start().await;
    let hits = searx(&web).search("barn owls & more", 10).await.unwrap();
    let urls: Vec<&str> = hits.iter().map(|h| h.url.as_str()).collect();
    assert_eq!(
        urls,
        vec![
            web.url("/pages/owls"),
            web.url("/redirect/hop/2"),
            web.url("/pages/report.pdf"),
            web.url("/pages/endless"),
            web.url("/pages/slow"),
        ],
        "duplicates, javascript: and url-less results are dropped"
    );
    assert_eq!(hits[0].title, "Owls | Fixture Encyclopedia");
    assert_eq!(hits[0].snippet, "Owls are birds of prey…");

    let seen = web.seen();
    assert_eq!(seen[0].path, "/search");
    assert_eq!(seen[0].query, "q=barn+owls+%26+more&format=json");

    let two = searx(&web).search("owls", 2).await.unwrap();
    assert_eq!(two.len(), 2);
    assert!(
        searx(&web)
            .search("nothing here", 5)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn search_failures_say_what_went_wrong() {
    let web = WebFixture::start().await;
    let s = searx(&web);
    match s.search("forbidden", 5).await {
        Err(e @ SearchError::Status { status: 403, .. }) => {
            assert!(e.to_string().contains("search.formats"), "{e}");
            assert!(e.to_string().contains(&web.url("/search")), "{e}");
            assert!(
                !e.to_string().contains("forbidden"),
                "the query stays out of errors: {e}"
            );
        }
        other => panic!("expected a 403, got {other:?}"),
    }
    assert!(matches!(
        s.search("broken", 5).await,
        Err(SearchError::Status { status: 500, .. })
    ));
    assert!(matches!(
        s.search("garbage", 5).await,
        Err(SearchError::Decode { .. })
    ));
    // A closed port: bind, note the address, drop the listener.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let gone = SearxNg::new(web_client().unwrap(), &format!("http://{closed}")).unwrap();
    assert!(matches!(
        gone.search("owls", 5).await,
        Err(SearchError::Request { .. })
    ));
}

#[tokio::test]
async fn an_article_becomes_readable_text() {
    let web = WebFixture::start().await;
    let url = web.url("/pages/owls");
    let page = fetch_readable(&web_client().unwrap(), &url, &limits())
        .await
        .unwrap();
    assert_eq!(page.title, "Owls | Fixture Encyclopedia");
    assert_eq!(page.url, url);
    assert!(!page.truncated);
    assert!(
        // The headline that repeats the title is left out, as readability.js does.
        page.text.starts_with(
            "Owls are birds of prey of the order Strigiformes. Most owls hunt at night"
        ),
        "{}",
        page.text
    );
    assert!(page.text.contains("regurgitate pellets"));
    for junk in [
        "tracker",
        "color",
        "Log in",
        "Animals",
        "cookies",
        "plushies",
        "Copyright",
    ] {
        assert!(
            !page.text.contains(junk),
            "{junk:?} leaked into {:?}",
            page.text
        );
    }
}

#[tokio::test]
async fn latin1_pages_are_decoded() {
    let web = WebFixture::start().await;
    let page = fetch_readable(&web_client().unwrap(), &web.url("/pages/latin1"), &limits())
        .await
        .unwrap();
    assert_eq!(page.title, "Café");
    assert_eq!(page.text, "Café crème");
}

#[tokio::test]
async fn redirects_are_followed_up_to_three_times() {
    let web = WebFixture::start().await;
    let http = web_client().unwrap();
    let page = fetch_readable(&http, &web.url("/redirect/hop/2"), &limits())
        .await
        .unwrap();
    assert_eq!(page.requested_url, web.url("/redirect/hop/2"));
    assert_eq!(page.url, web.url("/pages/owls"));
    assert!(page.text.contains("barn owl"));

    match fetch_readable(&http, &web.url("/redirect/hop/3"), &limits()).await {
        Err(FetchError::TooManyRedirects { url, limit: 3 }) => {
            assert_eq!(url, web.url("/redirect/hop/3"))
        }
        other => panic!("four redirects should fail, got {other:?}"),
    }
    for path in ["/redirect/loop", "/redirect/ping"] {
        assert!(
            matches!(
                fetch_readable(&http, &web.url(path), &limits()).await,
                Err(FetchError::TooManyRedirects { .. })
            ),
            "{path}"
        );
    }
    assert!(matches!(
        fetch_readable(&http, &web.url("/redirect/script"), &limits()).await,
        Err(FetchError::BadRedirect { location, .. }) if location == "javascript:alert(1)"
    ));
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let web = WebFixture::start().await;
    let http = web_client().unwrap();
    let strict = FetchLimits::default();
    assert!(matches!(
        fetch_readable(&http, &web.url("/pages/owls"), &strict).await,
        Err(FetchError::Blocked { .. })
    ));
    assert!(web.seen().is_empty(), "refused before any request");
}

#[tokio::test]
async fn non_html_and_missing_pages_are_errors() {
    let web = WebFixture::start().await;
    let http = web_client().unwrap();
    match fetch_readable(&http, &web.url("/pages/report.pdf"), &limits()).await {
        Err(e @ FetchError::NotHtml { .. }) => {
            assert!(e.to_string().contains("application/pdf"), "{e}");
            assert!(e.to_string().contains("/pages/report.pdf"), "{e}");
        }
        other => panic!("expected NotHtml, got {other:?}"),
    }
    assert!(matches!(
        fetch_readable(&http, &web.url("/pages/missing"), &limits()).await,
        Err(FetchError::Status { status: 404, .. })
    ));
    assert!(matches!(
        fetch_readable(&http, "ftp://example.org/file", &limits()).await,
        Err(FetchError::InvalidUrl { .. })
    ));
}

#[tokio::test]
async fn an_endless_page_is_read_only_up_to_the_cap() {
    let web = WebFixture::start().await;
    let capped = FetchLimits {
        max_bytes: 256 * 1024,
        max_text_chars: 5_000,
        timeout: Duration::from_secs(30),
        ..limits()
    };
    let page = fetch_readable(&web_client().unwrap(), &web.url("/pages/endless"), &capped)
        .await
        .unwrap();
    assert!(page.truncated);
    assert_eq!(page.title, "Endless owls");
    assert!(page.text.starts_with("Owls are still birds of prey"));
    assert!(page.text.chars().count() <= 5_000);
    // The server produced a bounded amount: the cap plus what was in flight in buffers.
    assert!(
        web.endless_bytes() < 64 * 1024 * 1024,
        "{}",
        web.endless_bytes()
    );
}

#[tokio::test]
async fn a_page_nested_deep_enough_to_overflow_a_recursive_walk_is_read_in_time() {
    let web = WebFixture::start().await;
    let capped = FetchLimits {
        max_bytes: 1024 * 1024,
        ..limits()
    };
    let page = fetch_readable(&web_client().unwrap(), &web.url("/pages/nested"), &capped)
        .await
        .unwrap();
    assert_eq!(page.title, "Nested");
    assert!(
        page.text.starts_with("Owls nest in hollow trees."),
        "{}",
        page.text
    );
    assert!(!page.text.contains("deep"));
}

/// A name that resolves to a private address (here, the fixture on 127.0.0.1) is refused
/// by the fetch client's resolver, even though the URL looks public.
#[tokio::test]
async fn a_name_resolving_to_a_private_address_is_refused() {
    let web = WebFixture::start().await;
    let port = web
        .base()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let url = format!("http://intranet.example:{port}/pages/owls");
    let lookup: threeam::research::resolve::Lookup = std::sync::Arc::new(|_host: String| {
        Box::pin(async { Ok(vec!["127.0.0.1:0".parse().unwrap()]) })
    });
    let public_only = FetchLimits {
        allow_private: false,
        ..limits()
    };
    let guarded = threeam::research::fetch_client(Some(lookup.clone())).unwrap();
    match fetch_readable(&guarded, &url, &public_only).await {
        Err(FetchError::Blocked { url: blocked }) => assert_eq!(blocked, url),
        other => panic!("expected Blocked, got {other:?}"),
    }
    // The same name, resolved to the same address without the guard, reaches the page: the
    // refusal was the resolver's, not a missing server.
    let resolved = reqwest::Client::builder()
        .resolve(
            "intranet.example",
            format!("127.0.0.1:{port}").parse().unwrap(),
        )
        .build()
        .unwrap();
    let page = fetch_readable(&resolved, &url, &public_only).await.unwrap();
    assert!(page.text.contains("Owls"), "{}", page.text);
}

#[tokio::test]
async fn slow_and_trickling_pages_hit_the_deadline() {
    let web = WebFixture::start().await;
    let http = web_client().unwrap();
    for path in ["/pages/slow", "/pages/trickle"] {
        match fetch_readable(&http, &web.url(path), &limits()).await {
            Err(FetchError::Timeout { url }) => assert_eq!(url, web.url(path)),
            other => panic!("{path}: expected a timeout, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_search_path_end_to_end() {
    let web = WebFixture::start().await;
    let query = search_query("Can you look up barn owls for me?");
    assert_eq!(query, "barn owls");
    let opts = ResearchOptions {
        hits: 5,
        pages: 5,
        fetch: FetchLimits {
            max_bytes: 128 * 1024,
            ..limits()
        },
    };
    let found = research(&searx(&web), &web_client().unwrap(), &query, &opts)
        .await
        .unwrap();
    assert_eq!(found.hits.len(), 5);
    // owls, the redirected owls and the endless page worked; the PDF and the slow page not.
    assert_eq!(found.pages.len(), 3, "{:?}", found.failures);
    assert_eq!(found.failures.len(), 2);
    assert!(
        found
            .failures
            .iter()
            .any(|e| matches!(e, FetchError::NotHtml { .. }))
    );
    assert!(
        found
            .failures
            .iter()
            .any(|e| matches!(e, FetchError::Timeout { .. }))
    );

    let sources = found.sources(4_000);
    let context = sources.context();
    assert!(context.contains("cite them inline as [n]"));
    assert!(
        context.contains(&format!(
            "[1] Owls | Fixture Encyclopedia\n{}\nOwls are birds of prey",
            web.url("/pages/owls")
        )),
        "{context}"
    );
    // The PDF could not be read: its snippet stands in.
    assert!(context.contains("[3] Owl census report (PDF)"), "{context}");
    assert!(context.contains("The 2024 owl census found…"), "{context}");
    assert!(context.chars().count() < 4_000 + 1_000, "{}", context.len());

    let links = sources.markdown();
    assert!(
        links.starts_with("🔎 *From a web search.* Sources:"),
        "{links}"
    );
    assert!(links.contains(&format!(
        "1. [Owls | Fixture Encyclopedia]({})",
        web.url("/pages/owls")
    )));
    assert!(links.contains(&format!("5. [Slow owls]({})", web.url("/pages/slow"))));
    // The slice-based helpers number the same way.
    assert_eq!(
        threeam::research::sources_markdown(&found.hits, &found.pages),
        found
            .sources(threeam::research::DEFAULT_CONTEXT_CHARS)
            .markdown()
    );
}
