//! Unit tests of the LLM configuration, the answer schema and the merge rules.

use serde_json::json;

use super::{AssistConfig, Claim, Provider, answer_schema, merge};
use crate::files::{SourceFile, SourceTree};
use crate::spec::{Confidence, EnvVar, LeftOutVar, ServerSpec};

#[test]
fn configuration_from_flags_and_variables() {
    assert_eq!(AssistConfig::from_parts(None, None, None, None), Ok(None));
    let config = AssistConfig::from_parts(Some("Anthropic"), None, Some("claude-x"), Some("sk-1"))
        .unwrap()
        .unwrap();
    assert_eq!(config.provider, Provider::Anthropic);
    assert_eq!(config.base_url, "https://api.anthropic.com");
    let shown = format!("{config:?} {}", config.describe());
    assert!(!shown.contains("sk-1"), "{shown}");
    let local = AssistConfig::from_parts(
        Some("openai"),
        Some("http://127.0.0.1:11434/v1/"),
        Some("llama"),
        None,
    )
    .unwrap()
    .unwrap();
    assert_eq!(local.base_url, "http://127.0.0.1:11434/v1");
    assert!(local.api_key.is_none(), "local servers need no key");
    for (provider, base, model, wanted) in [
        (Some("gemini"), None, Some("m"), "unknown LLM provider"),
        (Some("openai"), None, None, "no model"),
        (None, None, Some("m"), "no provider"),
        (Some("openai"), Some("ftp://x"), Some("m"), "http or https"),
    ] {
        let error = AssistConfig::from_parts(provider, base, model, None).unwrap_err();
        assert!(error.0.contains(wanted), "{error}");
    }
    assert_ne!(config.cache_key(), local.cache_key());
}

#[test]
fn the_schema_accepts_answers_and_refuses_the_rest() {
    let validator = jsonschema::validator_for(&answer_schema()).unwrap();
    let good = json!({ "variables": [{ "name": "A_KEY", "description": null, "required": true,
        "secret": true, "default": null, "format": "url", "choices": [] }] });
    assert!(validator.is_valid(&good));
    for bad in [
        json!({}),
        json!({ "variables": [{ "name": "A_KEY" }] }),
        json!({ "variables": [{ "name": "not a name", "description": null, "required": true,
            "secret": true, "default": null, "format": null, "choices": [] }] }),
        json!({ "variables": [{ "name": "A", "description": null, "required": "yes",
            "secret": true, "default": null, "format": null, "choices": [] }] }),
        json!({ "variables": [], "other": 1 }),
    ] {
        assert!(!validator.is_valid(&bad), "{bad}");
    }
}

fn var(name: &str, required: bool, secret: bool) -> EnvVar {
    EnvVar {
        name: name.into(),
        description: String::new(),
        required,
        secret,
        default: None,
        format: None,
        choices: Vec::new(),
        evidence: Vec::new(),
        confidence: Confidence::default(),
        verified: None,
    }
}

fn claim(name: &str, required: bool, secret: bool) -> Claim {
    Claim {
        name: name.into(),
        description: Some(format!("about {name}")),
        required,
        secret,
        default: Some("42".into()),
        format: Some("number".into()),
        choices: Vec::new(),
    }
}

#[test]
fn merge_fills_gaps_and_checks_new_names() {
    let mut spec: ServerSpec = serde_json::from_value(json!({
        "specVersion": 3, "source": "npm:x", "name": "x", "description": null, "mcpName": null,
        "runtime": "node", "runtimeRequirement": null,
        "package": { "registry": "npm", "name": "x", "version": "1.0.0", "path": null, "revision": null },
        "launch": { "command": "x", "args": [] }, "env": [], "evidence": [], "warnings": []
    }))
    .unwrap();
    let mut described = var("DESCRIBED_URL", false, false);
    described.description = "from the README".into();
    described.default = Some("https://example.org".into());
    spec.env = vec![var("SERVICE_TOKEN", true, true), described];
    spec.left_out = vec![LeftOutVar {
        name: "MCP_PORT".into(),
        reason: "HTTP".into(),
        evidence: Vec::new(),
    }];
    let tree = SourceTree {
        files: vec![SourceFile {
            rel: "src/config.ts".into(),
            text: "// timeouts\nconst t = cfg.SERVICE_TIMEOUT;\n".into(),
        }],
        truncated: false,
    };
    let changes = merge::merge(
        &mut spec,
        &tree,
        vec![
            claim("SERVICE_TOKEN", false, false),
            claim("DESCRIBED_URL", true, true),
            claim("MCP_PORT", true, false),
            claim("SERVICE_TIMEOUT", true, false),
            claim("INVENTED_SETTING", true, false),
            claim("lower case!", false, false),
        ],
    );
    let names: Vec<&str> = spec.env.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "SERVICE_TOKEN",
            "DESCRIBED_URL",
            "SERVICE_TIMEOUT",
            "INVENTED_SETTING"
        ]
    );
    let token = &spec.env[0];
    assert_eq!(token.description, "about SERVICE_TOKEN");
    assert!(token.required && token.secret && token.default.is_none());
    assert_eq!(token.format.as_deref(), Some("number"));
    let described = &spec.env[1];
    assert_eq!(described.description, "from the README");
    assert_eq!(described.default.as_deref(), Some("https://example.org"));
    assert!(!described.required && !described.secret);
    let timeout = &spec.env[2];
    assert_eq!(timeout.verified, Some(true));
    assert!(!timeout.required);
    assert_eq!(timeout.evidence[0].line, Some(2));
    let invented = &spec.env[3];
    assert_eq!(invented.verified, Some(false));
    assert!(!invented.required);
    assert!(
        changes
            .iter()
            .any(|c| c.starts_with("MCP_PORT") && c.contains("kept out"))
    );
    assert!(
        changes
            .iter()
            .any(|c| c.starts_with("lower case!") && c.contains("ignored"))
    );
}

#[test]
fn specs_with_and_without_help_are_cached_apart() {
    let plain = crate::Analyzer::new("/nonexistent/work".into());
    let helped = |model: &str| {
        let mut analyzer = plain.clone();
        analyzer.assist =
            AssistConfig::from_parts(Some("openai"), None, Some(model), Some("k")).unwrap();
        analyzer
    };
    let registry = || Some("server.json digest".to_string());
    assert_eq!(plain.cache_extra(None), None);
    assert_eq!(plain.cache_extra(registry()), registry());
    let a = helped("model-a");
    assert!(a.cache_extra(None).is_some());
    assert_ne!(a.cache_extra(registry()), plain.cache_extra(registry()));
    assert_ne!(a.cache_extra(None), helped("model-b").cache_extra(None));
    assert_eq!(a.cache_extra(None), helped("model-a").cache_extra(None));
    assert!(
        !a.cache_extra(None).unwrap().contains("k"),
        "the key is not part of it"
    );
}
