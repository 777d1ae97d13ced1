//! GitHub's OAuth web flow: `/login/oauth/authorize`, `/login/oauth/access_token`, then the
//! REST API's `GET /user`. GitHub is not an OpenID Connect provider: who signed in is whatever
//! the API says the token belongs to, and the account's number (`id`) is the subject, since a
//! login can be renamed and then taken by someone else.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, TokenUrl,
};
use oauth2::{TokenResponse, url::Url};
use serde::Deserialize;

use super::{Account, Failure, GitHubSso};

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

pub struct GitHub {
    config: GitHubSso,
    client: Client,
}

/// The part of `GET /user` Catwalk reads.
#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
    login: String,
}

impl GitHub {
    pub fn new(config: GitHubSso, redirect: &str) -> Result<GitHub, String> {
        let url = config.url.trim_end_matches('/');
        let client = BasicClient::new(ClientId::new(config.client_id.clone()))
            .set_client_secret(ClientSecret::new(config.client_secret.clone()))
            .set_auth_uri(
                AuthUrl::new(format!("{url}/login/oauth/authorize"))
                    .map_err(|e| format!("invalid GitHub URL {url:?}: {e}"))?,
            )
            .set_token_uri(
                TokenUrl::new(format!("{url}/login/oauth/access_token"))
                    .map_err(|e| format!("invalid GitHub URL {url:?}: {e}"))?,
            )
            .set_redirect_uri(
                RedirectUrl::new(redirect.to_string())
                    .map_err(|e| format!("invalid redirect URL {redirect:?}: {e}"))?,
            )
            // GitHub documents the client's credentials as form fields of the token request.
            .set_auth_type(AuthType::RequestBody);
        Ok(GitHub { config, client })
    }

    /// The issuer recorded with GitHub accounts: github.com and each Enterprise server number
    /// their users apart.
    pub fn issuer(&self) -> &str {
        self.config.url.trim_end_matches('/')
    }

    /// Where the browser goes to sign in. No scope is asked for: the public profile is all
    /// Catwalk reads. GitHub accepts PKCE, so the code is bound to this sign-in too.
    pub fn authorize_url(&self, state: &str, challenge: PkceCodeChallenge) -> Url {
        let state = state.to_string();
        self.client
            .authorize_url(move || CsrfToken::new(state))
            .set_pkce_challenge(challenge)
            .url()
            .0
    }

    /// Exchanges the code for a token (kept only for this request) and asks the API whose it
    /// is.
    pub async fn account(
        &self,
        http: &reqwest::Client,
        code: &str,
        verifier: &str,
    ) -> Result<Account, Failure> {
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()))
            .request_async(http)
            .await
            .map_err(|error| match error {
                RequestTokenError::ServerResponse(response) => {
                    Failure::refused("GitHub", &response.to_string())
                }
                // GitHub answers a bad code with 200 and an `error` field, not a token.
                RequestTokenError::Parse(_, body) => {
                    Failure::refused("GitHub", &oauth_error_of(&body))
                }
                RequestTokenError::Request(error) => Failure::unreachable("GitHub", &error),
                RequestTokenError::Other(error) => Failure::refused("GitHub", &error),
            })?;
        let api = self.config.api_url.trim_end_matches('/');
        let response = http
            .get(format!("{api}/user"))
            .bearer_auth(token.access_token().secret())
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .send()
            .await
            .map_err(|error| Failure::unreachable("GitHub's API", &error))?;
        if !response.status().is_success() {
            return Err(Failure::bad_gateway(format!(
                "GitHub's API answered {} to GET /user",
                response.status()
            )));
        }
        let user: GitHubUser = response.json().await.map_err(|error| {
            Failure::bad_gateway(format!("GitHub's API sent an unreadable user: {error}"))
        })?;
        Ok(Account {
            issuer: self.issuer().to_string(),
            subject: user.id.to_string(),
            login: user.login.clone(),
            username_hint: user.login,
        })
    }
}

/// `error: error_description` from an OAuth error body, or a short note that there was none.
pub(super) fn oauth_error_of(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
        error_description: Option<String>,
    }
    match serde_json::from_slice::<OAuthError>(body) {
        Ok(OAuthError {
            error,
            error_description: Some(description),
        }) => format!("{error}: {description}"),
        Ok(OAuthError { error, .. }) => error,
        Err(_) => "an answer that is not a token".to_string(),
    }
}
