use serde_json::json;

use super::entries::{Corpus, Entry, ExpectedVar, Kind, Launch};
use super::score::{self, Found, FoundVar, Introspected, Ratio};

fn var(name: &str, required: bool, secret: bool) -> ExpectedVar {
    ExpectedVar {
        name: name.into(),
        required,
        secret,
    }
}

fn found_var(name: &str, required: bool, secret: bool) -> FoundVar {
    FoundVar {
        name: name.into(),
        required,
        secret,
    }
}

fn launch(command: &str, args: &[&str]) -> Launch {
    Launch {
        command: command.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
    }
}

fn entry(env: Vec<ExpectedVar>, tools: &[&str]) -> Entry {
    Entry {
        name: "x".into(),
        source: "npm:x@1.0.0".into(),
        checked: "by hand".into(),
        launch: Some(launch("mcp-server-x", &["stdio"])),
        env,
        tools: tools.iter().map(|t| t.to_string()).collect(),
        error: None,
    }
}

#[test]
fn launch_needs_the_same_command_and_the_same_args() {
    let expected = launch("mcp-server-everything", &["stdio"]);
    assert!(score::launch_matches(&expected, &expected.clone()));
    // The npx form is what a desktop client runs, not what Catwalk runs: never right.
    assert!(!score::launch_matches(
        &expected,
        &launch(
            "npx",
            &["-y", "@modelcontextprotocol/server-everything", "stdio"]
        )
    ));
    assert!(!score::launch_matches(
        &expected,
        &launch("mcp-server-everything", &[])
    ));
    assert!(!score::launch_matches(
        &launch("wikipedia-mcp", &["--transport", "stdio"]),
        &launch("wikipedia-mcp", &["stdio", "--transport"])
    ));
}

#[test]
fn env_counts_true_and_false_positives_and_negatives() {
    let e = entry(
        vec![
            var("API_KEY", true, true),
            var("BASE_URL", false, false),
            var("REGION", false, false),
        ],
        &[],
    );
    let found = Found {
        launch: launch("mcp-server-x", &["stdio"]),
        env: vec![
            found_var("API_KEY", true, true),
            found_var("BASE_URL", true, false),
            found_var("LOG_LEVEL", false, false),
            // Names are case-sensitive: a lowercase twin is another variable.
            found_var("region", false, false),
        ],
    };
    let s = score::score(&e, Ok(&found), None);
    assert!(s.outcome_ok);
    assert_eq!(s.launch_ok, Some(true));
    assert_eq!(s.true_positives, 2);
    assert_eq!(s.false_positives, ["LOG_LEVEL", "region"]);
    assert_eq!(s.false_negatives, ["REGION"]);
    assert_eq!(s.required_errors, ["BASE_URL"]);
    assert!(s.secret_errors.is_empty());
    assert_eq!(s.tools_ok, None, "introspection was not asked for");

    let t = score::totals(&[&s], false);
    assert_eq!(t.env_precision, Ratio::new(2, 4));
    assert_eq!(t.env_recall, Ratio::new(2, 3));
    assert_eq!(t.required_flags, Ratio::new(1, 2));
    assert_eq!(t.secret_flags, Ratio::new(2, 2));
    assert_eq!(t.launch, Ratio::new(1, 1));
    assert_eq!(t.introspection, None);
}

#[test]
fn totals_are_summed_over_entries_not_averaged() {
    // One entry with 1 of 1 found, one with 0 of 3: recall is 1/4, not the mean of 100% and 0%.
    let one = entry(vec![var("A_KEY", true, true)], &[]);
    let three = entry(
        vec![
            var("B", false, false),
            var("C", false, false),
            var("D", false, false),
        ],
        &[],
    );
    let found_one = Found {
        launch: launch("mcp-server-x", &["stdio"]),
        env: vec![found_var("A_KEY", true, false)],
    };
    let found_none = Found {
        launch: launch("other", &[]),
        env: vec![],
    };
    let a = score::score(&one, Ok(&found_one), None);
    let b = score::score(&three, Ok(&found_none), None);
    let t = score::totals(&[&a, &b], false);
    assert_eq!(t.env_recall, Ratio::new(1, 4));
    assert_eq!(t.env_precision, Ratio::new(1, 1));
    assert_eq!(t.secret_flags, Ratio::new(0, 1));
    assert_eq!(t.launch, Ratio::new(1, 2));
    assert_eq!(t.launch.value, Some(0.5));
}

