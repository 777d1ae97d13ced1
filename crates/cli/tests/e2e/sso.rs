//! Single sign-on, end to end: the real `catwalk` binary against the fake GitHub and OpenID
//! Connect provider of `sso_fakes.rs`, driven by an HTTP client that follows redirects hop by
//! hop and keeps cookies the way a browser does.

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};

use crate::harness::{Catwalk, StoreKind};
use crate::sso_fakes::{CLIENT_ID, CLIENT_SECRET, FakeProvider, FakeUser, Kind, Tweak};

/// A browser: its own cookie jar; redirects followed by hand so each hop can be seen.
struct Browser {
    client: Client,
}

/// Where a navigation ended.
struct Landed {
    status: StatusCode,
    url: String,
    body: String,
    /// Every URL visited, the first included.
    hops: Vec<String>,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            client: Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// GETs `url` and follows redirects while `keep_going` says so for the next URL.
    fn go_until(&self, url: &str, keep_going: impl Fn(&str) -> bool) -> Landed {
        let mut url = url.to_string();
        let mut hops = vec![url.clone()];
        loop {
            let response = self.client.get(&url).send().unwrap();
            if let Some(next) = location(&response, &url) {
                if hops.len() > 10 || !keep_going(&next) {
                    return Landed {
                        status: response.status(),
                        url: next,
                        body: String::new(),
                        hops,
                    };
                }
                url = next;
                hops.push(url.clone());
                continue;
            }
            let status = response.status();
            return Landed {
                status,
                url,
                body: response.text().unwrap(),
                hops,
            };
        }
    }

    fn go(&self, url: &str) -> Landed {
        self.go_until(url, |_| true)
    }

    /// Submits a form (as the dashboard's link button does) and follows the redirects.
    fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Landed {
        let response = self.client.post(url).form(form).send().unwrap();
        match location(&response, url) {
            Some(next) => {
                let mut landed = self.go(&next);
                landed.hops.insert(0, url.to_string());
                landed
            }
            None => Landed {
                status: response.status(),
                url: url.to_string(),
                body: response.text().unwrap(),
                hops: vec![url.to_string()],
            },
        }
    }

    /// `GET /api/me`: the status and, when signed in, the answer.
    fn me(&self, catwalk: &Catwalk) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}/api/me", catwalk.url))
            .send()
            .unwrap();
        let status = response.status();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// Signs in to the dashboard with an API token, as its token form does; returns the
    /// session's CSRF token.
    fn sign_in_with_token(&self, catwalk: &Catwalk, token: &str) -> String {
        let answer: Value = self
            .client
            .post(format!("{}/api/auth/session", catwalk.url))
            .json(&json!({ "token": token }))
            .send()
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .unwrap();
        answer["csrf_token"].as_str().unwrap().to_string()
    }
}

fn location(response: &reqwest::blocking::Response, base: &str) -> Option<String> {
    if !response.status().is_redirection() {
        return None;
    }
    let location = response.headers().get("location")?.to_str().ok()?;
    Some(
        reqwest::Url::parse(base)
            .unwrap()
            .join(location)
            .unwrap()
            .to_string(),
    )
}

fn start_url(catwalk: &Catwalk, provider: &str) -> String {
    format!("{}/auth/{provider}/start", catwalk.url)
}

/// Signs in all the way and checks that the browser lands on the dashboard.
fn sign_in(browser: &Browser, catwalk: &Catwalk, provider: &str) -> Value {
    let landed = browser.go(&start_url(catwalk, provider));
    assert_eq!(
        (landed.status, landed.url.as_str()),
        (StatusCode::OK, format!("{}/", catwalk.url).as_str()),
        "sign-in did not land on the dashboard: {}\nhops: {:?}\n--- server log ---\n{}",
        landed.body,
        landed.hops,
        catwalk.server_log()
    );
    let (status, me) = browser.me(catwalk);
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["via"], "session", "{me}");
    me
}

/// Goes through the provider and stops before the callback, returning its URL.
fn callback_url(browser: &Browser, catwalk: &Catwalk, provider: &str) -> String {
    let callback = format!("{}/auth/{provider}/callback", catwalk.url);
    let landed = browser.go_until(&start_url(catwalk, provider), |next| {
        !next.starts_with(&callback)
    });
    assert!(
        landed.url.starts_with(&callback),
        "no callback: {} {:?} {}",
        landed.url,
        landed.hops,
        landed.body
    );
    landed.url
}

fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = reqwest::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

