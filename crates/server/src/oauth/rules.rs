//! The protocol rules of the authorization server as pure functions, so that each is tested on
//! its own: PKCE, redirect URI matching, resource indicators, what a registrable redirect URI is.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use url::Url;

/// Whether `verifier` answers the S256 `challenge` (RFC 7636, section 4.6). Verifiers outside
/// the RFC's alphabet and length (43 to 128 characters) are refused before hashing.
pub fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    crate::auth::same_secret(&computed, challenge)
}

/// Checks an authorization request's PKCE parameters: a challenge is required, and S256 is the
/// only method (a missing method means `plain` in RFC 7636, so it is refused too).
pub fn check_pkce_request(challenge: Option<&str>, method: Option<&str>) -> Result<(), String> {
    let Some(challenge) = challenge.filter(|c| !c.is_empty()) else {
        return Err("code_challenge is required (PKCE with S256)".into());
    };
    match method {
        Some("S256") => {}
        Some(other) => {
            return Err(format!(
                "code_challenge_method {other:?} is not supported: use S256"
            ));
        }
        None => return Err("code_challenge_method is required and must be S256".into()),
    }
    // A S256 challenge is the base64url of 32 bytes: 43 characters.
    let ok = challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err("code_challenge is not a base64url SHA-256 digest".into())
    }
}

/// Whether the redirect URI of a request matches a registered one: exactly, as OAuth 2.1
/// (section 2.3.1) requires, except for the port of a loopback IP literal (`http://127.0.0.1`,
/// `http://[::1]`), which native clients pick at run time (OAuth 2.1, section 8.4.2).
pub fn redirect_uri_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(registered), Ok(requested)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    let loopback_ip = |url: &Url| {
        url.scheme() == "http"
            && matches!(
                url.host(),
                Some(url::Host::Ipv4(ip)) if ip.is_loopback()
            )
            || url.scheme() == "http"
                && matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
    };
    if !loopback_ip(&registered) || !loopback_ip(&requested) {
        return false;
    }
    registered.host() == requested.host()
        && registered.path() == requested.path()
        && registered.query() == requested.query()
        && registered.username() == requested.username()
        && registered.password().is_none()
        && requested.password().is_none()
        && requested.fragment().is_none()
}

