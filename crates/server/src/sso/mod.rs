//! Single sign-on through GitHub and through any OpenID Connect provider.
//!
//! These are browser navigations, not API calls:
//!
//! - `GET /auth/{provider}/start` begins a sign-in; `POST` with the session's `csrf` form field
//!   begins linking the account to the signed-in user instead. The state, the PKCE verifier and
//!   the nonce are kept in the store (`sign_in_flows`) under the hash of a random id that only
//!   this browser holds, in a 10-minute HttpOnly cookie: a callback is accepted once, from the
//!   browser that began it, with the state it was sent with. This works behind a load balancer
//!   with several Catwalks, and nothing is trusted that the browser could forge (a cookie holding
//!   the user to link to would have to be signed; a row does not).
//! - `GET /auth/{provider}/callback` checks all that, exchanges the code, verifies who signed in
//!   (GitHub's `GET /user`; an OIDC ID token against the provider's keys), finds the user linked
//!   to that account (`identities`) or makes one (when `--sso-new-users member`), starts a
//!   browser session and sends the browser to the dashboard. Any failure is a plain page saying
//!   what went wrong, and stores nothing.
//!
//! An account is never matched to a user by username or email: someone else may hold the same
//! name at the provider. Linking needs a signed-in user who asked for it with their CSRF token,
//! so a cross-site page cannot link an attacker's account to a victim's user. Provider tokens
//! are used within the callback and never stored.

mod config;
mod github;
mod oidc;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use crate::auth::cookie_value;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use catwalk_store::{Linked, ProviderAccount, SignInFlow, StoreError, User};
use oauth2::PkceCodeChallenge;
use serde::Deserialize;
use serde_json::{Value, json};

pub use config::{GITHUB_API_URL, GITHUB_URL, GitHubSso, NewUsers, OIDC_NAME, OidcSso, SsoConfig};

use crate::auth::{self, MEMBER, Via};
use crate::setup::App;

/// The cookie holding the id of this browser's sign-in in progress.
const FLOW_COOKIE: &str = "catwalk_sign_in";
/// How long a sign-in may take at the provider.
const FLOW_LIFETIME: Duration = Duration::from_secs(600);
/// Every call to a provider gives up after this long: a provider that hangs must not hold
/// requests (and their connections) for ever.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The configured providers, ready to use.
pub struct SignIn {
    github: Option<github::GitHub>,
    oidc: Option<oidc::Oidc>,
    new_users: NewUsers,
    http: reqwest::Client,
    public_url: String,
}

/// Who a provider says signed in.
#[derive(Clone, Debug)]
pub struct Account {
    pub issuer: String,
    pub subject: String,
    /// Shown as the linked account's name.
    pub login: String,
    /// What a new user's name is made from.
    pub username_hint: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Provider {
    GitHub,
    Oidc,
}

impl Provider {
    fn parse(id: &str) -> Option<Provider> {
        match id {
            "github" => Some(Provider::GitHub),
            "oidc" => Some(Provider::Oidc),
            _ => None,
        }
    }

    fn id(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::Oidc => "oidc",
        }
    }
}

impl SignIn {
    /// Checks the configuration; nothing is fetched from the providers until someone signs in,
    /// so Catwalk starts while a provider is down.
    pub fn new(config: &SsoConfig, public_url: &str) -> anyhow::Result<SignIn> {
        let redirect = |provider: Provider| format!("{public_url}/auth/{}/callback", provider.id());
        let github = config
            .github
            .clone()
            .map(|c| github::GitHub::new(c, &redirect(Provider::GitHub)))
            .transpose()
            .map_err(anyhow::Error::msg)?;
        let oidc = config
            .oidc
            .clone()
            .map(|c| oidc::Oidc::new(c, &redirect(Provider::Oidc)))
            .transpose()
            .map_err(anyhow::Error::msg)?;
        let http = reqwest::Client::builder()
            .timeout(PROVIDER_TIMEOUT)
            .connect_timeout(PROVIDER_TIMEOUT)
            // Following redirects would let a provider's answer point Catwalk anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("catwalk/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let unreachable_host = ["://0.0.0.0", "://[::]"]
            .iter()
            .any(|host| public_url.contains(host));
        if !config.is_empty() && unreachable_host {
            tracing::warn!(
                "single sign-on is configured but the public URL is {public_url}: providers \
                 cannot send browsers back there; set --public-url to the address browsers use"
            );
        }
        Ok(SignIn {
            github,
            oidc,
            new_users: config.new_users,
            http,
            public_url: public_url.to_string(),
        })
    }

