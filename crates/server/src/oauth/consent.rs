//! `/oauth/authorize`: the authorization request, the sign-in it may need, the consent page and
//! the owner's decision.
//!
//! Order matters (OAuth 2.1, section 4.1.2.1): the client and its redirect URI are checked first,
//! and while either is in doubt the user sees an error page and nothing is redirected; only then
//! do other errors go back to the client's redirect URI. Every response to the client carries
//! `iss` (RFC 9207) and the client's `state`.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use catwalk_store::{OAuthCode, User, now_millis};
use cookie::{Cookie, SameSite};
use serde::Deserialize;

use super::clients::{self, Client};
use super::pages::{self, Consent};
use super::rules;
use crate::setup::App;

/// The double-submit cookie of the sign-in form (there is no session yet to hold a CSRF token).
const LOGIN_CSRF_COOKIE: &str = "catwalk_oauth_login";

/// The parameters of an authorization request (a repeated one makes the query invalid).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    resource: Option<String>,
    scope: Option<String>,
}

impl AuthorizeParams {
    /// The parameters to carry through the consent form.
    fn carried(&self) -> Vec<(&'static str, String)> {
        let fields = [
            ("response_type", &self.response_type),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("state", &self.state),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("resource", &self.resource),
            ("scope", &self.scope),
        ];
        fields
            .into_iter()
            .filter_map(|(key, value)| value.clone().map(|v| (key, v)))
            .collect()
    }
}

/// The consent form's fields: the request's parameters plus the decision and the CSRF token.
#[derive(Deserialize)]
pub struct Decision {
    #[serde(flatten)]
    params: AuthorizeParams,
    decision: Option<String>,
    csrf: Option<String>,
}

#[derive(Deserialize)]
pub struct SignIn {
    username: String,
    password: String,
    return_to: String,
    login_csrf: Option<String>,
}

/// An authorization request that passed every check that does not need the user.
struct Checked {
    client: Client,
    redirect_uri: String,
    deployment: String,
    params: AuthorizeParams,
}

/// `GET /oauth/authorize`.
pub async fn authorize_page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let params: AuthorizeParams = match serde_urlencoded::from_str(raw.as_deref().unwrap_or("")) {
        Ok(params) => params,
        Err(e) => {
            return pages::error_page(
                StatusCode::BAD_REQUEST,
                &format!("The authorization request is malformed: {e}."),
            );
        }
    };
    let checked = match check(&app, params).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let Some((user, csrf)) = session_user(&app, &headers).await else {
        let return_to = format!("/oauth/authorize?{}", raw.unwrap_or_default());
        return sign_in_form(&app, &return_to, None);
    };
    if let Err(response) = owned_deployment(&app, &user, &checked.deployment).await {
        return response;
    }
    let redirect_host = url::Url::parse(&checked.redirect_uri)
        .ok()
        .map(|url| match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
            (Some(host), None) => format!("{}://{host}", url.scheme()),
            _ => format!("{}:", url.scheme()),
        })
        .unwrap_or_else(|| checked.redirect_uri.clone());
    let local_redirect = url::Url::parse(&checked.redirect_uri).is_ok_and(|url| {
        matches!(url.host(), Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost"))
            || matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
    });
    let endpoint = format!(
        "{}{}",
        app.public_url,
        catwalk_gateway::endpoint_path(&checked.deployment)
    );
    let carried = checked.params.carried();
    pages::consent_page(&Consent {
        client_name: checked.client.name.as_deref(),
        client_id: &checked.client.id,
        client_uri: checked.client.uri.as_deref(),
        redirect_uri: &checked.redirect_uri,
        redirect_host: &redirect_host,
        local_redirect,
        deployment: &checked.deployment,
        endpoint: &endpoint,
        username: &user.username,
        csrf: &csrf,
        params: &carried,
    })
}

