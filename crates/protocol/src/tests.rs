use super::*;

#[test]
fn parses_each_kind_of_message() {
    let request =
        Message::parse(br#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}}"#).unwrap();
    assert_eq!(request.kind(), Kind::Request);
    assert_eq!(request.id, Some(Id::Number(7)));

    let notification =
        Message::parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
    assert_eq!(notification.kind(), Kind::Notification);

    let response = Message::parse(br#"{"jsonrpc":"2.0","id":"a","result":{"x":1}}"#).unwrap();
    assert_eq!(response.kind(), Kind::Response);
    assert_eq!(response.id, Some(Id::String("a".into())));
}

#[test]
fn keeps_params_byte_for_byte() {
    let text = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"héllo \u00e9 ","n":1.50}}}"#;
    let message = Message::parse(text.as_bytes()).unwrap();
    assert_eq!(
        message.params.as_ref().unwrap().get(),
        r#"{"name":"echo","arguments":{"message":"héllo \u00e9 ","n":1.50}}"#
    );
    assert_eq!(message.param::<String>("name").as_deref(), Some("echo"));
}

#[test]
fn rejects_what_is_not_json_rpc() {
    assert!(matches!(
        Message::parse(b"{not json"),
        Err(ParseError::Json(_))
    ));
    assert_eq!(
        Message::parse(b"{not json").unwrap_err().code(),
        codes::PARSE_ERROR
    );
    let wrong_version = Message::parse(br#"{"jsonrpc":"1.0","id":1,"method":"x"}"#).unwrap_err();
    assert_eq!(wrong_version.code(), codes::INVALID_REQUEST);
    assert!(Message::parse(br#"{"jsonrpc":"2.0","id":1}"#).is_err());
    assert!(Message::parse(br#"{"jsonrpc":"2.0","id":1,"result":1,"error":{}}"#).is_err());
    assert!(Message::parse(br#"{"jsonrpc":"2.0","id":{"a":1},"method":"x"}"#).is_err());
}

#[test]
fn parses_batches() {
    let body = Body::parse(
        br#" [{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"n"}]"#,
    )
    .unwrap();
    match body {
        Body::Batch(messages) => assert_eq!(messages.len(), 2),
        Body::Single(_) => panic!("expected a batch"),
    }
    assert!(Body::parse(b"[]").is_err());
}

#[test]
fn error_responses_serialize_as_json_rpc() {
    let message = Message::error(Some(Id::Number(3)), codes::METHOD_NOT_FOUND, "nope");
    assert_eq!(
        message.to_json(),
        r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"nope"}}"#
    );
    let no_id = Message::error(None, codes::PARSE_ERROR, "bad");
    assert_eq!(
        no_id.to_json(),
        r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"bad"}}"#
    );
}