#[test]
fn no_variable_at_all_counts_nothing() {
    let e = entry(vec![], &[]);
    let found = Found {
        launch: launch("mcp-server-x", &["stdio"]),
        env: vec![],
    };
    let s = score::score(&e, Ok(&found), None);
    let t = score::totals(&[&s], false);
    assert_eq!(t.env_precision, Ratio::new(0, 0));
    assert_eq!(t.env_precision.value, None);
    assert_eq!(t.required_flags.value, None);
}

#[test]
fn a_failed_analysis_misses_everything_it_expected() {
    let e = entry(vec![var("A", true, false), var("B", false, false)], &["t"]);
    let s = score::score(&e, Err("HTTP 422: no such package"), Some(None));
    assert!(!s.outcome_ok);
    assert_eq!(s.launch_ok, Some(false));
    assert_eq!(s.false_negatives, ["A", "B"]);
    assert_eq!(s.tools_ok, Some(false));
    let t = score::totals(&[&s], true);
    assert_eq!(t.env_recall, Ratio::new(0, 2));
    assert_eq!(t.introspection, Some(Ratio::new(0, 1)));
}

#[test]
fn expected_refusals_need_the_expected_words() {
    let mut e = entry(vec![], &[]);
    e.launch = None;
    e.error = Some("symlink to an absolute path".into());
    let refused = score::score(
        &e,
        Err("HTTP 422: \"escape\" is a symlink to an absolute path"),
        None,
    );
    assert!(refused.outcome_ok);
    assert_eq!(refused.launch_ok, None, "not a launch to score");
    let other = score::score(&e, Err("HTTP 422: the repository is too large"), None);
    assert!(!other.outcome_ok);
    let found = Found {
        launch: launch("x", &[]),
        env: vec![],
    };
    assert!(!score::score(&e, Ok(&found), None).outcome_ok);
    let t = score::totals(&[&refused, &other], false);
    assert_eq!(t.refusals, Ratio::new(1, 2));
    assert_eq!(t.launch, Ratio::new(0, 0), "refusals are not launches");
}

#[test]
fn introspection_needs_status_ok_and_every_expected_tool() {
    let e = entry(vec![], &["echo", "add"]);
    let found = Found {
        launch: launch("mcp-server-x", &["stdio"]),
        env: vec![],
    };
    let listed = |status: &str, tools: &[&str]| Introspected {
        status: status.into(),
        tools: tools.iter().map(|t| t.to_string()).collect(),
        message: None,
    };
    let more = listed("ok", &["add", "echo", "extra"]);
    assert_eq!(
        score::score(&e, Ok(&found), Some(Some(&more))).tools_ok,
        Some(true)
    );
    let fewer = listed("ok", &["echo"]);
    let s = score::score(&e, Ok(&found), Some(Some(&fewer)));
    assert_eq!(s.tools_ok, Some(false));
    assert_eq!(s.missing_tools, ["add"]);
    let creds = listed("needs_credentials", &["echo", "add"]);
    assert_eq!(
        score::score(&e, Ok(&found), Some(Some(&creds))).tools_ok,
        Some(false)
    );
    let absent = score::score(&e, Ok(&found), Some(None));
    assert_eq!(absent.tools_ok, Some(false), "asked, but the spec has none");
    // An entry without expected tools is not scored on introspection.
    let no_tools = entry(vec![], &[]);
    assert_eq!(
        score::score(&no_tools, Ok(&found), Some(Some(&fewer))).tools_ok,
        None
    );
}

#[test]
fn specs_are_read_as_the_api_returns_them() {
    let spec = json!({
        "launch": {"command": "mcp-server-brave-search", "args": []},
        "env": [{"name": "BRAVE_API_KEY", "required": true, "secret": true, "description": "d"}],
        "introspection": {"status": "ok", "tools": [{"name": "brave_web_search", "description": ""}],
                          "message": null}
    });
    let found = Found::from_spec(&spec).unwrap();
    assert_eq!(found.launch, launch("mcp-server-brave-search", &[]));
    assert_eq!(found.env, [found_var("BRAVE_API_KEY", true, true)]);
    let i = Introspected::from_spec(&spec).unwrap();
    assert_eq!(i.status, "ok");
    assert_eq!(i.tools, ["brave_web_search"]);
    assert_eq!(
        Introspected::from_spec(&json!({"introspection": null})),
        None
    );
    assert_eq!(Introspected::from_spec(&json!({})), None);
    assert_eq!(Found::from_spec(&json!({"launch": {"command": "x"}})), None);
}

#[test]
fn percentiles_take_the_nearest_rank() {
    let values = [0.4, 0.1, 0.3, 0.2, 1.5];
    assert_eq!(score::percentile(&values, 50.0), Some(0.3));
    assert_eq!(score::percentile(&values, 95.0), Some(1.5));
    assert_eq!(score::percentile(&values, 100.0), Some(1.5));
    assert_eq!(score::percentile(&[], 50.0), None);
}