/// `POST /oauth/authorize`: the owner's answer from the consent page.
pub async fn decide(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form: Decision = match serde_urlencoded::from_bytes(&body) {
        Ok(form) => form,
        Err(e) => {
            return pages::error_page(
                StatusCode::BAD_REQUEST,
                &format!("The form is malformed: {e}."),
            );
        }
    };
    let checked = match check(&app, form.params).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let Some((user, csrf)) = session_user(&app, &headers).await else {
        return pages::error_page(
            StatusCode::UNAUTHORIZED,
            "You are not signed in (any more). Start again from your MCP client.",
        );
    };
    if !form
        .csrf
        .as_deref()
        .is_some_and(|given| crate::auth::same_secret(given, &csrf))
    {
        return pages::error_page(
            StatusCode::FORBIDDEN,
            "The form's security token is missing or wrong. Start again from your MCP client.",
        );
    }
    let deployment_id = match owned_deployment(&app, &user, &checked.deployment).await {
        Ok(id) => id,
        Err(response) => return response,
    };
    let params = &checked.params;
    match form.decision.as_deref() {
        Some("approve") => {}
        Some("deny") => {
            return redirect_error(&app, &checked, "access_denied", "the user denied access");
        }
        _ => {
            return pages::error_page(StatusCode::BAD_REQUEST, "Choose Approve or Deny.");
        }
    }
    let code = catwalk_vault::new_token(super::CODE_PREFIX);
    let stored = OAuthCode {
        client_id: checked.client.id.clone(),
        user_id: user.id.clone(),
        deployment_id,
        resource: params.resource.clone().unwrap_or_default(),
        redirect_uri: checked.redirect_uri.clone(),
        code_challenge: params.code_challenge.clone().unwrap_or_default(),
        scope: params.scope.clone().filter(|s| !s.is_empty()),
        expires_at: now_millis() + super::CODE_LIFETIME.as_millis() as i64,
    };
    if let Err(error) = app
        .store
        .create_oauth_code(&catwalk_vault::hash_token(&code), &stored)
        .await
    {
        tracing::error!(%error, "cannot store an OAuth code");
        return redirect_error(
            &app,
            &checked,
            "server_error",
            "Catwalk hit an internal error",
        );
    }
    tracing::info!(
        client = %checked.client.id, deployment = %checked.deployment, user = %user.username,
        "OAuth access approved"
    );
    let mut answer = vec![("code", code.as_str())];
    if let Some(state) = &params.state {
        answer.push(("state", state));
    }
    answer.push(("iss", &app.public_url));
    redirect(&rules::with_query(&checked.redirect_uri, &answer))
}

