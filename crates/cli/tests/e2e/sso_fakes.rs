//! Local fakes of GitHub's OAuth web flow and of an OpenID Connect provider, speaking their
//! documented HTTP APIs, for the single sign-on tests.
//!
//! GitHub (docs: "Authorizing OAuth apps", the web application flow, and "Get the authenticated
//! user"): `GET /login/oauth/authorize` redirects back with `code` and `state` (or `error=
//! access_denied`); `POST /login/oauth/access_token` takes `client_id`, `client_secret`, `code`,
//! `redirect_uri` and `code_verifier` as form fields and answers form-encoded, or JSON with
//! `Accept: application/json`, and a bad code with status 200 and `error=bad_verification_code`;
//! the REST API (here under `/api/v3`, as on GitHub Enterprise) answers `GET /user` for a
//! bearer token, and refuses requests without a User-Agent as GitHub does.
//!
//! OpenID Connect (Core 1.0, Discovery 1.0, RFC 7636): the discovery document, a JWKS with one
//! RSA key, `/authorize` (code flow; PKCE S256 required), `/token` (client_secret_basic or
//! _post; codes single-use; ID tokens RS256-signed with the test key below), `/userinfo`.
//! `Tweak` makes the next ID tokens wrong in one way, for the negative tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The fixed test key that signs the fake's ID tokens (made once with `openssl genrsa 2048`).
const TEST_KEY_PEM: &str = include_str!("sso_test_key.pem");
/// Its public half as a JWK (`n` from `openssl rsa -modulus`, base64url).
const TEST_KEY_ID: &str = "catwalk-test-key-1";
const TEST_KEY_N: &str = "lp7Nirufv6tH5SXh_Wv2SmhuVXMVhO40FSbHOfwnUIEpyEqNjZ41H4jITRUfs6OT0AAZMmB65qDpLTrZJ5J99kaBwQruKA4Zm-8ZXaXrtKwA5AERIwgpa6z1DZVmER5MrMBxMa4tg6hRXPHEiT-J5h7_SHZYtsu8k4kS92vOnWL4rS72PNQYq_LwcC3Gz3UY00ZkSIxSLIYbCPnAw-_elxtKJZMoOnYTICiZfHlcgWYPYWYdz5NsnTpPKxDSnbtVgmdWIcHmU3p2zyt9YeJAGZ6rXMi89ihRiXN84ThQfPy-HGmZA5c9uH0MokYyS87A-N9I5sftWpqYYDOV423Ktw";
const TEST_KEY_E: &str = "AQAB";

pub const CLIENT_ID: &str = "catwalk-test-client";
pub const CLIENT_SECRET: &str = "catwalk-test-client-secret-0d5f";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    GitHub,
    Oidc,
}

/// One way to spoil the next ID tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tweak {
    None,
    WrongAudience,
    Expired,
    BadSignature,
    WrongNonce,
}

/// Who is signed in at the fake provider.
#[derive(Clone, Debug)]
pub struct FakeUser {
    /// GitHub's numeric `id`, or the OIDC `sub`.
    pub id: String,
    pub login: String,
    pub email: Option<String>,
}

struct Grant {
    redirect_uri: String,
    challenge: Option<String>,
    nonce: Option<String>,
    user: FakeUser,
    used: bool,
}

struct FakeState {
    url: String,
    redirect_uri: String,
    user: FakeUser,
    deny: bool,
    tweak: Tweak,
    /// Put preferred_username and email in the userinfo answer only, not in the ID token.
    names_in_userinfo_only: bool,
    grants: HashMap<String, Grant>,
    tokens: HashMap<String, FakeUser>,
    /// Requests seen, as "METHOD path" plus notable facts, for assertions.
    log: Vec<String>,
}