fn param(url: &str, name: &str) -> String {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

fn assert_failed(landed: &Landed, status: StatusCode, words: &str) {
    assert_eq!(
        landed.status, status,
        "{} (hops {:?})",
        landed.body, landed.hops
    );
    assert!(
        landed.body.contains("Sign-in failed") && landed.body.contains(words),
        "the page does not say {words:?}: {}",
        landed.body
    );
}

fn user_count(catwalk: &Catwalk) -> usize {
    catwalk.query("SELECT COUNT(*) FROM users")[0]
        .parse()
        .unwrap()
}

fn octocat() -> FakeUser {
    FakeUser {
        id: "583231".into(),
        login: "octocat".into(),
        email: Some("octocat@github.invalid".into()),
    }
}

pub fn sso_github_signs_in_links_and_refuses_forgeries(kind: StoreKind) {
    let github = FakeProvider::start(Kind::GitHub, octocat());
    let api = format!("{}/api/v3", github.url);
    let catwalk = Catwalk::start_with_env(
        kind,
        &["--github-client-id", CLIENT_ID],
        &[
            ("CATWALK_GITHUB_CLIENT_SECRET", CLIENT_SECRET),
            ("CATWALK_GITHUB_URL", &github.url),
            ("CATWALK_GITHUB_API_URL", &api),
        ],
    );
    github.register(Kind::GitHub, &catwalk.url);
    let admin = catwalk.admin_token();

    let providers: Value = reqwest::blocking::get(format!("{}/api/auth/providers", catwalk.url))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        providers,
        json!({ "providers": [{ "id": "github", "name": "GitHub",
                                 "start": start_url(&catwalk, "github") }] })
    );

    // A user named like the GitHub account exists already: it is someone else, and the
    // account gets a user of its own.
    catwalk.cli_json(&["user", "add", "octocat"]);
    let before = user_count(&catwalk);
    let first = Browser::new();
    let me = sign_in(&first, &catwalk, "github");
    assert_eq!(me["user"]["username"], "octocat-2", "{me}");
    assert_eq!(me["user"]["role"], "member", "{me}");
    assert_eq!(me["has_password"], false, "{me}");
    let identities = me["identities"].as_array().unwrap();
    assert_eq!(identities.len(), 1, "{me}");
    assert_eq!(identities[0]["provider"], "github");
    assert_eq!(identities[0]["login"], "octocat");
    assert_eq!(identities[0]["issuer"], github.url.as_str());
    assert!(identities[0].get("subject").is_none(), "{me}");
    assert_eq!(user_count(&catwalk), before + 1);
    let log = github.log();
    assert!(
        log.iter()
            .any(|l| l == "POST access_token json=true secret_in_body=true"),
        "{log:?}"
    );
    assert!(log.iter().any(|l| l == "GET /user"), "{log:?}");
    let authorize = log.iter().find(|l| l.starts_with("GET authorize")).unwrap();
    assert!(
        authorize.contains("\"code_challenge_method\": \"S256\""),
        "{authorize}"
    );

    // The same account again: the same user, nobody new.
    let me_again = sign_in(&Browser::new(), &catwalk, "github");
    assert_eq!(me_again["user"]["id"], me["user"]["id"]);
    assert_eq!(user_count(&catwalk), before + 1);

    // A forged state.
    let browser = Browser::new();
    let url = callback_url(&browser, &catwalk, "github");
    let forged = browser.go(&with_param(&url, "state", "st_forged"));
    assert_failed(&forged, StatusCode::BAD_REQUEST, "state does not match");
    assert_eq!(browser.me(&catwalk).0, StatusCode::UNAUTHORIZED);

    // A callback from another browser than the one that began (login CSRF): refused.
    let victim = Browser::new();
    let attackers = callback_url(&Browser::new(), &catwalk, "github");
    let landed = victim.go(&attackers);
    assert_failed(
        &landed,
        StatusCode::BAD_REQUEST,
        "not started in this browser",
    );
    assert_eq!(victim.me(&catwalk).0, StatusCode::UNAUTHORIZED);

    // A replayed callback, and a replayed code with a fresh state.
    let browser = Browser::new();
    let url = callback_url(&browser, &catwalk, "github");
    assert_eq!(browser.go(&url).status, StatusCode::OK);
    let replay = Browser::new();
    assert_failed(&replay.go(&url), StatusCode::BAD_REQUEST, "used already");
    let fresh = callback_url(&replay, &catwalk, "github");
    let old_code = with_param(&fresh, "code", &param(&url, "code"));
    assert_failed(
        &replay.go(&old_code),
        StatusCode::BAD_REQUEST,
        "GitHub refused the sign-in code (bad_verification_code",
    );
    assert_eq!(replay.me(&catwalk).0, StatusCode::UNAUTHORIZED);

    // Consent denied at GitHub.
    github.deny_consent(true);
    let denied = Browser::new();
    assert_failed(
        &denied.go(&start_url(&catwalk, "github")),
        StatusCode::FORBIDDEN,
        "GitHub did not sign you in (access_denied: The user has denied your application access.)",
    );
    assert_eq!(denied.me(&catwalk).0, StatusCode::UNAUTHORIZED);
    github.deny_consent(false);
    assert_eq!(user_count(&catwalk), before + 1, "a failure stores nobody");

    // The admin links a GitHub account of their own: only with the session's CSRF token.
    let admin_browser = Browser::new();
    let csrf = admin_browser.sign_in_with_token(&catwalk, &admin);
    github.sign_in_as(FakeUser {
        id: "9001".into(),
        login: "the-admin".into(),
        email: None,
    });
    let without = admin_browser.post_form(&start_url(&catwalk, "github"), &[("csrf", "wrong")]);
    assert_failed(&without, StatusCode::FORBIDDEN, "CSRF");
    let linked = admin_browser.post_form(&start_url(&catwalk, "github"), &[("csrf", &csrf)]);
    assert_eq!(
        (linked.status, linked.url.as_str()),
        (StatusCode::OK, format!("{}/", catwalk.url).as_str()),
        "{}",
        linked.body
    );
    let (_, admin_me) = admin_browser.me(&catwalk);
    assert_eq!(admin_me["user"]["username"], "admin");
    assert_eq!(
        admin_me["identities"][0]["login"], "the-admin",
        "{admin_me}"
    );
    let as_admin = sign_in(&Browser::new(), &catwalk, "github");
    assert_eq!(as_admin["user"]["username"], "admin", "{as_admin}");
    assert_eq!(as_admin["user"]["role"], "admin");

    // An account linked to another user cannot be linked again.
    github.sign_in_as(octocat());
    let taken = admin_browser.post_form(&start_url(&catwalk, "github"), &[("csrf", &csrf)]);
    assert_failed(
        &taken,
        StatusCode::CONFLICT,
        "linked to another Catwalk user",
    );

    // A renamed GitHub account is still the same user.
    github.sign_in_as(FakeUser {
        login: "octocat-renamed".into(),
        ..octocat()
    });
    let renamed = sign_in(&Browser::new(), &catwalk, "github");
    assert_eq!(renamed["user"]["id"], me["user"]["id"]);
    assert_eq!(renamed["identities"][0]["login"], "octocat-renamed");

    // No provider token is kept.
    let dump = catwalk.database_dump();
    assert!(!dump.contains("gho_"), "a GitHub token is stored");
    assert!(
        !catwalk.server_log().contains("gho_"),
        "a GitHub token is logged"
    );
    assert!(!catwalk.server_log().contains(CLIENT_SECRET));
}

