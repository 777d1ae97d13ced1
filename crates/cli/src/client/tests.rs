//! Mapping of HTTP responses and transport failures to errors, against real sockets where a
//! network is involved.

use reqwest::{StatusCode, Url};

use super::{ApiClient, ClientError};
use crate::error::ExitStatus;

const URL: &str = "http://127.0.0.1:7411/api/deployments/x";

#[test]
fn the_api_error_message_is_kept() {
    let body = br#"{"error":{"code":"not_found","message":"no deployment named \"foo\""}}"#;
    let error = ClientError::from_response(URL, StatusCode::NOT_FOUND, body);
    assert_eq!(error.to_string(), r#"no deployment named "foo""#);
    assert!(error.is_not_found());
    match error {
        ClientError::Api { status, code, .. } => {
            assert_eq!(status, 404);
            assert_eq!(code, "not_found");
        }
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[test]
fn unauthorized_with_and_without_a_body() {
    let body = br#"{"error":{"code":"unauthorized","message":"wrong token"}}"#;
    let error = ClientError::from_response(URL, StatusCode::UNAUTHORIZED, body);
    assert_eq!(error.to_string(), "wrong token");
    assert_eq!(error.exit_status(), ExitStatus::Auth);

    let error = ClientError::from_response(URL, StatusCode::UNAUTHORIZED, b"");
    assert!(error.to_string().contains("401"), "{error}");
    assert_eq!(error.exit_status(), ExitStatus::Auth);
    assert!(error.hint().unwrap().contains("--token"));
}

#[test]
fn a_non_api_body_names_the_status_and_url() {
    let error =
        ClientError::from_response(URL, StatusCode::BAD_GATEWAY, b"<html>Bad Gateway</html>");
    let message = error.to_string();
    assert!(message.contains("502"), "{message}");
    assert!(message.contains(URL), "{message}");
    assert!(!message.contains("<html>"), "{message}");
    assert_eq!(error.exit_status(), ExitStatus::Failure);
}

#[test]
fn names_are_encoded_as_one_path_segment() {
    let client =
        ApiClient::new(Url::parse("http://127.0.0.1:7411").unwrap(), "t".to_owned()).unwrap();
    assert_eq!(
        client.api_url(&["deployments", "../analyze"]).as_str(),
        "http://127.0.0.1:7411/api/deployments/..%2Fanalyze"
    );
    assert_eq!(
        client.api_url(&["deployments", "a b", "logs"]).as_str(),
        "http://127.0.0.1:7411/api/deployments/a%20b/logs"
    );
}

#[test]
fn a_path_prefix_in_the_server_url_is_kept() {
    for base in [
        "https://example.test/catwalk",
        "https://example.test/catwalk/",
    ] {
        let client = ApiClient::new(Url::parse(base).unwrap(), "t".to_owned()).unwrap();
        assert_eq!(
            client.api_url(&["deployments"]).as_str(),
            "https://example.test/catwalk/api/deployments"
        );
    }
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    // Bind to get a free port, then close it so that nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let base = Url::parse(&format!("http://{address}")).unwrap();
    let client = ApiClient::new(base, "t".to_owned()).unwrap();
    let error = client.list_deployments(None, 1000).await.unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Unreachable, "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&address.to_string()), "{message}");
    assert!(message.to_lowercase().contains("refused"), "{message}");
}

#[test]
fn the_next_link_is_found_among_others() {
    let headers = |values: &[&str]| {
        let mut map = reqwest::header::HeaderMap::new();
        for value in values {
            map.append(reqwest::header::LINK, value.parse().unwrap());
        }
        map
    };
    let next = |values: &[&str]| super::next_link(&headers(values));
    let url = "http://127.0.0.1:7411/api/deployments?after=d-099&limit=100";
    assert_eq!(
        next(&[&format!("<{url}>; rel=\"next\"")]).as_deref(),
        Some(url)
    );
    assert_eq!(
        next(&["</first>; rel=\"first\", <?after=b,c>; title=\"x\"; REL=Next"]).as_deref(),
        Some("?after=b,c")
    );
    assert_eq!(
        next(&["</a>; rel=\"prev\"", "</b>; rel=\"next last\""]).as_deref(),
        Some("/b")
    );
    assert_eq!(next(&["</a>; rel=\"prev\"; rel2=next"]), None);
    assert_eq!(next(&["</a>; rel=\"nextpage\""]), None);
    assert_eq!(next(&[]), None);
}