pub struct FakeProvider {
    pub url: String,
    state: Arc<Mutex<FakeState>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeProvider {
    /// Starts a fake on a free loopback port; [`register`](Self::register) then names the
    /// Catwalk it serves.
    pub fn start(kind: Kind, user: FakeUser) -> FakeProvider {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(FakeState {
            url: url.clone(),
            redirect_uri: String::new(),
            user,
            deny: false,
            tweak: Tweak::None,
            names_in_userinfo_only: false,
            grants: HashMap::new(),
            tokens: HashMap::new(),
            log: Vec::new(),
        }));
        let app = match kind {
            Kind::GitHub => Router::new()
                .route("/login/oauth/authorize", get(github_authorize))
                .route(
                    "/login/oauth/access_token",
                    axum::routing::post(github_token),
                )
                .route("/api/v3/user", get(github_user)),
            Kind::Oidc => Router::new()
                .route("/.well-known/openid-configuration", get(oidc_discovery))
                .route("/jwks", get(oidc_jwks))
                .route("/authorize", get(oidc_authorize))
                .route("/token", axum::routing::post(oidc_token))
                .route("/userinfo", get(oidc_userinfo)),
        }
        .with_state(state.clone());
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stop.await;
                    })
                    .await
                    .unwrap();
            });
        });
        FakeProvider {
            url,
            state,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The app is registered for this Catwalk: the only redirect URI accepted is its callback.
    pub fn register(&self, kind: Kind, catwalk_url: &str) {
        let path = match kind {
            Kind::GitHub => "github",
            Kind::Oidc => "oidc",
        };
        self.state.lock().unwrap().redirect_uri = format!("{catwalk_url}/auth/{path}/callback");
    }

    pub fn sign_in_as(&self, user: FakeUser) {
        self.state.lock().unwrap().user = user;
    }

    pub fn deny_consent(&self, deny: bool) {
        self.state.lock().unwrap().deny = deny;
    }

    pub fn tweak_id_tokens(&self, tweak: Tweak) {
        self.state.lock().unwrap().tweak = tweak;
    }

    pub fn names_in_userinfo_only(&self, on: bool) {
        self.state.lock().unwrap().names_in_userinfo_only = on;
    }

    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    /// Stops answering: connections are refused from now on.
    pub fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.stop();
    }
}

type Shared = State<Arc<Mutex<FakeState>>>;

fn random(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse(base).unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.to_string()
}

/// Both authorize endpoints: check the client and the redirect URI (a mismatch is shown as a
/// page, never redirected to), then send the browser back with a code or `access_denied`.
fn authorize(state: &Mutex<FakeState>, query: &HashMap<String, String>, oidc: bool) -> Response {
    let mut s = state.lock().unwrap();
    s.log.push(format!("GET authorize {query:?}"));
    if query.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return (StatusCode::NOT_FOUND, "unknown client_id").into_response();
    }
    let redirect_uri = query.get("redirect_uri").cloned().unwrap_or_default();
    if redirect_uri != s.redirect_uri {
        return (
            StatusCode::BAD_REQUEST,
            "The redirect_uri is not associated with this application.",
        )
            .into_response();
    }
    let state_param = query.get("state").cloned().unwrap_or_default();
    if oidc {
        let scope = query.get("scope").cloned().unwrap_or_default();
        let bad = if query.get("response_type").map(String::as_str) != Some("code") {
            Some("unsupported_response_type")
        } else if !scope.split(' ').any(|s| s == "openid") {
            Some("invalid_scope")
        } else if query.get("code_challenge_method").map(String::as_str) != Some("S256")
            || !query.contains_key("code_challenge")
        {
            Some("invalid_request")
        } else {
            None
        };
        if let Some(error) = bad {
            return Redirect::to(&with_query(
                &redirect_uri,
                &[("error", error), ("state", &state_param)],
            ))
            .into_response();
        }
    }
    if s.deny {
        let description = if oidc {
            "The resource owner denied the request."
        } else {
            "The user has denied your application access."
        };
        return Redirect::to(&with_query(
            &redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_description", description),
                ("state", &state_param),
            ],
        ))
        .into_response();
    }
    let code = random("code");
    let user = s.user.clone();
    s.grants.insert(
        code.clone(),
        Grant {
            redirect_uri: redirect_uri.clone(),
            challenge: query
                .get("code_challenge")
                .filter(|_| query.get("code_challenge_method").map(String::as_str) == Some("S256"))
                .cloned(),
            nonce: query.get("nonce").cloned(),
            user,
            used: false,
        },
    );
    Redirect::to(&with_query(
        &redirect_uri,
        &[("code", &code), ("state", &state_param)],
    ))
    .into_response()
}