/// Whether a client may register this redirect URI: an absolute URI without a fragment; `https`,
/// or `http` only to the client's own machine (a loopback host), or a private-use scheme of a
/// native app (`com.example.app:/cb`, `cursor://…`). Schemes that run code or read files in the
/// browser are refused.
pub fn registrable_redirect_uri(uri: &str) -> Result<(), String> {
    let url = Url::parse(uri).map_err(|e| format!("redirect URI {uri:?} is not a URL: {e}"))?;
    if url.fragment().is_some() {
        return Err(format!("redirect URI {uri:?} must not have a fragment"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if loopback {
                Ok(())
            } else {
                Err(format!(
                    "redirect URI {uri:?}: plain http is allowed only to localhost or a loopback \
                     address; use https"
                ))
            }
        }
        "javascript" | "data" | "file" | "blob" | "about" | "vbscript" | "ftp" | "ws" | "wss" => {
            Err(format!("redirect URI {uri:?} has a forbidden scheme"))
        }
        _ => Ok(()),
    }
}

/// The deployment a resource indicator (RFC 8707) names: `{issuer}/s/{name}/mcp` (or the same
/// deployment's `/sse` endpoint, or `/s/{name}` itself). A trailing slash is tolerated; anything
/// else (another host, a query, a fragment, another path) names no deployment of this Catwalk.
pub fn deployment_of_resource(issuer: &str, resource: &str) -> Option<String> {
    let rest = resource.strip_prefix(issuer)?.strip_prefix("/s/")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (name, tail) = match rest.split_once('/') {
        Some((name, tail)) => (name, Some(tail)),
        None => (rest, None),
    };
    let tail_ok = matches!(tail, None | Some("mcp") | Some("sse"));
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    (tail_ok && name_ok).then(|| name.to_string())
}

/// Appends query parameters to a redirect URI that may already have some.
pub fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    match Url::parse(uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (key, value) in params {
                    query.append_pair(key, value);
                }
            }
            url.to_string()
        }
        Err(_) => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636, appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn pkce_s256_follows_rfc_7636() {
        assert!(pkce_s256_matches(VERIFIER, CHALLENGE));
        assert!(!pkce_s256_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj",
            CHALLENGE
        ));
        // `plain` would send the challenge itself as the verifier.
        assert!(!pkce_s256_matches(CHALLENGE, CHALLENGE));
        assert!(!pkce_s256_matches("short", CHALLENGE));
        assert!(!pkce_s256_matches(&format!("{VERIFIER}!"), CHALLENGE));
    }

    #[test]
    fn pkce_requests_need_s256() {
        assert!(check_pkce_request(Some(CHALLENGE), Some("S256")).is_ok());
        assert!(check_pkce_request(None, Some("S256")).is_err());
        assert!(check_pkce_request(Some(""), Some("S256")).is_err());
        assert!(check_pkce_request(Some(CHALLENGE), Some("plain")).is_err());
        assert!(check_pkce_request(Some(CHALLENGE), None).is_err());
        assert!(check_pkce_request(Some("abc"), Some("S256")).is_err());
        assert!(check_pkce_request(Some(CHALLENGE), Some("s256")).is_err());
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let registered = "https://client.example/cb";
        assert!(redirect_uri_matches(
            registered,
            "https://client.example/cb"
        ));
        for other in [
            "https://client.example/cb/",
            "https://client.example/cb?x=1",
            "https://client.example/cb#f",
            "https://client.example/CB",
            "https://client.example:444/cb",
            "http://client.example/cb",
            "https://evil.example/cb",
            "https://client.example.evil.example/cb",
        ] {
            assert!(!redirect_uri_matches(registered, other), "{other}");
        }
        // localhost by name gets no port exception: it may resolve anywhere.
        assert!(!redirect_uri_matches(
            "http://localhost:3000/cb",
            "http://localhost:3001/cb"
        ));
        assert!(redirect_uri_matches(
            "http://localhost:3000/cb",
            "http://localhost:3000/cb"
        ));
    }

    #[test]
    fn loopback_ip_redirects_may_change_port_only() {
        assert!(redirect_uri_matches(
            "http://127.0.0.1/callback",
            "http://127.0.0.1:53121/callback"
        ));
        assert!(redirect_uri_matches(
            "http://[::1]:80/callback",
            "http://[::1]:9/callback"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1/callback",
            "http://127.0.0.1:53121/other"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1/callback",
            "http://[::1]:53121/callback"
        ));
        assert!(!redirect_uri_matches(
            "https://127.0.0.1/callback",
            "https://127.0.0.1:8443/callback"
        ));
    }

    #[test]
    fn registrable_redirect_uris() {
        for ok in [
            "https://app.example/cb",
            "http://localhost:6274/oauth/callback",
            "http://127.0.0.1:3000/callback",
            "http://[::1]/cb",
            "cursor://anysphere.cursor-retrieval/oauth/callback",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(registrable_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://app.example/cb",
            "https://app.example/cb#frag",
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "/relative/cb",
            "not a url",
        ] {
            assert!(registrable_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resources_name_one_deployment() {
        let issuer = "https://catwalk.example";
        for (resource, name) in [
            ("https://catwalk.example/s/brave/mcp", Some("brave")),
            ("https://catwalk.example/s/brave/mcp/", Some("brave")),
            ("https://catwalk.example/s/brave/sse", Some("brave")),
            ("https://catwalk.example/s/brave", Some("brave")),
            ("https://catwalk.example/s/brave/other", None),
            ("https://catwalk.example/s/brave/mcp?x=1", None),
            ("https://catwalk.example/s/Brave/mcp", None),
            ("https://catwalk.example/s//mcp", None),
            ("https://catwalk.example/", None),
            ("https://catwalk.example", None),
            ("https://evil.example/s/brave/mcp", None),
            ("https://catwalk.example.evil/s/brave/mcp", None),
            ("https://catwalk.example/s/a/../b/mcp", None),
        ] {
            assert_eq!(
                deployment_of_resource(issuer, resource).as_deref(),
                name,
                "{resource}"
            );
        }
    }

    #[test]
    fn query_parameters_are_appended_and_encoded() {
        assert_eq!(
            with_query(
                "http://127.0.0.1:3000/cb?keep=1",
                &[("code", "a b"), ("state", "x&y")]
            ),
            "http://127.0.0.1:3000/cb?keep=1&code=a+b&state=x%26y"
        );
    }
}
