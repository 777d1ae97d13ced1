//! The authorization server's rules, driven through Catwalk's real router and a real (SQLite)
//! store: every request is an HTTP request a client or a browser would send.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use crate::setup::App;

const BASE: &str = "http://127.0.0.1:7411";
const REDIRECT: &str = "http://127.0.0.1:39999/callback";
const VERIFIER: &str = "a-verifier-long-enough-for-rfc-7636-0123456789abcdef";

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

struct Fixture {
    app: Arc<App>,
    router: axum::Router,
    /// Ada's browser session: cookie header value and CSRF token. Ada owns `alpha` and `beta`.
    ada: (String, String),
    /// Bob's session; Bob owns nothing.
    bob: (String, String),
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::Config::for_tests(dir.path().join("data"), BASE);
    let app = App::open(&config, config.listen).await.unwrap();
    let password = crate::auth::passwords::hash("correct horse battery".into()).await;
    let ada = app
        .store
        .create_user("ada", "member", Some(&password))
        .await
        .unwrap();
    let bob = app
        .store
        .create_user("bob", "member", Some(&password))
        .await
        .unwrap();
    for name in ["alpha", "beta"] {
        app.store
            .create_deployment(&catwalk_store::NewDeployment {
                name: name.into(),
                source: "npm:example@1.0.0".into(),
                spec_json: "{}".into(),
                env_ciphertext: String::new(),
                env_keys: vec![],
                token_hash: catwalk_vault::hash_token(name),
                status: "stopped".into(),
                public: false,
                options_json: "{}".into(),
                owner_id: Some(ada.id.clone()),
            })
            .await
            .unwrap();
    }
    let session = |user| {
        let app = app.clone();
        async move {
            let (cookie, csrf) = crate::auth::start_session(&app.store, &user, false)
                .await
                .unwrap();
            (cookie.split(';').next().unwrap().to_string(), csrf)
        }
    };
    let ada = session(ada).await;
    let bob = session(bob).await;
    Fixture {
        router: app.router(),
        app,
        ada,
        bob,
        _dir: dir,
    }
}

async fn send(router: &axum::Router, request: Request<Body>) -> (StatusCode, Response) {
    let response = router.clone().oneshot(request).await.unwrap();
    (response.status(), response)
}

async fn body_text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(format!("{BASE}{path}")).header(header::HOST, "127.0.0.1:7411");
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    builder.body(Body::empty()).unwrap()
}

fn post_form(path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::post(format!("{BASE}{path}"))
        .header(header::HOST, "127.0.0.1:7411")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    let body = serde_urlencoded::to_string(form).unwrap();
    builder.body(Body::from(body)).unwrap()
}

fn location(response: &Response) -> url::Url {
    let location = response.headers()[header::LOCATION].to_str().unwrap();
    url::Url::parse(location).unwrap()
}

