//! The `catwalk` binary's exit codes and messages for failures that need no running server.
//! (Everything that talks to a live Catwalk is in tests/e2e.)

use std::net::TcpListener;
use std::process::{Command, Output};

/// Runs `catwalk` with a clean Catwalk environment and an empty data directory.
fn catwalk(args: &[&str], data_dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_catwalk"))
        .args(args)
        .env_remove("CATWALK_URL")
        .env_remove("CATWALK_TOKEN")
        .env_remove("CATWALK_LISTEN")
        .env_remove("DATABASE_URL")
        .env_remove("CATWALK_PUBLIC_URL")
        .env("CATWALK_DATA_DIR", data_dir)
        // Never the logins of whoever runs the tests.
        .env("CATWALK_CONFIG_DIR", data_dir.join("config"))
        .output()
        .expect("the catwalk binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A URL on which nothing listens: bind a free port, then close it.
fn closed_server_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

#[test]
fn help_and_version_exit_zero_on_stdout() {
    let data_dir = tempfile::tempdir().unwrap();
    for args in [&["--help"][..], &["deploy", "--help"], &["--version"]] {
        let output = catwalk(args, data_dir.path());
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(!output.stdout.is_empty(), "{args:?}");
    }
    let help = catwalk(&["deploy", "--help"], data_dir.path());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--env",
        "--env-file",
        "--name",
        "--no-wait",
        "--timeout",
        "--json",
        "--server",
    ] {
        assert!(
            text.contains(flag),
            "{flag} missing from deploy --help:\n{text}"
        );
    }
}

#[test]
fn usage_errors_exit_two() {
    let data_dir = tempfile::tempdir().unwrap();
    for args in [
        &["no-such-command"][..],
        &["deploy"],
        &["deploy", "npm:x", "--timeout", "soon"],
        &["token"],
        &["serve", "--listen", "not-an-address"],
        &["ls", "--server", "ftp://example.test", "--token", "t"],
    ] {
        let output = catwalk(args, data_dir.path());
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(output.stdout.is_empty(), "{args:?} wrote to stdout");
    }
}

#[test]
fn bad_env_input_exits_two_before_any_request() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = closed_server_url();
    let env_file = data_dir.path().join("bad.env");
    std::fs::write(&env_file, "GOOD=1\nthis line is secret-ish\n").unwrap();
    let output = catwalk(
        &[
            "deploy",
            "npm:x",
            "--server",
            &server,
            "--token",
            "t",
            "--env-file",
            env_file.to_str().unwrap(),
        ],
        data_dir.path(),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("line 2"), "{message}");
    assert!(
        !message.contains("secret-ish"),
        "an env file line was echoed: {message}"
    );

    let output = catwalk(
        &[
            "deploy", "npm:x", "--server", &server, "--token", "t", "--env", "9BAD=x",
        ],
        data_dir.path(),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

#[test]
fn an_unreachable_server_exits_three_and_says_where() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = closed_server_url();
    for args in [
        &["ls"][..],
        &["analyze", "npm:x"],
        &["deploy", "npm:x", "-e", "A=b"],
        &["logs", "x", "-f"],
        &["rm", "x"],
        &["token", "rotate", "x"],
    ] {
        let mut all = args.to_vec();
        all.extend(["--server", server.as_str(), "--token", "t"]);
        let output = catwalk(&all, data_dir.path());
        assert_eq!(
            output.status.code(),
            Some(3),
            "{args:?}: {}",
            stderr(&output)
        );
        let message = stderr(&output);
        assert!(
            message.contains("error: cannot reach the Catwalk server at"),
            "{message}"
        );
        assert!(message.contains(&server), "{message}");
        assert!(message.contains("catwalk serve"), "{message}");
        assert!(output.stdout.is_empty(), "{args:?} wrote to stdout");
    }
}

#[test]
fn a_missing_admin_token_exits_four_and_says_what_to_do() {
    let data_dir = tempfile::tempdir().unwrap();
    let output = catwalk(&["ls", "--server", &closed_server_url()], data_dir.path());
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let message = stderr(&output);
    let token_file = data_dir.path().join("admin-token");
    assert!(
        message.contains(&token_file.display().to_string()),
        "{message}"
    );
    assert!(message.contains("--token"), "{message}");
    assert!(message.contains("catwalk login"), "{message}");
}

#[test]
fn the_token_file_is_found_through_the_data_dir() {
    let data_dir = tempfile::tempdir().unwrap();
    std::fs::write(data_dir.path().join("admin-token"), "from-file\n").unwrap();
    // With a token found, the command gets as far as the (closed) server: exit 3, not 4.
    let output = catwalk(&["ls", "--server", &closed_server_url()], data_dir.path());
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
}
