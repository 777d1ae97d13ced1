//! Property tests of the envelope parser: whatever bytes arrive, parsing answers (Ok or an
//! error) without panicking, and what it accepts survives a round trip unchanged.

use catwalk_protocol::{Body, Message};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[a-z_/]{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Objects shaped like JSON-RPC messages, valid or nearly so.
fn envelope() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just(json!("2.0")), Just(json!("1.0")), json_value()],
        prop::option::of(prop_oneof![
            any::<i64>().prop_map(Value::from),
            "[a-z0-9]{0,6}".prop_map(Value::from),
            json_value()
        ]),
        prop::option::of(prop_oneof![
            "[a-z/]{1,20}".prop_map(Value::from),
            json_value()
        ]),
        prop::option::of(json_value()),
        prop::option::of(json_value()),
        prop::option::of(json_value()),
    )
        .prop_map(|(jsonrpc, id, method, params, result, error)| {
            let mut object = serde_json::Map::new();
            object.insert("jsonrpc".into(), jsonrpc);
            for (key, value) in [
                ("id", id),
                ("method", method),
                ("params", params),
                ("result", result),
                ("error", error),
            ] {
                if let Some(value) = value {
                    object.insert(key.into(), value);
                }
            }
            Value::Object(object)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Message::parse(&bytes);
        let _ = Body::parse(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value()) {
        let text = value.to_string();
        let _ = Message::parse(text.as_bytes());
        let _ = Body::parse(text.as_bytes());
    }

    #[test]
    fn accepted_messages_round_trip(value in envelope()) {
        let text = value.to_string();
        if let Ok(message) = Message::parse(text.as_bytes()) {
            let again = Message::parse(message.to_json().as_bytes()).expect("what was accepted parses again");
            prop_assert_eq!(&again.id, &message.id);
            prop_assert_eq!(&again.method, &message.method);
            prop_assert_eq!(again.kind(), message.kind());
            // Bodies are carried byte for byte.
            prop_assert_eq!(again.params.map(|p| p.get().to_string()), message.params.map(|p| p.get().to_string()));
            prop_assert_eq!(again.result.map(|p| p.get().to_string()), message.result.map(|p| p.get().to_string()));
        }
    }

    #[test]
    fn batches_of_envelopes_never_panic(values in prop::collection::vec(envelope(), 0..8)) {
        let text = Value::Array(values).to_string();
        let _ = Body::parse(text.as_bytes());
    }
}

/// serde_json's recursion limit guards the envelope; params are skipped over as raw text (which
/// does not recurse) and forwarded, so a deep body is the server's to judge, and reading a field
/// of it fails softly.
#[test]
fn deep_nesting_is_no_stack_overflow() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(Message::parse(deep.as_bytes()).is_err());
    assert!(Body::parse(deep.as_bytes()).is_err());
    let deep_params = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"x","params":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let message = Message::parse(deep_params.as_bytes()).expect("raw params are carried");
    assert_eq!(message.param::<String>("name"), None);
}