/// Checks a code: known, unused (a second use fails), for this redirect URI, and with the
/// verifier of its challenge. Returns the user it was issued for and the nonce it carries.
fn redeem(
    s: &mut FakeState,
    form: &HashMap<String, String>,
) -> Result<(FakeUser, Option<String>), &'static str> {
    let code = form.get("code").cloned().unwrap_or_default();
    let Some(grant) = s.grants.get_mut(&code) else {
        return Err("unknown code");
    };
    if grant.used {
        return Err("code used already");
    }
    grant.used = true;
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return Err("redirect_uri mismatch");
    }
    if let Some(challenge) = &grant.challenge {
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        if B64.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
            return Err("PKCE verification failed");
        }
    }
    Ok((grant.user.clone(), grant.nonce.clone()))
}

async fn github_authorize(
    State(state): Shared,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    authorize(&state, &query, false)
}

async fn github_token(
    State(state): Shared,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut s = state.lock().unwrap();
    let json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    s.log.push(format!(
        "POST access_token json={json} secret_in_body={}",
        form.contains_key("client_secret")
    ));
    let answer = |body: Value| -> Response {
        if json {
            axum::Json(body).into_response()
        } else {
            let pairs: Vec<(String, String)> = body
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect();
            (
                [(header::CONTENT_TYPE, "application/x-www-form-urlencoded")],
                serde_urlencoded_pairs(&pairs),
            )
                .into_response()
        }
    };
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return answer(json!({
            "error": "incorrect_client_credentials",
            "error_description": "The client_id and/or client_secret passed are incorrect.",
        }));
    }
    match redeem(&mut s, &form) {
        Ok((user, _)) => {
            let token = random("gho_");
            s.tokens.insert(token.clone(), user);
            answer(json!({ "access_token": token, "token_type": "bearer", "scope": "" }))
        }
        // GitHub answers 200 with an error, for every kind of bad code.
        Err(why) => {
            s.log.push(format!("refused code: {why}"));
            answer(json!({
                "error": "bad_verification_code",
                "error_description": "The code passed is incorrect or expired.",
                "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code",
            }))
        }
    }
}

fn serde_urlencoded_pairs(pairs: &[(String, String)]) -> String {
    let mut url = reqwest::Url::parse("http://x/").unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_string()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.trim().to_string())
}

async fn github_user(State(state): Shared, headers: HeaderMap) -> Response {
    let mut s = state.lock().unwrap();
    s.log.push("GET /user".to_string());
    if !headers.contains_key(header::USER_AGENT) {
        return (
            StatusCode::FORBIDDEN,
            "Request forbidden by administrative rules. Please make sure your request has a \
             User-Agent header.",
        )
            .into_response();
    }
    let Some(user) = bearer(&headers).and_then(|t| s.tokens.get(&t).cloned()) else {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({
                "message": "Bad credentials",
                "documentation_url": "https://docs.github.com/rest",
            })),
        )
            .into_response();
    };
    let id: u64 = user.id.parse().unwrap();
    axum::Json(json!({
        "login": user.login,
        "id": id,
        "node_id": format!("MDQ6VXNlcj{id}"),
        "avatar_url": format!("{}/avatars/u/{id}", s.url),
        "type": "User",
        "site_admin": false,
        "name": null,
        "email": user.email,
    }))
    .into_response()
}