pub fn sso_oidc_verifies_id_tokens_and_links_only_known_accounts(kind: StoreKind) {
    let mut provider = FakeProvider::start(
        Kind::Oidc,
        FakeUser {
            id: "f3a1c2e4-sub".into(),
            login: "grace".into(),
            email: Some("grace@id.invalid".into()),
        },
    );
    let catwalk = Catwalk::start_with_env(
        kind,
        &["--oidc-issuer", &provider.url, "--sso-new-users", "none"],
        &[
            ("CATWALK_OIDC_CLIENT_ID", CLIENT_ID),
            ("CATWALK_OIDC_CLIENT_SECRET", CLIENT_SECRET),
            ("CATWALK_OIDC_NAME", "Test ID"),
        ],
    );
    provider.register(Kind::Oidc, &catwalk.url);
    let providers: Value = reqwest::blocking::get(format!("{}/api/auth/providers", catwalk.url))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(providers["providers"][0]["name"], "Test ID", "{providers}");
    assert_eq!(providers["providers"][0]["id"], "oidc", "{providers}");

    // Nobody is linked to this account, and new users are off.
    let stranger = Browser::new();
    assert_failed(
        &stranger.go(&start_url(&catwalk, "oidc")),
        StatusCode::FORBIDDEN,
        "does not make new users at sign-in",
    );
    assert_eq!(stranger.me(&catwalk).0, StatusCode::UNAUTHORIZED);
    assert_eq!(user_count(&catwalk), 1, "only the admin");
    let authorize = provider.log();
    let authorize = authorize
        .iter()
        .find(|l| l.starts_with("GET authorize"))
        .unwrap();
    for part in [
        "\"code_challenge_method\": \"S256\"",
        "\"nonce\": ",
        "\"scope\": \"openid profile email\"",
    ] {
        assert!(authorize.contains(part), "{authorize} lacks {part}");
    }

    // The admin links it, then signs in with it.
    let admin_browser = Browser::new();
    let csrf = admin_browser.sign_in_with_token(&catwalk, &catwalk.admin_token());
    let linked = admin_browser.post_form(&start_url(&catwalk, "oidc"), &[("csrf", &csrf)]);
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.body);
    let (_, me) = admin_browser.me(&catwalk);
    assert_eq!(me["identities"][0]["provider"], "oidc", "{me}");
    assert_eq!(me["identities"][0]["login"], "grace", "{me}");
    let signed_in = sign_in(&Browser::new(), &catwalk, "oidc");
    assert_eq!(signed_in["user"]["username"], "admin");

    // ID tokens that must not be accepted.
    for (tweak, words) in [
        (Tweak::WrongAudience, "audience"),
        (Tweak::Expired, "expired"),
        (Tweak::BadSignature, "ignature"),
        (Tweak::WrongNonce, "nonce"),
    ] {
        provider.tweak_id_tokens(tweak);
        let browser = Browser::new();
        let landed = browser.go(&start_url(&catwalk, "oidc"));
        assert_eq!(
            landed.status,
            StatusCode::UNAUTHORIZED,
            "{tweak:?}: {}",
            landed.body
        );
        assert!(
            landed
                .body
                .contains("the ID token from Test ID is not valid")
                && landed.body.to_lowercase().contains(words),
            "{tweak:?}: {}",
            landed.body
        );
        assert_eq!(
            browser.me(&catwalk).0,
            StatusCode::UNAUTHORIZED,
            "{tweak:?}"
        );
    }
    provider.tweak_id_tokens(Tweak::None);

    // A provider that puts names only in userinfo: asked there.
    provider.names_in_userinfo_only(true);
    let via_userinfo = sign_in(&Browser::new(), &catwalk, "oidc");
    assert_eq!(via_userinfo["user"]["username"], "admin");
    assert!(provider.log().iter().any(|l| l == "GET /userinfo"));

    // The provider goes down during a sign-in.
    let browser = Browser::new();
    let url = callback_url(&browser, &catwalk, "oidc");
    provider.stop();
    assert_failed(
        &browser.go(&url),
        StatusCode::BAD_GATEWAY,
        "cannot reach Test ID",
    );
    assert_eq!(browser.me(&catwalk).0, StatusCode::UNAUTHORIZED);
    assert_eq!(user_count(&catwalk), 1);
    assert!(!catwalk.server_log().contains(CLIENT_SECRET));
}

