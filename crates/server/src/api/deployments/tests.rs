//! `GET /api/deployments` in pages, through Catwalk's real router and a real (SQLite) store:
//! the page size and its limits, the `Link` and `X-Total-Count` headers, and that nobody pages
//! through or counts another user's deployments.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use serde_json::Value;
use tower::ServiceExt;

use crate::setup::App;

const BASE: &str = "http://127.0.0.1:7411";

/// Ada owns 250 deployments (`d-000`, `d-002`, …, every tenth one running), Bob owns 60 whose
/// names fall between hers (`d-001`, `d-003`, …), and Root, an admin, owns none.
struct Fixture {
    router: axum::Router,
    ada: String,
    bob: String,
    root: String,
    adas: Vec<String>,
    bobs: Vec<String>,
    _app: Arc<App>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::Config::for_tests(dir.path().join("data"), BASE);
    let app = App::open(&config, config.listen).await.unwrap();
    let user = |name: &'static str, role: &'static str| {
        let app = app.clone();
        async move { app.store.create_user(name, role, None).await.unwrap() }
    };
    let (ada, bob, root) = (
        user("ada", "member").await,
        user("bob", "member").await,
        user("root", "admin").await,
    );
    let mut adas = Vec::new();
    let mut bobs = Vec::new();
    // Created in descending order, so name order is not insertion order.
    for i in (0..250).rev() {
        let deploy = |name: String, owner: &str, status: &str| {
            let app = app.clone();
            let owner = owner.to_string();
            let status = status.to_string();
            async move {
                app.store
                    .create_deployment(&catwalk_store::NewDeployment {
                        token_hash: catwalk_vault::hash_token(&name),
                        name,
                        source: "npm:example@1.0.0".into(),
                        spec_json: "{}".into(),
                        env_ciphertext: String::new(),
                        env_keys: vec![],
                        status,
                        public: false,
                        options_json: "{}".into(),
                        owner_id: Some(owner),
                    })
                    .await
                    .unwrap();
            }
        };
        let name = format!("d-{:03}", i * 2);
        let status = if i % 10 == 0 { "running" } else { "sleeping" };
        deploy(name.clone(), &ada.id, status).await;
        adas.push(name);
        if i < 60 {
            let name = format!("d-{:03}", i * 2 + 1);
            deploy(name.clone(), &bob.id, "running").await;
            bobs.push(name);
        }
    }
    adas.sort();
    bobs.sort();
    let session = |user| {
        let app = app.clone();
        async move {
            let (cookie, _csrf) = crate::auth::start_session(&app.store, &user, false)
                .await
                .unwrap();
            cookie.split(';').next().unwrap().to_string()
        }
    };
    Fixture {
        router: app.router(),
        ada: session(ada).await,
        bob: session(bob).await,
        root: session(root).await,
        adas,
        bobs,
        _app: app,
        _dir: dir,
    }
}

/// One answer of the list: status, body, and its `X-Total-Count` and `Link` headers.
struct Listed {
    status: StatusCode,
    body: Value,
    total: Option<i64>,
    link: Option<String>,
}

impl Listed {
    fn names(&self) -> Vec<String> {
        self.body
            .as_array()
            .unwrap_or_else(|| panic!("not an array: {}", self.body))
            .iter()
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// The target of `rel="next"`, as a path on this Catwalk.
    fn next(&self) -> Option<String> {
        let link = self.link.as_deref()?;
        let target = link
            .strip_prefix('<')
            .and_then(|rest| rest.strip_suffix(">; rel=\"next\""))
            .unwrap_or_else(|| panic!("not a single next link: {link}"));
        Some(
            target
                .strip_prefix(BASE)
                .unwrap_or_else(|| panic!("the link is not under the public URL: {link}"))
                .to_string(),
        )
    }
}

async fn list(router: &axum::Router, cookie: &str, path: &str) -> Listed {
    let request = Request::get(format!("{BASE}{path}"))
        .header(header::HOST, "127.0.0.1:7411")
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    let response: Response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let total = header("x-total-count").map(|v| v.parse().unwrap());
    let link = header("link");
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20)
        .await
        .unwrap();
    Listed {
        status,
        body: serde_json::from_slice(&bytes).unwrap(),
        total,
        link,
    }
}

