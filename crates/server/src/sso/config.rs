//! What the operator configures for single sign-on (`catwalk serve` flags and environment).

use std::fmt;

/// Single sign-on settings: none, GitHub, an OpenID Connect provider, or both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SsoConfig {
    pub github: Option<GitHubSso>,
    pub oidc: Option<OidcSso>,
    /// What happens when an account no user is linked to signs in.
    pub new_users: NewUsers,
}

impl SsoConfig {
    pub fn is_empty(&self) -> bool {
        self.github.is_none() && self.oidc.is_none()
    }
}

/// A GitHub OAuth app (github.com or a GitHub Enterprise Server).
#[derive(Clone, PartialEq, Eq)]
pub struct GitHubSso {
    pub client_id: String,
    pub client_secret: String,
    /// Where users sign in: `https://github.com`, or the Enterprise server's base URL.
    pub url: String,
    /// The REST API: `https://api.github.com`, or `<server>/api/v3` on Enterprise.
    pub api_url: String,
}

pub const GITHUB_URL: &str = "https://github.com";
pub const GITHUB_API_URL: &str = "https://api.github.com";

/// An OpenID Connect provider, found by discovery from its issuer URL.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcSso {
    pub issuer: String,
    pub client_id: String,
    /// `None`: Catwalk is a public client (PKCE alone protects the code).
    pub client_secret: Option<String>,
    /// The label of the dashboard's button: "Sign in with NAME".
    pub name: String,
}

/// The default label of the OpenID Connect button.
pub const OIDC_NAME: &str = "OpenID Connect";

/// Whether an account that no user is linked to may sign in (becoming a new member).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NewUsers {
    /// It becomes a new user with the role `member`.
    #[default]
    Member,
    /// It is refused: only accounts linked already (by their user, signed in) sign in.
    None,
}

impl std::str::FromStr for NewUsers {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "member" => Ok(NewUsers::Member),
            "none" => Ok(NewUsers::None),
            other => Err(format!(
                "unknown new-user policy {other:?}: use `member` (an unknown account becomes a \
                 new member) or `none` (only accounts linked already sign in)"
            )),
        }
    }
}

// The secrets stay out of logs and panics.
impl fmt::Debug for GitHubSso {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubSso")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("url", &self.url)
            .field("api_url", &self.api_url)
            .finish()
    }
}

impl fmt::Debug for OidcSso {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcSso")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("name", &self.name)
            .finish()
    }
}
