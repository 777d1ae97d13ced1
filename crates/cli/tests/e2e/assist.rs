//! The optional LLM help through the whole stack: `catwalk serve --llm-*` flags, the model
//! shown by `GET /api/system` (never a key), and `catwalk analyze` printing what it changed.
//! The model is a local fake OpenAI-compatible server that takes no key, as local servers do.

#[path = "../../../analyze/tests/fakes/llm.rs"]
mod llm;

use serde_json::{Value, json};

use crate::harness::{Catwalk, StoreKind};

pub fn an_llm_helps_analyses_and_is_shown(kind: StoreKind) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fake = runtime.block_on(llm::FakeLlm::start_keyless());
    let claim = |name: &str, format: Value| {
        json!({ "name": name, "description": "from the model", "required": true, "secret": false,
                "default": null, "format": format, "choices": [] })
    };
    fake.answer(json!({ "variables": [
        claim("ECHO_PREFIX", json!("string")),
        claim("ECHO_INVENTED_SETTING", Value::Null),
    ]}));
    let base = format!("{}/v1", fake.base);
    let catwalk = Catwalk::start_with(
        kind,
        &[
            "--llm-provider",
            "openai",
            "--llm-base-url",
            &base,
            "--llm-model",
            "fake-model",
        ],
    );

    let system: Value = reqwest::blocking::Client::new()
        .get(format!("{}/api/system", catwalk.url))
        .bearer_auth(catwalk.admin_token())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        system["llm"],
        json!({ "provider": "openai", "model": "fake-model" }),
        "{system}"
    );

    let folder = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../analyze/tests/fixtures/echo-server"
    );
    let output = catwalk.cli(&["analyze", folder, "--no-introspect"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "LLM help: fake-model (openai), 2 change(s):\n",
        "  ECHO_PREFIX: format filled by the LLM\n",
        "  ECHO_INVENTED_SETTING: listed as unverified (the package never names it)\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    let spec = catwalk.cli_json(&["analyze", folder, "--no-introspect"]);
    let token = spec["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "ECHO_SECRET_TOKEN")
        .unwrap();
    assert_eq!(token["required"], true, "the evidence's flags stand");
    let invented = spec["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "ECHO_INVENTED_SETTING")
        .unwrap();
    assert_eq!(
        (&invented["verified"], &invented["required"]),
        (&json!(false), &json!(false))
    );
    let sent = fake.requests();
    assert!(!sent.is_empty());
    assert!(
        sent[0]
            .body
            .to_string()
            .contains("process.env.ECHO_SECRET_TOKEN"),
        "the model is given the code"
    );
}
