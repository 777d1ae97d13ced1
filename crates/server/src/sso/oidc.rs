//! An OpenID Connect provider: discovery from the issuer, the authorization code flow with PKCE
//! (S256), state and nonce, and the ID token verified against the provider's JWKS (signature,
//! `iss`, `aud`, `exp`, `nonce`) by `openidconnect`.

use std::time::{Duration, Instant};

use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, Scope, SignatureVerificationError,
};
use tokio::sync::Mutex;
use url::Url;

use super::{Account, Failure, OidcSso};

/// How long discovery (and so the JWKS) is reused before it is fetched again. A token signed
/// with a key not in the cached set triggers a fetch at once, so key rotations are followed.
const METADATA_LIFETIME: Duration = Duration::from_secs(300);

pub struct Oidc {
    pub config: OidcSso,
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    metadata: Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

impl Oidc {
    pub fn new(config: OidcSso, redirect: &str) -> Result<Oidc, String> {
        let issuer = IssuerUrl::new(config.issuer.clone())
            .map_err(|e| format!("invalid OIDC issuer URL {:?}: {e}", config.issuer))?;
        let redirect = RedirectUrl::new(redirect.to_string())
            .map_err(|e| format!("invalid redirect URL {redirect:?}: {e}"))?;
        Ok(Oidc {
            config,
            issuer,
            redirect,
            metadata: Mutex::new(None),
        })
    }

    /// The provider's discovery document (with its JWKS), from the cache unless `refresh`.
    async fn metadata(
        &self,
        http: &reqwest::Client,
        refresh: bool,
    ) -> Result<CoreProviderMetadata, Failure> {
        let mut cached = self.metadata.lock().await;
        if !refresh
            && let Some((at, metadata)) = cached.as_ref()
            && at.elapsed() < METADATA_LIFETIME
        {
            return Ok(metadata.clone());
        }
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), http)
            .await
            .map_err(|error| {
                Failure::bad_gateway(format!(
                    "cannot read the discovery document of {}: {}",
                    self.config.name,
                    error_chain(&error)
                ))
            })?;
        *cached = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
    ) -> openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            self.config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// Where the browser goes to sign in.
    pub async fn authorize_url(
        &self,
        http: &reqwest::Client,
        state: &str,
        nonce: &str,
        challenge: PkceCodeChallenge,
    ) -> Result<Url, Failure> {
        let client = self.client(self.metadata(http, false).await?);
        let (state, nonce) = (state.to_string(), nonce.to_string());
        let (url, _, _) = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .add_scope(Scope::new("profile".to_string()))
            .add_scope(Scope::new("email".to_string()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(url)
    }

    /// Exchanges the code, verifies the ID token, and reads who signed in (asking the userinfo
    /// endpoint for a name only when the ID token has none).
    pub async fn account(
        &self,
        http: &reqwest::Client,
        code: &str,
        verifier: &str,
        nonce: &str,
    ) -> Result<Account, Failure> {
        let name = self.config.name.as_str();
        let client = self.client(self.metadata(http, false).await?);
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|error| {
                Failure::bad_gateway(format!("{name} has no token endpoint: {error}"))
            })?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()))
            .request_async(http)
            .await
            .map_err(|error| match error {
                RequestTokenError::ServerResponse(response) => {
                    Failure::refused(name, &response.to_string())
                }
                RequestTokenError::Parse(_, body) => {
                    Failure::refused(name, &super::github::oauth_error_of(&body))
                }
                RequestTokenError::Request(error) => Failure::unreachable(name, &error),
                RequestTokenError::Other(error) => Failure::refused(name, &error),
            })?;
        let id_token = token.extra_fields().id_token().ok_or_else(|| {
            Failure::bad_gateway(format!("{name} sent no ID token with the access token"))
        })?;
        let nonce = Nonce::new(nonce.to_string());
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.clone(),
            // Signed with a key Catwalk has not seen: the provider may have rotated its keys.
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let fresh = self.client(self.metadata(http, true).await?);
                id_token
                    .claims(&fresh.id_token_verifier(), &nonce)
                    .map_err(|error| Failure::invalid_id_token(name, &error))?
                    .clone()
            }
            Err(error) => return Err(Failure::invalid_id_token(name, &error)),
        };
        let subject = claims.subject().to_string();
        let mut preferred = claims.preferred_username().map(|u| u.to_string());
        let mut email = claims.email().map(|e| e.to_string());
        let mut full_name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.to_string());
        if preferred.is_none()
            && email.is_none()
            && let Ok(request) =
                client.user_info(token.access_token().clone(), Some(claims.subject().clone()))
        {
            // Only for a nicer username: a provider whose userinfo fails still signs in.
            match request
                .request_async::<openidconnect::EmptyAdditionalClaims, _, openidconnect::core::CoreGenderClaim>(http)
                .await
            {
                Ok(info) => {
                    preferred = info.preferred_username().map(|u| u.to_string());
                    email = info.email().map(|e| e.to_string());
                    full_name = info
                        .name()
                        .and_then(|n| n.get(None))
                        .map(|n| n.to_string());
                }
                Err(error) => {
                    tracing::info!(provider = name, error = %error_chain(&error), "userinfo failed");
                }
            }
        }
        let login = preferred
            .clone()
            .or_else(|| email.clone())
            .unwrap_or_else(|| subject.clone());
        let username_hint = preferred
            .or_else(|| email.map(|e| e.split('@').next().unwrap_or_default().to_string()))
            .or(full_name)
            .unwrap_or_default();
        Ok(Account {
            issuer: self.issuer.as_str().to_string(),
            subject,
            login,
            username_hint,
        })
    }
}

/// An error with its causes, for messages: openidconnect's top-level messages are terse.
pub(super) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