fn query(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

impl Fixture {
    async fn register(&self) -> String {
        let request = Request::post(format!("{BASE}/oauth/register"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"redirect_uris": [REDIRECT], "client_name": "Test <Client>",
                       "application_type": "native"})
                .to_string(),
            ))
            .unwrap();
        let (status, response) = send(&self.router, request).await;
        let body: Value = serde_json::from_str(&body_text(response).await).unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["token_endpoint_auth_method"], "none");
        assert!(body.get("client_secret").is_none());
        body["client_id"].as_str().unwrap().to_string()
    }

    fn params(&self, client_id: &str, deployment: &str) -> Vec<(String, String)> {
        vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), client_id.into()),
            ("redirect_uri".into(), REDIRECT.into()),
            ("state".into(), "the-state".into()),
            ("code_challenge".into(), challenge(VERIFIER)),
            ("code_challenge_method".into(), "S256".into()),
            ("resource".into(), format!("{BASE}/s/{deployment}/mcp")),
        ]
    }

    fn authorize_path(params: &[(String, String)]) -> String {
        format!(
            "/oauth/authorize?{}",
            serde_urlencoded::to_string(params).unwrap()
        )
    }

    /// Approves as Ada and returns the code.
    async fn approve(&self, params: &[(String, String)]) -> String {
        let (status, response) = send(
            &self.router,
            get(&Self::authorize_path(params), Some(&self.ada.0)),
        )
        .await;
        let page = body_text(response).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let mut form: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        form.push(("csrf", &self.ada.1));
        form.push(("decision", "approve"));
        let (status, response) = send(
            &self.router,
            post_form("/oauth/authorize", Some(&self.ada.0), &form),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let back = location(&response);
        assert!(back.as_str().starts_with(REDIRECT), "{back}");
        assert_eq!(query(&back, "state").as_deref(), Some("the-state"));
        assert_eq!(query(&back, "iss").as_deref(), Some(BASE));
        query(&back, "code").expect("a code")
    }

    async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let (status, response) = send(&self.router, post_form("/oauth/token", None, form)).await;
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let body = serde_json::from_str(&body_text(response).await).unwrap();
        (status, body)
    }

    async fn exchange(&self, client_id: &str, code: &str) -> (StatusCode, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", client_id),
        ])
        .await
    }

    async fn admits(&self, deployment: &str, token: &str) -> bool {
        super::admit(&self.app.store, deployment, token)
            .await
            .unwrap()
            .is_some()
    }
}