async fn oidc_discovery(State(state): Shared) -> Response {
    let url = state.lock().unwrap().url.clone();
    axum::Json(json!({
        "issuer": url,
        "authorization_endpoint": format!("{url}/authorize"),
        "token_endpoint": format!("{url}/token"),
        "userinfo_endpoint": format!("{url}/userinfo"),
        "jwks_uri": format!("{url}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "preferred_username", "email", "name"],
    }))
    .into_response()
}

async fn oidc_jwks() -> Response {
    axum::Json(json!({ "keys": [{
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": TEST_KEY_ID,
        "n": TEST_KEY_N, "e": TEST_KEY_E,
    }]}))
    .into_response()
}

async fn oidc_authorize(
    State(state): Shared,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    authorize(&state, &query, true)
}

/// The client's credentials: HTTP Basic (each part form-urlencoded, RFC 6749 §2.3.1) or form
/// fields.
fn client_credentials(headers: &HeaderMap, form: &HashMap<String, String>) -> (String, String) {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&decoded).into_owned();
        let (id, secret) = text.split_once(':').unwrap_or((&text, ""));
        let unescape = |s: &str| percent_decode(&s.replace('+', " "));
        return (unescape(id), unescape(secret));
    }
    (
        form.get("client_id").cloned().unwrap_or_default(),
        form.get("client_secret").cloned().unwrap_or_default(),
    )
}

fn percent_decode(text: &str) -> String {
    let url = reqwest::Url::parse(&format!("http://x/?v={text}")).unwrap();
    url.query_pairs()
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

async fn oidc_token(
    State(state): Shared,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut s = state.lock().unwrap();
    s.log.push("POST /token".to_string());
    let error = |status: StatusCode, error: &str| {
        (status, axum::Json(json!({ "error": error }))).into_response()
    };
    if client_credentials(&headers, &form) != (CLIENT_ID.to_string(), CLIENT_SECRET.to_string()) {
        return error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let (user, nonce) = match redeem(&mut s, &form) {
        Ok(found) => found,
        Err(why) => {
            s.log.push(format!("refused code: {why}"));
            return error(StatusCode::BAD_REQUEST, "invalid_grant");
        }
    };
    let token = random("at_");
    s.tokens.insert(token.clone(), user.clone());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let tweak = s.tweak;
    let mut claims = json!({
        "iss": s.url,
        "sub": user.id,
        "aud": if tweak == Tweak::WrongAudience { "someone-else" } else { CLIENT_ID },
        "iat": if tweak == Tweak::Expired { now - 1200 } else { now },
        "exp": if tweak == Tweak::Expired { now - 600 } else { now + 300 },
        "auth_time": now,
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(if tweak == Tweak::WrongNonce {
            "not-the-nonce".to_string()
        } else {
            nonce
        });
    }
    if !s.names_in_userinfo_only {
        claims["preferred_username"] = json!(user.login);
        if let Some(email) = &user.email {
            claims["email"] = json!(email);
        }
    }
    let id_token = sign(&claims, tweak == Tweak::BadSignature);
    axum::Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "openid profile email",
        "id_token": id_token,
    }))
    .into_response()
}

/// An RS256 JWT of `claims` signed with the test key (its last signature byte flipped when
/// `spoil`).
fn sign(claims: &Value, spoil: bool) -> String {
    let header = json!({ "alg": "RS256", "typ": "JWT", "kid": TEST_KEY_ID });
    let signing_input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let key = rsa::RsaPrivateKey::from_pkcs1_pem(TEST_KEY_PEM).unwrap();
    let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(key);
    let mut signature = signer.sign(signing_input.as_bytes()).to_vec();
    if spoil {
        *signature.last_mut().unwrap() ^= 1;
    }
    format!("{signing_input}.{}", B64.encode(signature))
}

async fn oidc_userinfo(State(state): Shared, headers: HeaderMap) -> Response {
    let mut s = state.lock().unwrap();
    s.log.push("GET /userinfo".to_string());
    let Some(user) = bearer(&headers).and_then(|t| s.tokens.get(&t).cloned()) else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        )
            .into_response();
    };
    axum::Json(json!({
        "sub": user.id,
        "preferred_username": user.login,
        "email": user.email,
    }))
    .into_response()
}