/// `POST /oauth/sign-in`: the password form shown before consent.
pub async fn sign_in(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form: SignIn = match serde_urlencoded::from_bytes(&body) {
        Ok(form) => form,
        Err(_) => return pages::error_page(StatusCode::BAD_REQUEST, "The form is malformed."),
    };
    // Only back to an authorization request of this Catwalk: never an open redirect.
    if !form.return_to.starts_with("/oauth/authorize?") {
        return pages::error_page(StatusCode::BAD_REQUEST, "The form is malformed.");
    }
    let cookie = login_csrf_cookie(&headers);
    let csrf_ok = match (&cookie, &form.login_csrf) {
        (Some(cookie), Some(given)) => crate::auth::same_secret(given, cookie),
        _ => false,
    };
    if !csrf_ok {
        return pages::error_page(
            StatusCode::FORBIDDEN,
            "The sign-in form's security token is missing or wrong (are cookies enabled?). \
             Start again from your MCP client.",
        );
    }
    let user = match crate::api::check_password(&app, &form.username, form.password).await {
        Ok(user) => user,
        Err(_) => {
            return sign_in_form(
                &app,
                &form.return_to,
                Some("Wrong username or password (or too many attempts: wait a minute)."),
            );
        }
    };
    let (session_cookie, _) =
        match crate::auth::start_session(&app.store, &user, app.secure_cookies).await {
            Ok(started) => started,
            Err(_) => {
                return pages::error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Catwalk could not start a session; try again.",
                );
            }
        };
    let mut response = redirect(&form.return_to);
    if let Ok(value) = HeaderValue::from_str(&session_cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Every check of an authorization request that does not depend on who is signed in.
async fn check(app: &App, params: AuthorizeParams) -> Result<Checked, Response> {
    let client_id = params.client_id.clone().unwrap_or_default();
    let client = clients::find(app, &client_id)
        .await
        .map_err(|message| pages::error_page(StatusCode::BAD_REQUEST, &message))?;
    let Some(redirect_uri) = params.redirect_uri.clone() else {
        return Err(pages::error_page(
            StatusCode::BAD_REQUEST,
            "The request has no redirect_uri.",
        ));
    };
    if !client.redirect_matches(&redirect_uri) {
        return Err(pages::error_page(
            StatusCode::BAD_REQUEST,
            "The redirect_uri is not one this client registered; nothing was sent to it.",
        ));
    }
    let mut checked = Checked {
        client,
        redirect_uri,
        deployment: String::new(),
        params,
    };
    if checked.params.response_type.as_deref() != Some("code") {
        return Err(redirect_error(
            app,
            &checked,
            "unsupported_response_type",
            "response_type must be code",
        ));
    }
    if let Err(message) = rules::check_pkce_request(
        checked.params.code_challenge.as_deref(),
        checked.params.code_challenge_method.as_deref(),
    ) {
        return Err(redirect_error(app, &checked, "invalid_request", &message));
    }
    let Some(resource) = checked.params.resource.clone() else {
        return Err(redirect_error(
            app,
            &checked,
            "invalid_target",
            "resource is required: the URL of the deployment's MCP endpoint",
        ));
    };
    let Some(deployment) = rules::deployment_of_resource(&app.public_url, &resource) else {
        return Err(redirect_error(
            app,
            &checked,
            "invalid_target",
            "resource must be the URL of one deployment's MCP endpoint on this Catwalk",
        ));
    };
    checked.deployment = deployment;
    Ok(checked)
}

/// The deployment's id when `user` owns it; else the same error page whether it exists or not.
async fn owned_deployment(app: &App, user: &User, name: &str) -> Result<String, Response> {
    match app.store.get_deployment(name).await {
        Ok(Some(deployment)) if deployment.owner_id.as_deref() == Some(user.id.as_str()) => {
            Ok(deployment.id)
        }
        Ok(_) => Err(pages::error_page(
            StatusCode::FORBIDDEN,
            "You have no deployment at this address, so you cannot grant access to it. Only a \
             deployment's owner can.",
        )),
        Err(error) => {
            tracing::error!(%error, "cannot read a deployment for an OAuth request");
            Err(pages::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Catwalk cannot read its deployments right now; try again.",
            ))
        }
    }
}

/// The signed-in user of the browser (a session cookie; API tokens do not sign browsers in) and
/// the session's CSRF token.
async fn session_user(app: &App, headers: &HeaderMap) -> Option<(User, String)> {
    let session_id = crate::auth::session_cookie(headers)?;
    match app
        .store
        .find_web_session(&catwalk_vault::hash_token(&session_id))
        .await
    {
        Ok(session) => session.map(|s| (s.user, s.csrf_token)),
        Err(error) => {
            tracing::error!(%error, "cannot read a browser session");
            None
        }
    }
}

fn sign_in_form(app: &App, return_to: &str, error: Option<&str>) -> Response {
    let token = catwalk_vault::new_token("csrf");
    let mut response = pages::sign_in_page(return_to, &token, error);
    let cookie = Cookie::build((LOGIN_CSRF_COOKIE, token))
        .path("/oauth")
        .http_only(true)
        .secure(app.secure_cookies)
        .same_site(SameSite::Strict)
        .build();
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

fn login_csrf_cookie(headers: &HeaderMap) -> Option<String> {
    crate::auth::cookie_value(headers, LOGIN_CSRF_COOKIE)
}

/// An error for the client, at its (already checked) redirect URI.
fn redirect_error(app: &App, checked: &Checked, code: &str, description: &str) -> Response {
    let mut answer = vec![("error", code), ("error_description", description)];
    if let Some(state) = &checked.params.state {
        answer.push(("state", state));
    }
    answer.push(("iss", &app.public_url));
    redirect(&rules::with_query(&checked.redirect_uri, &answer))
}

/// 303: the browser follows with a GET, whatever the method of the request was.
fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            response.headers_mut().insert(header::LOCATION, value);
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(_) => pages::error_page(StatusCode::BAD_REQUEST, "The redirect URI is not valid."),
    }
}
