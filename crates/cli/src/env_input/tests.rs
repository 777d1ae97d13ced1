//! `--env` and env file parsing.

use super::{EnvInputError, is_valid_key, parse_env_arg, parse_env_file};

fn no_shell(_: &str) -> Option<String> {
    None
}

#[test]
fn env_arg_splits_at_the_first_equals() {
    assert_eq!(
        parse_env_arg("TOKEN=a=b==c", no_shell).unwrap(),
        ("TOKEN".to_owned(), "a=b==c".to_owned())
    );
    assert_eq!(
        parse_env_arg("EMPTY=", no_shell).unwrap(),
        ("EMPTY".to_owned(), String::new())
    );
    assert_eq!(
        parse_env_arg("URL=postgres://u:p@h/db?x=1", no_shell).unwrap(),
        ("URL".to_owned(), "postgres://u:p@h/db?x=1".to_owned())
    );
}

#[test]
fn a_bare_key_takes_the_shell_value() {
    let shell = |key: &str| (key == "API_KEY").then(|| "from-shell".to_owned());
    assert_eq!(
        parse_env_arg("API_KEY", shell).unwrap(),
        ("API_KEY".to_owned(), "from-shell".to_owned())
    );
    assert_eq!(
        parse_env_arg("OTHER", shell).unwrap_err(),
        EnvInputError::UnsetInShell {
            key: "OTHER".to_owned()
        }
    );
}

#[test]
fn bad_keys_are_rejected_without_echoing_the_value() {
    let error = parse_env_arg("1BAD=secret-value", no_shell).unwrap_err();
    assert!(!error.to_string().contains("secret-value"), "{error}");
    assert!(parse_env_arg("=value", no_shell).is_err());
    assert!(parse_env_arg("A-B=value", no_shell).is_err());
    assert!(is_valid_key("_A1"));
    assert!(!is_valid_key(""));
    assert!(!is_valid_key("A B"));
}

#[test]
fn env_file_syntax() {
    let text = "\
# a comment
  
PLAIN=value with spaces  
export EXPORTED=yes
EQUALS=a=b
SINGLE='it''s literal \\n'
DOUBLE=\"line1\\nline2 \\\"quoted\\\" \\\\ end\"
HASH=abc#def
EMPTY=
  SPACED = around 
DUP=first
DUP=second
";
    let vars = parse_env_file(text).unwrap();
    let get = |key: &str| vars.get(key).map(String::as_str);
    assert_eq!(get("PLAIN"), Some("value with spaces"));
    assert_eq!(get("EXPORTED"), Some("yes"));
    assert_eq!(get("EQUALS"), Some("a=b"));
    assert_eq!(get("SINGLE"), Some("it''s literal \\n"));
    assert_eq!(get("DOUBLE"), Some("line1\nline2 \"quoted\" \\ end"));
    assert_eq!(get("HASH"), Some("abc#def"));
    assert_eq!(get("EMPTY"), Some(""));
    assert_eq!(get("SPACED"), Some("around"));
    assert_eq!(get("DUP"), Some("second"));
    assert_eq!(vars.len(), 9);
}

#[test]
fn env_file_errors_name_the_line_not_the_value() {
    let error = parse_env_file("A=1\nsecret-without-equals\n").unwrap_err();
    assert_eq!(error, EnvInputError::NoEquals { line: 2 });
    assert!(!error.to_string().contains("secret"), "{error}");

    assert_eq!(
        parse_env_file("OK=1\n\n9X=2").unwrap_err(),
        EnvInputError::BadFileKey {
            line: 3,
            key: "9X".to_owned()
        }
    );
    assert_eq!(
        parse_env_file("A=\"unterminated").unwrap_err(),
        EnvInputError::Unterminated {
            line: 1,
            quote: '"'
        }
    );
    assert_eq!(
        parse_env_file("A='").unwrap_err(),
        EnvInputError::Unterminated {
            line: 1,
            quote: '\''
        }
    );
}

#[test]
fn crlf_files_parse() {
    let vars = parse_env_file("A=1\r\nB=\"two\"\r\n").unwrap();
    assert_eq!(vars["A"], "1");
    assert_eq!(vars["B"], "two");
}
