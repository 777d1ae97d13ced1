//! Whole-folder analyses of fixtures that exercise every reader at once: smithery.yaml,
//! Dockerfile, `.env.example`, README tables and config snippets, code reads, pydantic-settings,
//! argument parsers, usage lines and argv checks; the merge precedence; argument fields and
//! confidence.

mod common;

use std::collections::BTreeMap;

use catwalk_analyze::{EnvVar, ServerSpec};
use common::{analyze, analyzer, assert_round_trip, fixture};

fn var<'a>(spec: &'a ServerSpec, name: &str) -> &'a EnvVar {
    spec.env
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("{name} missing from {:?}", spec.env))
}

fn level(confidence: &impl serde::Serialize) -> String {
    serde_json::to_value(confidence).unwrap()["level"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn node_server_with_smithery_dockerfile_and_env_example() {
    let (analyzer, _guard) = analyzer();
    let (result, progress) = analyze(&analyzer, &fixture("smithery-node").to_string_lossy()).await;
    let spec = result.expect("the fixture analyzes");
    for file in ["smithery.yaml", ".env.example", "Dockerfile", "README.md"] {
        assert!(
            progress.iter().any(|l| l == &format!("reading {file}")),
            "{file} not read: {progress:?}"
        );
    }
    assert_eq!(spec.spec_version, 3);
    assert_eq!(spec.launch.command, "catwalk-notes");
    assert_eq!(spec.launch.args, ["--stdio"], "smithery's stdio selection");
    assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);

    let names: Vec<&str> = spec.env.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "NOTES_API_KEY",
            "NOTES_REGION",
            "NOTES_SYNC_INTERVAL",
            "NOTES_CACHE_DIR"
        ],
        "smithery's first, then the code's, then the Dockerfile's; NODE_ENV and the build \
         stage's variable are left out, and so is another server's env block"
    );
    let key = var(&spec, "NOTES_API_KEY");
    assert!(key.required && key.secret);
    assert_eq!(key.description, "API key of the notes service.");
    assert_eq!(key.default, None, "the .env.example value is a placeholder");
    let files: Vec<&str> = key.evidence.iter().map(|e| e.file.as_str()).collect();
    for file in [
        "smithery.yaml",
        "dist/index.js",
        "README.md",
        ".env.example",
    ] {
        assert!(files.contains(&file), "{files:?}");
    }
    assert_eq!(level(&key.confidence), "high");

    let region = var(&spec, "NOTES_REGION");
    assert!(!region.required, "the code falls back to \"eu\"");
    assert_eq!(region.default.as_deref(), Some("eu"));
    assert_eq!(region.choices, ["eu", "us"]);
    assert_eq!(region.description, "Data region of the account.");

    let interval = var(&spec, "NOTES_SYNC_INTERVAL");
    assert_eq!(
        interval.default.as_deref(),
        Some("60"),
        "the code's fallback beats the commented-out 120 of .env.example"
    );
    assert_eq!(interval.description, "Seconds between two syncs");

    let cache = var(&spec, "NOTES_CACHE_DIR");
    assert_eq!(cache.default.as_deref(), Some("/var/cache/notes"));
    assert_eq!(cache.description, "Where synced notes are cached");
    assert_eq!(
        level(&cache.confidence),
        "low",
        "only the Dockerfile sets it"
    );

    assert_eq!(spec.args.len(), 2, "{:?}", spec.args);
    let read_only = &spec.args[0];
    assert_eq!(read_only.flag.as_deref(), Some("--read-only"));
    assert_eq!(read_only.format.as_deref(), Some("boolean"));
    assert!(!read_only.required);
    assert_eq!(read_only.description, "Refuse every write.");
    let dir = &spec.args[1];
    assert_eq!((dir.name.as_str(), dir.flag.as_ref()), ("notes-dir", None));
    assert!(dir.required, "the code exits without it");
    assert_eq!(dir.description, "Folder that holds the notes.");
    assert_eq!(dir.format.as_deref(), Some("filepath"));
    assert_eq!(level(&dir.confidence), "high");

    assert_eq!(level(&spec.confidence), "high");
    let reasons = &spec.confidence.reasons;
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("smithery.yaml starts the same server"))
            && reasons
                .iter()
                .any(|r| r.starts_with("the Dockerfile starts the same server")),
        "{reasons:?}"
    );

    let values: BTreeMap<String, Vec<String>> = [
        ("notes-dir".to_string(), vec!["/srv/notes".to_string()]),
        ("read-only".to_string(), vec!["true".to_string()]),
    ]
    .into();
    assert_eq!(
        spec.command_args(&values).unwrap(),
        ["--stdio", "--read-only", "/srv/notes"]
    );
    assert!(spec.command_args(&BTreeMap::new()).is_err());
    assert_round_trip(&spec);
}

#[tokio::test]
async fn python_server_with_settings_and_argparse() {
    let (analyzer, _guard) = analyzer();
    let (result, _) = analyze(&analyzer, &fixture("py-tracker").to_string_lossy()).await;
    let spec = result.expect("the fixture analyzes");
    assert_eq!(spec.launch.command, "catwalk-tracker");
    assert!(spec.launch.args.is_empty());

    let token = var(&spec, "TRACKER_TOKEN");
    assert!(token.required && token.secret);
    assert_eq!(token.description, "Personal token (Settings > Tokens)");
    assert_eq!(token.default, None);
    let timeout = var(&spec, "TRACKER_TIMEOUT");
    assert_eq!(
        (timeout.required, timeout.default.as_deref()),
        (false, Some("20"))
    );
    assert_eq!(timeout.description, "Seconds to wait for one request");
    let base = var(&spec, "TRACKER_BASE_URL");
    assert_eq!(base.default.as_deref(), Some("https://tracker.invalid/api"));
    assert!(
        spec.env
            .iter()
            .all(|v| v.name != "TIME_ZONE_OVERRIDE" && v.name != "PYTHONUNBUFFERED"),
        "another server's env block and runtime settings are left out: {:?}",
        spec.env
    );

    let names: Vec<(&str, Option<&str>)> = spec
        .args
        .iter()
        .map(|a| (a.name.as_str(), a.flag.as_deref()))
        .collect();
    assert_eq!(
        names,
        [("read-only", Some("--read-only")), ("project", None)],
        "--page-size is optional and undocumented; scripts/seed.py is not the server"
    );
    let project = &spec.args[1];
    assert!(project.required);
    assert_eq!(project.description, "Key of the tracked project");
    let read_only = &spec.args[0];
    assert_eq!(read_only.format.as_deref(), Some("boolean"));
    assert!(!read_only.required);
    assert_round_trip(&spec);
}