#[test]
fn the_goals_pass_only_at_their_targets() {
    let e = entry(vec![], &[]);
    let ok = Found {
        launch: launch("mcp-server-x", &["stdio"]),
        env: vec![],
    };
    let s = score::score(&e, Ok(&ok), None);
    let t = score::totals(&[&s], false);
    let fast = super::report::Timing {
        count: 1,
        p50_secs: Some(0.5),
        p95_secs: Some(0.5),
        max_secs: Some(1.99),
    };
    let goals = super::report::goals(&t, &fast);
    assert_eq!(goals[0].name, "launch command right");
    assert!(goals[0].pass);
    assert!(!goals[1].pass, "recall with nothing to find is not a pass");
    assert!(goals[3].pass);
    let slow = super::report::Timing {
        max_secs: Some(2.0),
        ..fast
    };
    assert!(!super::report::goals(&t, &slow)[3].pass);
}

/// The shipped corpus loads, is pinned, and is as large as the issue asks.
#[test]
fn the_shipped_corpus_is_valid() {
    let corpus = Corpus::load(&super::entries::default_path()).unwrap();
    let npm = corpus
        .servers
        .iter()
        .filter(|e| e.kind() == Kind::Npm)
        .count();
    let pypi = corpus
        .servers
        .iter()
        .filter(|e| e.kind() == Kind::Pypi)
        .count();
    assert!(npm + pypi >= 30, "{npm} npm + {pypi} PyPI entries");
    assert!(npm >= 10 && pypi >= 10, "{npm} npm, {pypi} PyPI: mix them");
    assert!(
        corpus
            .servers
            .iter()
            .any(|e| e.kind() == Kind::Repo && e.error.is_some())
    );
    assert!(corpus.servers.iter().any(|e| e.kind() == Kind::Archive));
    for e in &corpus.servers {
        for var in &e.env {
            assert!(
                !catwalk_ignored(&var.name),
                "{}: {} is a platform variable the corpus leaves out",
                e.name,
                var.name
            );
        }
    }
}

/// The analyzer's own list of ignored names, read from its source (the bench depends on no other
/// crate of ours): the corpus leaves them out by the same rule.
fn catwalk_ignored(name: &str) -> bool {
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../analyze/src/env.rs"
    ))
    .unwrap();
    let list = |start: &str| -> Vec<String> {
        let from = source
            .find(start)
            .unwrap_or_else(|| panic!("{start} in env.rs"));
        let body = &source[from..];
        let body = &body[body.find("&[").unwrap() + 2..body.find("];").unwrap()];
        body.split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    let names = list("pub const IGNORED_ENV_VARS");
    let prefixes = list("pub const IGNORED_ENV_PREFIXES");
    assert!(names.contains(&"NODE_ENV".to_string()) && !prefixes.is_empty());
    names.iter().any(|n| n == name) || prefixes.iter().any(|p| name.starts_with(p.as_str()))
}

#[test]
fn bad_corpus_files_are_refused_with_the_reason() {
    let check = |text: &str| {
        toml::from_str::<Corpus>(text)
            .map_err(|e| e.to_string())
            .and_then(|c| c.check().map_err(|e| e.to_string()))
    };
    let unpinned = r#"
        [[server]]
        name = "a"
        source = "npm:@scope/a@^1.2"
        checked = "x"
        launch = { command = "a" }
    "#;
    assert!(
        check(unpinned)
            .unwrap_err()
            .contains("pin an exact npm version")
    );
    let both = r#"
        [[server]]
        name = "a"
        source = "pypi:a==1.0"
        checked = "x"
        launch = { command = "a" }
        error = "boom"
    "#;
    assert!(check(both).unwrap_err().contains("exactly one of"));
    let no_repo = r#"
        [[server]]
        name = "a"
        source = "repo:missing#:src"
        checked = "x"
        launch = { command = "a" }
    "#;
    assert!(
        check(no_repo)
            .unwrap_err()
            .contains("no [[repo]] named missing")
    );
    let twice = r#"
        [[server]]
        name = "a"
        source = "pypi:a==1.0"
        checked = "x"
        launch = { command = "a" }
        env = [{ name = "X", required = true, secret = false }, { name = "X", required = true, secret = false }]
    "#;
    assert!(check(twice).unwrap_err().contains("X is listed twice"));
    let fine = r#"
        [[server]]
        name = "a"
        source = "npm:@scope/a@1.2.3"
        checked = "x"
        launch = { command = "a", args = ["stdio"] }
    "#;
    check(fine).unwrap();
}