/// A real browser clicks the dashboard's "Sign in with GitHub" (`tests/browser/sso.mjs`).
pub fn sso_dashboard_signs_in_with_github_in_a_real_browser(kind: StoreKind) {
    let github = FakeProvider::start(Kind::GitHub, octocat());
    let api = format!("{}/api/v3", github.url);
    let catwalk = Catwalk::start_with_env(
        kind,
        &["--github-client-id", CLIENT_ID],
        &[
            ("CATWALK_GITHUB_CLIENT_SECRET", CLIENT_SECRET),
            ("CATWALK_GITHUB_URL", &github.url),
            ("CATWALK_GITHUB_API_URL", &api),
        ],
    );
    github.register(Kind::GitHub, &catwalk.url);
    let folder = crate::harness::repo().join("tests/browser");
    assert!(
        folder.join("node_modules/playwright-core").is_dir(),
        "tests/browser has no node_modules: run `npm ci` in tests/browser \
         (and `apt-get install -y chromium`)"
    );
    let screenshots = crate::harness::repo().join("target/e2e-screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    let screenshot = screenshots.join(format!("sso-{kind:?}.png").to_lowercase());
    let output = std::process::Command::new("node")
        .current_dir(&folder)
        .arg(folder.join("sso.mjs"))
        .args(["--url", &catwalk.url, "--provider", "github"])
        .args(["--screenshot", screenshot.to_str().unwrap()])
        .output()
        .expect("node runs (Node.js is needed for the browser test)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "sso.mjs printed no JSON: {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let answer: Value = serde_json::from_str(line).unwrap();
    assert_eq!(
        answer["ok"],
        true,
        "the browser sign-in failed: {answer}\n--- stderr ---\n{}\n--- server log ---\n{}",
        String::from_utf8_lossy(&output.stderr),
        catwalk.server_log()
    );
    let shown = &answer["shown"];
    assert_eq!(shown["buttonText"], "Sign in with GitHub", "{shown}");
    assert_eq!(shown["signedInAs"], "octocat", "{shown}");
    assert_eq!(shown["role"], "member", "{shown}");
    assert_eq!(
        shown["linked"], "Linked accounts: GitHub (octocat)",
        "{shown}"
    );
    assert_eq!(shown["linkButton"], "Link GitHub", "{shown}");
    assert_eq!(shown["cookieVisibleToScripts"], false, "{shown}");
    assert_eq!(shown["landedOn"], format!("{}/", catwalk.url), "{shown}");
    // The browser really went to the provider and came back through the callback.
    let hops: Vec<&str> = shown["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert!(
        hops.len() >= 2,
        "{hops:?} (redirects are followed within one navigation)"
    );
    let log = github.log();
    assert!(
        log.iter().any(|l| l.starts_with("GET authorize")),
        "{log:?}"
    );
    assert!(log.iter().any(|l| l == "GET /user"), "{log:?}");
}
