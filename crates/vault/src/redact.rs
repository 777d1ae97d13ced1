//! [`Redactor`]: removes known secret values from text (logs, error messages) before anyone sees
//! it.

use std::borrow::Cow;
use std::fmt;

use aho_corasick::{AhoCorasick, MatchKind};

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Shortest secret (in characters) that is redacted: shorter values would match ordinary text
/// everywhere and make logs useless while protecting nothing.
const MIN_SECRET_CHARS: usize = 4;

/// Replaces every occurrence of any known secret with [`REDACTED`].
///
/// Besides each secret as given, its JSON-escaped form is matched too, because secrets with
/// quotes or backslashes usually reach logs inside JSON. When secrets overlap, the longest match
/// wins, so a secret that contains another is removed whole.
#[derive(Clone)]
pub struct Redactor {
    matcher: Option<AhoCorasick>,
    secret_count: usize,
}

// Hand-written: the derived form would print the secrets.
impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("secret_count", &self.secret_count)
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// A redactor for these secret values; values shorter than 4 characters are ignored.
    pub fn new<I: IntoIterator<Item = String>>(secrets: I) -> Redactor {
        let mut patterns: Vec<String> = Vec::new();
        let mut secret_count = 0;
        for secret in secrets {
            if secret.chars().count() < MIN_SECRET_CHARS {
                continue;
            }
            secret_count += 1;
            let escaped = json_escape(&secret);
            if escaped != secret {
                patterns.push(escaped);
            }
            patterns.push(secret);
        }
        patterns.sort();
        patterns.dedup();
        let matcher = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&patterns)
                    .expect("literal patterns of bounded size always build"),
            )
        };
        Redactor {
            matcher,
            secret_count,
        }
    }

    /// `text` with every secret replaced; borrowed (no copy) when nothing matched.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Some(matcher) = &self.matcher else {
            return Cow::Borrowed(text);
        };
        let mut matches = matcher.find_iter(text).peekable();
        if matches.peek().is_none() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for found in matches {
            out.push_str(&text[last..found.start()]);
            out.push_str(REDACTED);
            last = found.end();
        }
        out.push_str(&text[last..]);
        Cow::Owned(out)
    }

    /// Number of secrets being redacted (those long enough to count).
    pub fn len(&self) -> usize {
        self.secret_count
    }

    /// True when there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.secret_count == 0
    }
}

/// The body of a JSON string literal for `value` (RFC 8259 escaping, as serde_json writes it).
fn json_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}