    fn configured(&self, provider: Provider) -> bool {
        match provider {
            Provider::GitHub => self.github.is_some(),
            Provider::Oidc => self.oidc.is_some(),
        }
    }

    fn display_name(&self, provider: Provider) -> &str {
        match (provider, &self.oidc) {
            (Provider::Oidc, Some(oidc)) => &oidc.config.name,
            _ => "GitHub",
        }
    }

    /// The providers as `GET /api/auth/providers` lists them.
    pub fn describe(&self) -> Value {
        let providers: Vec<Value> = [Provider::GitHub, Provider::Oidc]
            .into_iter()
            .filter(|p| self.configured(*p))
            .map(|p| {
                json!({
                    "id": p.id(),
                    "name": self.display_name(p),
                    "start": format!("{}/auth/{}/start", self.public_url, p.id()),
                })
            })
            .collect();
        json!({ "providers": providers })
    }
}

/// What went wrong, as the page the browser is shown.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
        }
    }

    fn bad_gateway(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::BAD_GATEWAY, message)
    }

    /// The provider would not exchange the code (used already, expired, wrong verifier).
    fn refused(provider: &str, why: &str) -> Failure {
        Failure::new(
            StatusCode::BAD_REQUEST,
            format!("{provider} refused the sign-in code ({why}); start again"),
        )
    }

    fn unreachable(provider: &str, error: &dyn std::error::Error) -> Failure {
        Failure::bad_gateway(format!(
            "cannot reach {provider}: {}",
            oidc::error_chain(error)
        ))
    }

    fn invalid_id_token(provider: &str, error: &dyn std::error::Error) -> Failure {
        Failure::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "the ID token from {provider} is not valid: {}",
                oidc::error_chain(error)
            ),
        )
    }

    fn internal(error: impl std::fmt::Display) -> Failure {
        tracing::error!(%error, "single sign-on failed");
        Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Catwalk could not finish the sign-in (the server log says why)",
        )
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Failure {
        Failure::internal(error)
    }
}

impl From<crate::api::ApiError> for Failure {
    fn from(error: crate::api::ApiError) -> Failure {
        Failure::internal(format!("{error:?}"))
    }
}

/// The browser routes, merged into the main router (under the same Origin/Host guard).
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/auth/{provider}/start", get(start).post(start_linking))
        .route("/auth/{provider}/callback", get(callback))
        .with_state(app)
}

/// `GET /api/auth/providers`: what the dashboard offers besides a password (no auth needed).
pub async fn providers(State(app): State<Arc<App>>) -> axum::Json<Value> {
    axum::Json(app.sign_in.describe())
}

/// The accounts linked to a user, for `GET /api/me`.
pub async fn identities_of(app: &App, user: &User) -> Result<Value, StoreError> {
    let identities = app.store.list_identities(&user.id).await?;
    Ok(json!(identities))
}

/// `GET /auth/{provider}/start`: sign in.
async fn start(State(app): State<Arc<App>>, Path(provider): Path<String>) -> Response {
    begin(&app, &provider, None).await.unwrap_or_else(page)
}

#[derive(Deserialize)]
struct LinkForm {
    csrf: String,
}

/// `POST /auth/{provider}/start` with the session's `csrf`: link an account to the signed-in
/// user.
async fn start_linking(
    State(app): State<Arc<App>>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    form: Result<axum::Form<LinkForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let linking = async {
        let principal = auth::principal_of(&app.store, &headers).await?;
        let Some(principal) = principal else {
            return Err(Failure::new(
                StatusCode::UNAUTHORIZED,
                "sign in first to link an account to your user",
            ));
        };
        let csrf_ok = match (&principal.via, &form) {
            (Via::Session { csrf_token }, Ok(form)) => auth::same_secret(&form.csrf, csrf_token),
            _ => false,
        };
        if !csrf_ok {
            return Err(Failure::new(
                StatusCode::FORBIDDEN,
                "linking needs the form's CSRF token from a signed-in dashboard",
            ));
        }
        begin(&app, &provider, Some(principal.user.id)).await
    };
    linking.await.unwrap_or_else(page)
}

