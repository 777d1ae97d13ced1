//! Byte compatibility with Python's `cryptography` Fernet, the format the original Catwalk stored
//! its secrets in. These tests run a real `python3` (override with `CATWALK_TEST_PYTHON`) with the
//! `cryptography` package; they fail, rather than skip, when it is missing.

use std::io::Write;
use std::process::{Command, Stdio};

use catwalk_vault::Vault;

/// Runs `script` with `args`, feeding `stdin`, and returns its trimmed stdout.
fn python(script: &str, args: &[&str], stdin: &str) -> String {
    let program = std::env::var("CATWALK_TEST_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let mut child = Command::new(&program)
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{program}` ({e}): these tests need Python 3 with the `cryptography` \
                 package (install Python, then `pip install cryptography`)"
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("No module named 'cryptography'") {
        panic!(
            "`{program}` has no `cryptography` package: run `pip install cryptography` \
             (or point CATWALK_TEST_PYTHON at a Python that has it)"
        );
    }
    assert!(
        output.status.success(),
        "{program} failed ({}): {stderr}",
        output.status
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

const PY_ENCRYPT: &str = "
import sys
from cryptography.fernet import Fernet
sys.stdout.write(Fernet(sys.argv[1].encode()).encrypt(sys.stdin.buffer.read()).decode())
";

const PY_DECRYPT: &str = "
import sys
from cryptography.fernet import Fernet, MultiFernet
keys = [Fernet(k.encode()) for k in sys.argv[1].split(',')]
sys.stdout.write(MultiFernet(keys).decrypt(sys.stdin.read().encode()).hex())
";

const PY_GENERATE: &str = "
from cryptography.fernet import Fernet
print(Fernet.generate_key().decode())
";

// Multi-byte UTF-8, JSON punctuation and a trailing newline: the shapes credentials come in.
const PLAINTEXT: &str = "{\"GITHUB_TOKEN\":\"ghp_Zx9 ünïcødé ✓\"}\n";

#[test]
fn python_encrypts_rust_decrypts() {
    let key = python(PY_GENERATE, &[], "");
    let token = python(PY_ENCRYPT, &[&key], PLAINTEXT);
    let vault = Vault::from_keys(&[&key]).unwrap();
    assert_eq!(vault.decrypt_string(&token).unwrap(), PLAINTEXT);

    // Also as the second key of a rotating vault, the state during a key migration.
    let rotating = Vault::from_keys(&[&Vault::generate_key(), &key]).unwrap();
    assert_eq!(rotating.decrypt_string(&token).unwrap(), PLAINTEXT);
}

#[test]
fn rust_encrypts_python_decrypts() {
    let key = Vault::generate_key();
    let vault = Vault::from_keys(&[&key]).unwrap();
    let token = vault.encrypt(PLAINTEXT.as_bytes());
    let hex_plaintext = python(PY_DECRYPT, &[&key], &token);
    assert_eq!(hex_plaintext, hex::encode(PLAINTEXT));

    // Python's MultiFernet accepts a token made by our first key, with the old key listed too.
    let old_key = python(PY_GENERATE, &[], "");
    let rotating = Vault::from_keys(&[&key, &old_key]).unwrap();
    let token = rotating.encrypt(b"rotated");
    let hex_plaintext = python(PY_DECRYPT, &[&format!("{old_key},{key}")], &token);
    assert_eq!(hex_plaintext, hex::encode("rotated"));
}

#[test]
fn python_rejects_a_token_for_another_key() {
    let token = Vault::from_keys(&[&Vault::generate_key()])
        .unwrap()
        .encrypt(b"x");
    let script = "
import sys
from cryptography.fernet import Fernet, InvalidToken
try:
    Fernet(sys.argv[1].encode()).decrypt(sys.stdin.read().encode())
    print('decrypted')
except InvalidToken:
    print('invalid')
";
    assert_eq!(python(script, &[&Vault::generate_key()], &token), "invalid");
}