#[tokio::test]
async fn discovery_documents_describe_the_server_and_each_deployment() {
    let f = fixture().await;
    let (status, response) = send(
        &f.router,
        get("/.well-known/oauth-authorization-server", None),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let metadata: Value = serde_json::from_str(&body_text(response).await).unwrap();
    assert_eq!(metadata["issuer"], BASE);
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(metadata["client_id_metadata_document_supported"], true);
    assert_eq!(
        metadata["token_endpoint_auth_methods_supported"],
        json!(["none"])
    );
    assert_eq!(
        metadata["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        metadata["registration_endpoint"],
        format!("{BASE}/oauth/register")
    );

    let (status, response) = send(
        &f.router,
        get("/.well-known/oauth-protected-resource/s/alpha/mcp", None),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let resource: Value = serde_json::from_str(&body_text(response).await).unwrap();
    assert_eq!(resource["resource"], format!("{BASE}/s/alpha/mcp"));
    assert_eq!(resource["authorization_servers"], json!([BASE]));
    // The same for a name nobody deployed: the document reveals nothing.
    let (status, _) = send(
        &f.router,
        get("/.well-known/oauth-protected-resource/s/ghost/mcp", None),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, response) = send(
        &f.router,
        get("/.well-known/oauth-protected-resource", None),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let root: Value = serde_json::from_str(&body_text(response).await).unwrap();
    assert_eq!(root["authorization_servers"], json!([BASE]));
}

#[tokio::test]
async fn a_code_becomes_tokens_for_one_deployment_once() {
    let f = fixture().await;
    let client = f.register().await;
    let code = f.approve(&f.params(&client, "alpha")).await;
    let (status, tokens) = f.exchange(&client, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    let access = tokens["access_token"].as_str().unwrap();
    assert!(access.starts_with("cwoa_"));
    assert!(f.admits("alpha", access).await);
    assert!(
        !f.admits("beta", access).await,
        "a token for alpha is refused by beta"
    );
    // Stored hashed: the token itself is nowhere in the database.
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oauth_tokens WHERE token_hash = $1")
        .bind(catwalk_vault::hash_token(access))
        .fetch_one(f.app.store.pool())
        .await
        .unwrap();
    assert_eq!(stored, 1);

    // The code again: refused, and what it produced is revoked.
    let (status, replay) = f.exchange(&client, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(replay["error"], "invalid_grant");
    assert!(!f.admits("alpha", access).await);
}

#[tokio::test]
async fn the_token_endpoint_checks_verifier_redirect_client_and_resource() {
    let f = fixture().await;
    let client = f.register().await;
    let other = f.register().await;
    for (form_change, expected) in [
        (
            (
                "code_verifier",
                "wrong-verifier-but-long-enough-0123456789abcdefgh",
            ),
            "invalid_grant",
        ),
        (
            ("redirect_uri", "http://127.0.0.1:39999/other"),
            "invalid_grant",
        ),
        (("client_id", other.as_str()), "invalid_grant"),
        (
            ("resource", "http://127.0.0.1:7411/s/beta/mcp"),
            "invalid_target",
        ),
    ] {
        let code = f.approve(&f.params(&client, "alpha")).await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", client.as_str()),
        ];
        form.retain(|(k, _)| *k != form_change.0);
        form.push(form_change);
        let (status, body) = f.token(&form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form_change:?}: {body}");
        assert_eq!(body["error"], expected, "{form_change:?}");
        // The code is spent either way.
        let (_, again) = f.exchange(&client, &code).await;
        assert_eq!(again["error"], "invalid_grant");
    }
    let (_, body) = f
        .token(&[("grant_type", "password"), ("client_id", &client)])
        .await;
    assert_eq!(body["error"], "unsupported_grant_type");
    let (status, body) = f.token(&[("grant_type", "authorization_code")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn pkce_is_required_and_only_s256() {
    let f = fixture().await;
    let client = f.register().await;
    for (key, value) in [
        ("code_challenge_method", Some("plain")),
        ("code_challenge_method", None),
        ("code_challenge", None),
    ] {
        let mut params = f.params(&client, "alpha");
        params.retain(|(k, _)| k != key);
        if let Some(value) = value {
            params.push((key.into(), value.into()));
        }
        let (status, response) = send(
            &f.router,
            get(&Fixture::authorize_path(&params), Some(&f.ada.0)),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{key}={value:?}");
        let back = location(&response);
        assert_eq!(query(&back, "error").as_deref(), Some("invalid_request"));
        assert_eq!(query(&back, "state").as_deref(), Some("the-state"));
        assert_eq!(query(&back, "iss").as_deref(), Some(BASE));
        assert!(query(&back, "code").is_none());
    }
}

#[tokio::test]
async fn an_unknown_redirect_or_client_gets_a_page_never_a_redirect() {
    let f = fixture().await;
    let client = f.register().await;
    for (key, value) in [
        ("redirect_uri", "http://127.0.0.1:39999/callback/evil"),
        ("redirect_uri", "https://evil.example/callback"),
        ("client_id", "no-such-client"),
    ] {
        let mut params = f.params(&client, "alpha");
        params.retain(|(k, _)| k != key);
        params.push((key.into(), value.into()));
        let (status, response) = send(
            &f.router,
            get(&Fixture::authorize_path(&params), Some(&f.ada.0)),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{key}={value}");
        assert!(response.headers().get(header::LOCATION).is_none());
        let page = body_text(response).await;
        assert!(page.contains("Authorization failed"), "{page}");
    }
    // A loopback IP redirect may use another port (native clients pick one at run time).
    let mut params = f.params(&client, "alpha");
    params.retain(|(k, _)| k != "redirect_uri");
    params.push((
        "redirect_uri".into(),
        "http://127.0.0.1:40001/callback".into(),
    ));
    let (status, _) = send(
        &f.router,
        get(&Fixture::authorize_path(&params), Some(&f.ada.0)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_resource_is_required_and_names_one_deployment() {
    let f = fixture().await;
    let client = f.register().await;
    for resource in [
        None,
        Some("https://elsewhere.example/s/alpha/mcp"),
        Some(BASE),
    ] {
        let mut params = f.params(&client, "alpha");
        params.retain(|(k, _)| k != "resource");
        if let Some(resource) = resource {
            params.push(("resource".into(), resource.into()));
        }
        let (status, response) = send(
            &f.router,
            get(&Fixture::authorize_path(&params), Some(&f.ada.0)),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{resource:?}");
        assert_eq!(
            query(&location(&response), "error").as_deref(),
            Some("invalid_target")
        );
    }
}

#[tokio::test]
async fn only_the_owner_may_consent_and_others_learn_nothing() {
    let f = fixture().await;
    let client = f.register().await;
    let mut pages = Vec::new();
    for deployment in ["alpha", "ghost"] {
        let path = Fixture::authorize_path(&f.params(&client, deployment));
        let (status, response) = send(&f.router, get(&path, Some(&f.bob.0))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(response.headers().get(header::LOCATION).is_none());
        pages.push(body_text(response).await);
    }
    assert_eq!(
        pages[0], pages[1],
        "an existing deployment looks like a missing one"
    );
    assert!(!pages[0].contains("alpha"));

    // Bob posting a decision (with his own valid CSRF token) gets the same page, no code.
    let params = f.params(&client, "alpha");
    let mut form: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    form.push(("csrf", &f.bob.1));
    form.push(("decision", "approve"));
    let (status, response) = send(
        &f.router,
        post_form("/oauth/authorize", Some(&f.bob.0), &form),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(response.headers().get(header::LOCATION).is_none());
}

#[tokio::test]
async fn the_consent_page_shows_client_and_deployment_and_needs_the_csrf_token() {
    let f = fixture().await;
    let client = f.register().await;
    let params = f.params(&client, "alpha");
    let (status, response) = send(
        &f.router,
        get(&Fixture::authorize_path(&params), Some(&f.ada.0)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
    let page = body_text(response).await;
    assert!(
        page.contains("Test &lt;Client&gt;"),
        "the client's name, escaped"
    );
    assert!(page.contains("<strong id=\"deployment\">alpha</strong>"));
    assert!(page.contains("http://127.0.0.1:39999"), "the redirect host");
    assert!(
        page.contains(&f.ada.1),
        "the form carries the session's CSRF token"
    );

    let base: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for csrf in [None, Some("csrf_wrong"), Some(f.bob.1.as_str())] {
        let mut form = base.clone();
        if let Some(csrf) = csrf {
            form.push(("csrf", csrf));
        }
        form.push(("decision", "approve"));
        let (status, response) = send(
            &f.router,
            post_form("/oauth/authorize", Some(&f.ada.0), &form),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "csrf {csrf:?}");
        assert!(response.headers().get(header::LOCATION).is_none());
    }
    // Without a session at all: no code either.
    let mut form = base.clone();
    form.push(("csrf", &f.ada.1));
    form.push(("decision", "approve"));
    let (status, _) = send(&f.router, post_form("/oauth/authorize", None, &form)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Deny: back to the client with access_denied.
    let mut form = base.clone();
    form.push(("csrf", &f.ada.1));
    form.push(("decision", "deny"));
    let (status, response) = send(
        &f.router,
        post_form("/oauth/authorize", Some(&f.ada.0), &form),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let back = location(&response);
    assert_eq!(query(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&back, "state").as_deref(), Some("the-state"));
    assert_eq!(query(&back, "iss").as_deref(), Some(BASE));
}

#[tokio::test]
async fn signing_in_leads_back_to_the_request() {
    let f = fixture().await;
    let client = f.register().await;
    let path = Fixture::authorize_path(&f.params(&client, "alpha"));
    let (status, response) = send(&f.router, get(&path, None)).await;
    assert_eq!(status, StatusCode::OK);
    let login_cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = body_text(response).await;
    assert!(page.contains("Sign in to Catwalk"));
    let login_csrf = login_cookie.split_once('=').unwrap().1.to_string();
    assert!(page.contains(&login_csrf));

    let sign_in = |password: &'static str, csrf: String, cookie: Option<String>| {
        let path = path.clone();
        let router = f.router.clone();
        async move {
            let form = [
                ("username", "ada"),
                ("password", password),
                ("return_to", path.as_str()),
                ("login_csrf", csrf.as_str()),
            ];
            send(
                &router,
                post_form("/oauth/sign-in", cookie.as_deref(), &form),
            )
            .await
        }
    };
    let (status, _) = sign_in("correct horse battery", login_csrf.clone(), None).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the login CSRF cookie is needed"
    );
    let (status, _) = sign_in(
        "wrong password!",
        login_csrf.clone(),
        Some(login_cookie.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, response) = sign_in(
        "correct horse battery",
        login_csrf.clone(),
        Some(login_cookie.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], path.as_str());
    let session = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(session.starts_with("catwalk_session="));
    let session = session.split(';').next().unwrap();
    let (status, response) = send(&f.router, get(&path, Some(session))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body_text(response).await.contains("Approve"));

    // Never back to anywhere else.
    let form = [
        ("username", "ada"),
        ("password", "correct horse battery"),
        ("return_to", "https://evil.example/"),
        ("login_csrf", login_csrf.as_str()),
    ];
    let (status, response) = send(
        &f.router,
        post_form("/oauth/sign-in", Some(&login_cookie), &form),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(response.headers().get(header::LOCATION).is_none());
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_grant() {
    let f = fixture().await;
    let client = f.register().await;
    let code = f.approve(&f.params(&client, "alpha")).await;
    let (_, first) = f.exchange(&client, &code).await;
    let refresh = |token: String| {
        let client = client.clone();
        let f = &f;
        async move {
            f.token(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &token),
                ("client_id", &client),
            ])
            .await
        }
    };
    let (status, second) = refresh(first["refresh_token"].as_str().unwrap().into()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let access = second["access_token"].as_str().unwrap();
    assert!(f.admits("alpha", access).await);
    // Both access tokens of the grant work until it is revoked: one grant, one principal.
    let principal = |token: &str| {
        let store = f.app.store.clone();
        let token = token.to_string();
        async move { super::admit(&store, "alpha", &token).await.unwrap() }
    };
    assert_eq!(
        principal(access).await,
        principal(first["access_token"].as_str().unwrap()).await
    );

    let (status, reused) = refresh(first["refresh_token"].as_str().unwrap().into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reused["error"], "invalid_grant");
    assert!(!f.admits("alpha", access).await, "reuse revokes the family");
    let (_, newest) = refresh(second["refresh_token"].as_str().unwrap().into()).await;
    assert_eq!(newest["error"], "invalid_grant");
}

#[tokio::test]
async fn expired_revoked_and_foreign_tokens_are_refused() {
    let f = fixture().await;
    let client = f.register().await;
    let code = f.approve(&f.params(&client, "alpha")).await;
    let (_, tokens) = f.exchange(&client, &code).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert!(f.admits("alpha", access).await);
    assert!(!f.admits("alpha", "cwoa_made-up").await);
    assert!(
        !f.admits("alpha", "alpha").await,
        "not an OAuth token at all"
    );
    assert!(
        !f.admits("alpha", tokens["refresh_token"].as_str().unwrap())
            .await,
        "a refresh token opens nothing"
    );

    sqlx::query("UPDATE oauth_tokens SET expires_at = 0 WHERE token_hash = $1")
        .bind(catwalk_vault::hash_token(access))
        .execute(f.app.store.pool())
        .await
        .unwrap();
    assert!(!f.admits("alpha", access).await, "expired");

    let code = f.approve(&f.params(&client, "alpha")).await;
    let (_, tokens) = f.exchange(&client, &code).await;
    let access = tokens["access_token"].as_str().unwrap();
    let grant = super::admit(&f.app.store, "alpha", access)
        .await
        .unwrap()
        .unwrap();
    f.app
        .store
        .revoke_oauth_grant(grant.strip_prefix("oauth:").unwrap())
        .await
        .unwrap();
    assert!(!f.admits("alpha", access).await, "revoked");
}
