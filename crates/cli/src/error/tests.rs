//! The exit code mapping scripts rely on.

use std::process::ExitCode;

use reqwest::StatusCode;

use super::{CliError, ExitStatus};
use crate::client::ClientError;

fn api_error(status: StatusCode, body: &str) -> CliError {
    CliError::Client(ClientError::from_response(
        "http://127.0.0.1:7411/api/x",
        status,
        body.as_bytes(),
    ))
}

#[test]
fn exit_statuses_have_the_documented_numbers() {
    assert_eq!(ExitStatus::Success as u8, 0);
    assert_eq!(ExitStatus::Failure as u8, 1);
    assert_eq!(ExitStatus::Usage as u8, 2);
    assert_eq!(ExitStatus::Unreachable as u8, 3);
    assert_eq!(ExitStatus::Auth as u8, 4);
    assert_eq!(ExitStatus::Interrupted as u8, 130);
    assert_eq!(ExitCode::from(ExitStatus::Auth), ExitCode::from(4));
}

#[test]
fn api_errors_map_to_exit_codes() {
    let unauthorized = r#"{"error":{"code":"unauthorized","message":"missing or wrong token"}}"#;
    assert_eq!(
        api_error(StatusCode::UNAUTHORIZED, unauthorized).exit_status(),
        ExitStatus::Auth
    );
    for (status, code) in [
        (StatusCode::BAD_REQUEST, "bad_request"),
        (StatusCode::NOT_FOUND, "not_found"),
        (StatusCode::CONFLICT, "conflict"),
        (StatusCode::UNPROCESSABLE_ENTITY, "analysis_failed"),
        (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    ] {
        let body = format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#);
        assert_eq!(
            api_error(status, &body).exit_status(),
            ExitStatus::Failure,
            "{status}"
        );
    }
}

#[test]
fn local_errors_map_to_exit_codes() {
    assert_eq!(
        CliError::Usage("bad".into()).exit_status(),
        ExitStatus::Usage
    );
    assert_eq!(
        CliError::MissingToken("none".into()).exit_status(),
        ExitStatus::Auth
    );
    assert_eq!(
        CliError::Failed("failed".into()).exit_status(),
        ExitStatus::Failure
    );
    let unreachable = CliError::Client(ClientError::Unreachable {
        url: "http://127.0.0.1:1/api/deployments".into(),
        reason: "Connection refused (os error 111)".into(),
    });
    assert_eq!(unreachable.exit_status(), ExitStatus::Unreachable);
    assert!(unreachable.hint().unwrap().contains("catwalk serve"));
}

#[test]
fn a_closed_stdout_pipe_is_not_an_error() {
    let broken_pipe = CliError::Output(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
    assert_eq!(broken_pipe.report(), ExitStatus::Success);
}
