//! Single sign-on settings for `catwalk serve`: flag over environment over default, except the
//! client secrets, which come only from the environment (a command line is visible to every
//! user of the machine).

use catwalk_server::{GitHubSso, NewUsers, OidcSso, SsoConfig};

use super::{Environment, flag_or_var, vars};
use crate::args::SsoArgs;
use crate::error::CliError;

pub fn resolve(args: &SsoArgs, environment: &Environment) -> Result<SsoConfig, CliError> {
    let github_id = flag_or_var(
        args.github_client_id.as_deref(),
        environment,
        vars::CATWALK_GITHUB_CLIENT_ID,
    );
    let github_secret = environment.var(vars::CATWALK_GITHUB_CLIENT_SECRET);
    let github = match (github_id, github_secret) {
        (Some(client_id), Some(secret)) => Some(GitHubSso {
            client_id,
            client_secret: secret.to_owned(),
            url: http_url(
                flag_or_var(
                    args.github_url.as_deref(),
                    environment,
                    vars::CATWALK_GITHUB_URL,
                ),
                catwalk_server::GITHUB_URL,
                vars::CATWALK_GITHUB_URL,
            )?,
            api_url: http_url(
                flag_or_var(
                    args.github_api_url.as_deref(),
                    environment,
                    vars::CATWALK_GITHUB_API_URL,
                ),
                catwalk_server::GITHUB_API_URL,
                vars::CATWALK_GITHUB_API_URL,
            )?,
        }),
        (Some(_), None) => {
            return Err(CliError::Usage(format!(
                "GitHub sign-in needs the OAuth app's secret in {} (never on the command line)",
                vars::CATWALK_GITHUB_CLIENT_SECRET
            )));
        }
        (None, Some(_)) => {
            return Err(CliError::Usage(format!(
                "{} is set without a client id: set {} (or --github-client-id) too",
                vars::CATWALK_GITHUB_CLIENT_SECRET,
                vars::CATWALK_GITHUB_CLIENT_ID
            )));
        }
        (None, None) => None,
    };

    let issuer = flag_or_var(
        args.oidc_issuer.as_deref(),
        environment,
        vars::CATWALK_OIDC_ISSUER,
    );
    let oidc_id = flag_or_var(
        args.oidc_client_id.as_deref(),
        environment,
        vars::CATWALK_OIDC_CLIENT_ID,
    );
    let oidc_secret = environment.var(vars::CATWALK_OIDC_CLIENT_SECRET);
    let oidc = match (issuer, oidc_id) {
        // Kept exactly as given: ID tokens must name the issuer byte for byte.
        (Some(issuer), Some(client_id)) => Some(OidcSso {
            issuer: http_url(Some(issuer.clone()), "", vars::CATWALK_OIDC_ISSUER)
                .map(|_| issuer)?,
            client_id,
            client_secret: oidc_secret.map(str::to_owned),
            name: flag_or_var(
                args.oidc_name.as_deref(),
                environment,
                vars::CATWALK_OIDC_NAME,
            )
            .unwrap_or_else(|| catwalk_server::OIDC_NAME.to_owned()),
        }),
        (None, None) if oidc_secret.is_none() => None,
        _ => {
            return Err(CliError::Usage(format!(
                "OpenID Connect sign-in needs both {} (--oidc-issuer) and {} (--oidc-client-id)",
                vars::CATWALK_OIDC_ISSUER,
                vars::CATWALK_OIDC_CLIENT_ID
            )));
        }
    };

    let new_users = match flag_or_var(
        args.sso_new_users.as_deref(),
        environment,
        vars::CATWALK_SSO_NEW_USERS,
    ) {
        Some(text) => text.parse::<NewUsers>().map_err(|error| {
            CliError::Usage(format!("{}: {error}", vars::CATWALK_SSO_NEW_USERS))
        })?,
        None => NewUsers::default(),
    };
    Ok(SsoConfig {
        github,
        oidc,
        new_users,
    })
}

/// An `http(s)://` URL without a trailing slash (the default when none is given).
fn http_url(given: Option<String>, default: &str, var: &str) -> Result<String, CliError> {
    let text = given.unwrap_or_else(|| default.to_owned());
    let url = reqwest::Url::parse(&text)
        .map_err(|error| CliError::Usage(format!("{var}: invalid URL {text:?} ({error})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(CliError::Usage(format!(
            "{var}: {text:?} is not an http:// or https:// URL"
        )));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command};

    fn resolve_with(args: &[&str], vars: &[(&str, &str)]) -> Result<SsoConfig, CliError> {
        let mut all = vec!["catwalk", "serve"];
        all.extend_from_slice(args);
        let cli = Cli::try_parse_from(all).unwrap();
        let Command::Serve(serve) = &cli.command else {
            panic!("not serve");
        };
        resolve(&serve.sso, &Environment::new(vars.to_vec(), None))
    }

    #[test]
    fn nothing_configured_means_no_providers() {
        assert_eq!(resolve_with(&[], &[]).unwrap(), SsoConfig::default());
    }

    #[test]
    fn github_takes_its_secret_from_the_environment_only() {
        let config = resolve_with(
            &["--github-client-id", "from-flag"],
            &[
                ("CATWALK_GITHUB_CLIENT_ID", "from-env"),
                ("CATWALK_GITHUB_CLIENT_SECRET", "s3cret"),
                ("CATWALK_GITHUB_URL", "http://127.0.0.1:9/"),
            ],
        )
        .unwrap();
        let github = config.github.unwrap();
        assert_eq!(github.client_id, "from-flag");
        assert_eq!(github.client_secret, "s3cret");
        assert_eq!(github.url, "http://127.0.0.1:9");
        assert_eq!(github.api_url, "https://api.github.com");
        assert_eq!(config.new_users, NewUsers::Member);

        let missing = resolve_with(&["--github-client-id", "x"], &[]).unwrap_err();
        assert!(
            missing.to_string().contains("CATWALK_GITHUB_CLIENT_SECRET"),
            "{missing}"
        );
        assert!(resolve_with(&[], &[("CATWALK_GITHUB_CLIENT_SECRET", "s")]).is_err());
        // There is no flag for a secret.
        let cli = Cli::try_parse_from(["catwalk", "serve", "--github-client-secret", "s"]);
        assert!(cli.is_err());
    }

    #[test]
    fn oidc_needs_issuer_and_client_id_and_names_its_button() {
        let config = resolve_with(
            &["--oidc-issuer", "https://id.example/realms/x/"],
            &[
                ("CATWALK_OIDC_CLIENT_ID", "catwalk"),
                ("CATWALK_OIDC_NAME", "Example ID"),
                ("CATWALK_SSO_NEW_USERS", "none"),
            ],
        )
        .unwrap();
        let oidc = config.oidc.unwrap();
        assert_eq!(oidc.issuer, "https://id.example/realms/x/");
        assert_eq!(oidc.client_secret, None);
        assert_eq!(oidc.name, "Example ID");
        assert_eq!(config.new_users, NewUsers::None);
        assert!(resolve_with(&["--oidc-issuer", "https://id.example"], &[]).is_err());
        assert!(
            resolve_with(
                &["--oidc-issuer", "ftp://id.example", "--oidc-client-id", "c"],
                &[]
            )
            .is_err()
        );
        let policy = resolve_with(&["--sso-new-users", "admin"], &[]).unwrap_err();
        assert!(policy.to_string().contains("member"), "{policy}");
    }
}