async fn begin(
    app: &App,
    provider: &str,
    link_user_id: Option<String>,
) -> Result<Response, Failure> {
    let sign_in = &app.sign_in;
    let provider = Provider::parse(provider)
        .filter(|p| sign_in.configured(*p))
        .ok_or_else(|| {
            Failure::new(
                StatusCode::NOT_FOUND,
                format!("no sign-in provider {provider:?} is configured on this Catwalk"),
            )
        })?;
    let state = catwalk_vault::new_token("st");
    let nonce = catwalk_vault::new_token("n");
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let url = match provider {
        Provider::GitHub => {
            let github = sign_in.github.as_ref().expect("configured");
            github.authorize_url(&state, challenge)
        }
        Provider::Oidc => {
            let oidc = sign_in.oidc.as_ref().expect("configured");
            oidc.authorize_url(&sign_in.http, &state, &nonce, challenge)
                .await?
        }
    };
    let flow_id = catwalk_vault::new_token("cwf");
    app.store
        .create_sign_in_flow(
            &catwalk_vault::hash_token(&flow_id),
            &SignInFlow {
                provider: provider.id().to_string(),
                state,
                pkce_verifier: verifier.secret().to_string(),
                nonce,
                link_user_id,
                expires_at: catwalk_store::now_millis() + FLOW_LIFETIME.as_millis() as i64,
            },
        )
        .await?;
    let mut response = redirect(url.as_str());
    append_cookie(&mut response, &flow_cookie(&flow_id, app.secure_cookies));
    Ok(response)
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /auth/{provider}/callback`: the provider sends the browser back here.
async fn callback(
    State(app): State<Arc<App>>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let mut response = finish(&app, &provider, &headers, query)
        .await
        .unwrap_or_else(|failure| {
            tracing::info!(provider, status = %failure.status, reason = %failure.message, "a single sign-on failed");
            page(failure)
        });
    // The flow is spent whatever happened.
    append_cookie(&mut response, &flow_cookie("", app.secure_cookies));
    response
}

async fn finish(
    app: &App,
    provider_id: &str,
    headers: &HeaderMap,
    query: CallbackQuery,
) -> Result<Response, Failure> {
    let sign_in = &app.sign_in;
    let provider = Provider::parse(provider_id)
        .filter(|p| sign_in.configured(*p))
        .ok_or_else(|| {
            Failure::new(
                StatusCode::NOT_FOUND,
                format!("no sign-in provider {provider_id:?} is configured on this Catwalk"),
            )
        })?;
    let name = sign_in.display_name(provider).to_string();
    let flow = match cookie_value(headers, FLOW_COOKIE) {
        Some(id) if !id.is_empty() => {
            app.store
                .take_sign_in_flow(&catwalk_vault::hash_token(&id))
                .await?
        }
        _ => None,
    };
    let Some(flow) = flow else {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "this sign-in was not started in this browser, was used already, or took more than \
             10 minutes: start again",
        ));
    };
    let state_ok = query
        .state
        .as_deref()
        .is_some_and(|given| auth::same_secret(given, &flow.state));
    if flow.provider != provider.id() || !state_ok {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "the sign-in's state does not match the one this browser began with: start again",
        ));
    }
    if let Some(error) = query.error {
        let description = query
            .error_description
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            format!("{name} did not sign you in ({error}{description})"),
        ));
    }
    let Some(code) = query.code.filter(|c| !c.is_empty()) else {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            format!("{name} sent no sign-in code"),
        ));
    };
    let account = match provider {
        Provider::GitHub => {
            let github = sign_in.github.as_ref().expect("configured");
            github
                .account(&sign_in.http, &code, &flow.pkce_verifier)
                .await?
        }
        Provider::Oidc => {
            let oidc = sign_in.oidc.as_ref().expect("configured");
            oidc.account(&sign_in.http, &code, &flow.pkce_verifier, &flow.nonce)
                .await?
        }
    };
    let provider_account = ProviderAccount {
        provider: provider.id(),
        issuer: &account.issuer,
        subject: &account.subject,
        login: &account.login,
    };

    if let Some(user_id) = flow.link_user_id {
        // The user who asked is still there (the row would be gone with them otherwise).
        return match app.store.link_identity(&user_id, &provider_account).await? {
            Linked::New | Linked::Already => {
                tracing::info!(
                    provider = provider.id(),
                    user_id,
                    login = account.login,
                    "account linked"
                );
                Ok(redirect(&format!("{}/", sign_in.public_url)))
            }
            Linked::OtherUser => Err(Failure::new(
                StatusCode::CONFLICT,
                format!(
                    "the {name} account {} is linked to another Catwalk user already",
                    account.login
                ),
            )),
        };
    }

    let user = match app.store.user_of_identity(&provider_account).await? {
        Some(user) => user,
        None if sign_in.new_users == NewUsers::None => {
            return Err(Failure::new(
                StatusCode::FORBIDDEN,
                format!(
                    "no Catwalk user is linked to the {name} account {}, and this Catwalk does \
                     not make new users at sign-in: ask an admin for a user, sign in to it, \
                     then link the account",
                    account.login
                ),
            ));
        }
        None => new_user(app, &account, &provider_account).await?,
    };
    let (session, _csrf) = auth::start_session(&app.store, &user, app.secure_cookies).await?;
    let mut response = redirect(&format!("{}/", sign_in.public_url));
    append_cookie(&mut response, &session);
    Ok(response)
}

/// A new member for an account nobody has linked, named after the account (`-2`, `-3`, …
/// when the name is taken: a taken name never means the same person).
async fn new_user(
    app: &App,
    account: &Account,
    provider_account: &ProviderAccount<'_>,
) -> Result<User, Failure> {
    let base = username_base(&account.username_hint);
    for attempt in 0..50 {
        let username = username_candidate(&base, attempt);
        match app
            .store
            .create_user_with_identity(&username, MEMBER, provider_account)
            .await
        {
            Ok(user) => {
                tracing::info!(
                    provider = provider_account.provider,
                    username,
                    "a new user signed in"
                );
                return Ok(user);
            }
            Err(StoreError::Conflict(_)) => {
                // The same account signing in twice at once: the other attempt made the user.
                if let Some(user) = app.store.user_of_identity(provider_account).await? {
                    return Ok(user);
                }
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(Failure::internal(format!(
        "no free username from {base:?} after 50 tries"
    )))
}

/// A valid username from what the provider calls the account: disallowed characters become
/// `-`, it starts with a letter or digit, and leaves room for a suffix.
fn username_base(hint: &str) -> String {
    let cleaned: String = hint
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    let short: String = trimmed.chars().take(48).collect();
    let short = short.trim_end_matches(['-', '_', '.']);
    if short.is_empty() {
        "user".to_string()
    } else {
        short.to_string()
    }
}

/// The `attempt`-th name tried: the base, then `base-2` to `base-9`, then random suffixes (a
/// crowd of namesakes must not make each sign-in walk a long list).
fn username_candidate(base: &str, attempt: u32) -> String {
    match attempt {
        0 => base.to_string(),
        1..=8 => format!("{base}-{}", attempt + 1),
        _ => {
            let random = catwalk_vault::new_token("x");
            let suffix: String = random
                .chars()
                .skip(2)
                .filter(char::is_ascii_alphanumeric)
                .take(6)
                .collect();
            format!("{base}-{}", suffix.to_ascii_lowercase())
        }
    }
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn append_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The flow cookie (empty and expired when `id` is empty). SameSite=Lax: it must come back on
/// the provider's top-level redirect to the callback, and on nothing cross-site that writes.
fn flow_cookie(id: &str, secure: bool) -> String {
    let lifetime = if id.is_empty() {
        Duration::ZERO
    } else {
        FLOW_LIFETIME
    };
    auth::private_cookie(FLOW_COOKIE, id.to_string(), secure, lifetime)
}

/// A plain page saying what went wrong, with a way back.
fn page(failure: Failure) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in failed · \
         Catwalk</title></head>\n<body><h1>Sign-in failed</h1>\n<p id=\"sign-in-error\">{}</p>\n\
         <p><a href=\"/\">Back to Catwalk</a></p></body></html>\n",
        escape_html(&failure.message)
    );
    let mut response = (failure.status, Html(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}
