use super::*;

#[test]
fn usernames_are_made_valid_from_provider_names() {
    for (hint, expected) in [
        ("octocat", "octocat"),
        ("Ada Lovelace", "Ada-Lovelace"),
        ("ada@example.com", "ada-example.com"),
        ("--ada", "ada"),
        ("émile", "mile"),
        ("", "user"),
        ("@@@", "user"),
        ("ada.", "ada"),
    ] {
        let base = username_base(hint);
        assert_eq!(base, expected, "{hint:?}");
        assert!(auth::valid_username(&base).is_ok(), "{base}");
    }
    let long = username_base(&"a".repeat(200));
    assert_eq!(long.len(), 48);
    // Every candidate, suffixes included, is a valid username.
    for attempt in 0..20 {
        let name = username_candidate(&long, attempt);
        assert!(auth::valid_username(&name).is_ok(), "{name}");
    }
}

#[test]
fn taken_names_get_numbered_then_random_suffixes() {
    assert_eq!(username_candidate("ada", 0), "ada");
    assert_eq!(username_candidate("ada", 1), "ada-2");
    assert_eq!(username_candidate("ada", 8), "ada-9");
    let (a, b) = (username_candidate("ada", 9), username_candidate("ada", 9));
    assert!(a.starts_with("ada-") && a.len() == "ada-".len() + 6, "{a}");
    assert_ne!(a, b);
}

#[test]
fn error_pages_escape_what_providers_say() {
    let response = page(Failure::new(
        StatusCode::FORBIDDEN,
        "GitHub did not sign you in (<script>alert('x')</script> & \"more\")",
    ));
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        escape_html("<a href=\"x\">'&'</a>"),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    );
}

#[test]
fn the_flow_cookie_is_http_only_lax_and_short_lived() {
    let cookie = flow_cookie("cwf_x", true);
    for part in [
        "catwalk_sign_in=cwf_x",
        "HttpOnly",
        "SameSite=Lax",
        "Secure",
        "Max-Age=600",
    ] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    let gone = flow_cookie("", false);
    assert!(
        gone.contains("Max-Age=0") && !gone.contains("Secure"),
        "{gone}"
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        header::COOKIE,
        "catwalk_session=s; catwalk_sign_in=cwf_y".parse().unwrap(),
    );
    assert_eq!(
        cookie_value(&headers, FLOW_COOKIE).as_deref(),
        Some("cwf_y")
    );
}

#[test]
fn new_user_policy_parses_and_secrets_stay_out_of_debug() {
    assert_eq!("member".parse::<NewUsers>(), Ok(NewUsers::Member));
    assert_eq!("none".parse::<NewUsers>(), Ok(NewUsers::None));
    assert!("admin".parse::<NewUsers>().is_err());
    let config = SsoConfig {
        github: Some(GitHubSso {
            client_id: "Iv1.abc".into(),
            client_secret: "gh-secret-value".into(),
            url: GITHUB_URL.into(),
            api_url: GITHUB_API_URL.into(),
        }),
        oidc: Some(OidcSso {
            issuer: "https://id.example".into(),
            client_id: "catwalk".into(),
            client_secret: Some("oidc-secret-value".into()),
            name: "Example ID".into(),
        }),
        new_users: NewUsers::Member,
    };
    let shown = format!("{config:?}");
    assert!(
        !shown.contains("gh-secret-value") && !shown.contains("oidc-secret-value"),
        "{shown}"
    );
    assert!(shown.contains("Iv1.abc"), "{shown}");
}

#[test]
fn configured_providers_are_listed_with_their_start_urls() {
    let config = SsoConfig {
        github: Some(GitHubSso {
            client_id: "id".into(),
            client_secret: "secret".into(),
            url: GITHUB_URL.into(),
            api_url: GITHUB_API_URL.into(),
        }),
        oidc: None,
        new_users: NewUsers::None,
    };
    let sign_in = SignIn::new(&config, "https://catwalk.example").unwrap();
    assert_eq!(
        sign_in.describe(),
        json!({ "providers": [{
            "id": "github", "name": "GitHub",
            "start": "https://catwalk.example/auth/github/start",
        }]})
    );
    let url = sign_in
        .github
        .as_ref()
        .unwrap()
        .authorize_url("st_1", PkceCodeChallenge::new_random_sha256().0);
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(url.path(), "/login/oauth/authorize");
    assert_eq!(query["client_id"], "id");
    assert_eq!(query["state"], "st_1");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(
        query["redirect_uri"],
        "https://catwalk.example/auth/github/callback"
    );
    assert!(!url.as_str().contains("secret"));
    assert_eq!(
        SignIn::new(&SsoConfig::default(), "http://x")
            .unwrap()
            .describe(),
        json!({ "providers": [] })
    );
}