/// Follows `rel="next"` from `path` to the end; the names in order and how many pages.
async fn walk(router: &axum::Router, cookie: &str, path: &str) -> (Vec<String>, usize) {
    let mut names = Vec::new();
    let mut pages = 0;
    let mut next = Some(path.to_string());
    while let Some(path) = next {
        let page = list(router, cookie, &path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        names.extend(page.names());
        pages += 1;
        next = page.next();
    }
    (names, pages)
}

#[tokio::test]
async fn the_list_comes_in_pages_with_a_next_link_and_a_total() {
    let f = fixture().await;

    // The first page: 100 by default, the total, and where the rest is.
    let first = list(&f.router, &f.ada, "/api/deployments").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.names(), f.adas[..100]);
    assert_eq!(first.total, Some(250));
    assert_eq!(
        first.link.as_deref(),
        Some("<http://127.0.0.1:7411/api/deployments?after=d-198&limit=100>; rel=\"next\"")
    );
    // Each entry is the summary it always was: no spec.
    let entry = &first.body[0];
    assert_eq!(entry["endpoint"], format!("{BASE}/s/d-000/mcp"));
    assert!(entry.get("spec").is_none(), "{entry}");

    // Following the links visits every deployment of Ada's once, in name order.
    assert_eq!(
        walk(&f.router, &f.ada, "/api/deployments").await,
        (f.adas.clone(), 3)
    );
    assert_eq!(
        walk(&f.router, &f.ada, "/api/deployments?limit=7").await,
        (f.adas.clone(), 36)
    );

    // The last page, an exact fit and everything at once carry no next link.
    let last = list(&f.router, &f.ada, "/api/deployments?after=d-398&limit=100").await;
    assert_eq!(last.names(), f.adas[200..]);
    assert_eq!((last.total, last.link.as_deref()), (Some(250), None));
    let fit = list(&f.router, &f.ada, "/api/deployments?limit=250").await;
    assert_eq!((fit.names().len(), fit.link), (250, None));
    let all = list(&f.router, &f.ada, "/api/deployments?limit=1000").await;
    assert_eq!((all.names(), all.link), (f.adas.clone(), None));
    // A cursor past the end, or naming nothing, still answers with what follows it.
    let past = list(&f.router, &f.ada, "/api/deployments?after=zzz").await;
    assert_eq!((past.names().len(), past.total), (0, Some(250)));
    let between = list(&f.router, &f.ada, "/api/deployments?after=d-001&limit=2").await;
    assert_eq!(between.names(), ["d-002", "d-004"]);
    // An empty cursor is the start.
    let empty = list(&f.router, &f.ada, "/api/deployments?after=&limit=1").await;
    assert_eq!(empty.names(), ["d-000"]);

    // A status narrows the page, the total, and the next link keeps it.
    let running = list(
        &f.router,
        &f.ada,
        "/api/deployments?status=running&limit=10",
    )
    .await;
    let expected: Vec<String> = (0..10).map(|i| format!("d-{:03}", i * 20)).collect();
    assert_eq!(running.names(), expected);
    assert_eq!(running.total, Some(25));
    assert_eq!(
        running.link.as_deref(),
        Some(
            "<http://127.0.0.1:7411/api/deployments?after=d-180&limit=10&status=running>; \
             rel=\"next\""
        )
    );
    let (walked, pages) = walk(
        &f.router,
        &f.ada,
        "/api/deployments?status=running&limit=10",
    )
    .await;
    assert_eq!((walked.len(), pages), (25, 3));
}

#[tokio::test]
async fn nobody_pages_through_or_counts_anothers_deployments() {
    let f = fixture().await;
    // Bob's names sit between Ada's, on the same pages' ranges: he sees his own only.
    let bobs = list(&f.router, &f.bob, "/api/deployments").await;
    assert_eq!(bobs.names(), f.bobs);
    assert_eq!((bobs.total, bobs.link.as_deref()), (Some(60), None));
    assert_eq!(
        walk(&f.router, &f.bob, "/api/deployments?limit=25").await,
        (f.bobs.clone(), 3)
    );
    // Ada's cursor in Bob's hands pages through Bob's deployments, not hers.
    let borrowed = list(&f.router, &f.bob, "/api/deployments?after=d-098&limit=5").await;
    assert_eq!(
        borrowed.names(),
        ["d-099", "d-101", "d-103", "d-105", "d-107"]
    );
    assert_eq!(borrowed.total, Some(60));
    // Ada sees none of Bob's, on any page.
    let (adas, _) = walk(&f.router, &f.ada, "/api/deployments?limit=1000").await;
    assert!(adas.iter().all(|name| !f.bobs.contains(name)));
    // An admin who owns nothing lists nothing: admins see only their own deployments too.
    let root = list(&f.router, &f.root, "/api/deployments").await;
    assert_eq!(root.status, StatusCode::OK);
    assert_eq!(
        (root.names().len(), root.total, root.link),
        (0, Some(0), None)
    );
    let filtered = list(&f.router, &f.root, "/api/deployments?status=running").await;
    assert_eq!((filtered.names().len(), filtered.total), (0, Some(0)));
}

#[tokio::test]
async fn a_bad_page_request_is_a_400_saying_what_is_allowed() {
    let f = fixture().await;
    for query in [
        "limit=0",
        "limit=1001",
        "limit=-1",
        "limit=ten",
        "limit=",
        "limit=1.5",
        "limit=99999999999999999999",
    ] {
        let answer = list(&f.router, &f.ada, &format!("/api/deployments?{query}")).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            answer.body
        );
        assert_eq!(answer.body["error"]["code"], "bad_request", "{query}");
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("limit must be a whole number from 1 to 1000"),
            "{query}: {message}"
        );
        assert_eq!((answer.total, answer.link), (None, None), "{query}");
    }
    // Unknown parameters are refused rather than ignored, in the same shape.
    let typo = list(&f.router, &f.ada, "/api/deployments?limt=5").await;
    assert_eq!(typo.status, StatusCode::BAD_REQUEST, "{}", typo.body);
    assert_eq!(typo.body["error"]["code"], "bad_request");
    assert!(
        typo.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limt"),
        "{}",
        typo.body
    );
    // The limits themselves are fine.
    for limit in [1, 1000] {
        let answer = list(
            &f.router,
            &f.ada,
            &format!("/api/deployments?limit={limit}"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.names().len(), limit.min(250));
    }
}
