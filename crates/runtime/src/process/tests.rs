//! Unit tests of line framing and exit formatting (real processes are in `tests/process.rs`).

use super::lines::{BoundedLines, Line};
use super::{ExitInfo, LimitExceeded};

async fn read_all(input: &[u8], limit: usize) -> Vec<Line> {
    let mut lines = BoundedLines::new(input, limit);
    let mut out = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        out.push(line);
    }
    out
}

fn complete(text: &str) -> Line {
    Line::Complete(text.as_bytes().to_vec())
}

#[tokio::test]
async fn splits_lines_and_keeps_an_unterminated_last_line() {
    let lines = read_all(b"one\r\ntwo\n\nthree", 100).await;
    assert_eq!(
        lines,
        vec![
            complete("one"),
            complete("two"),
            complete(""),
            complete("three")
        ]
    );
    assert!(read_all(b"", 100).await.is_empty());
}

#[tokio::test]
async fn over_long_lines_are_reported_with_their_length_and_do_not_swallow_the_next() {
    let mut input = vec![b'x'; 20];
    input.extend_from_slice(b"\nshort\n");
    let lines = read_all(&input, 8).await;
    assert_eq!(
        lines,
        vec![
            Line::TooLong {
                head: vec![b'x'; 8],
                len: 20
            },
            complete("short")
        ]
    );
}

#[tokio::test]
async fn a_line_of_exactly_the_limit_is_complete() {
    let lines = read_all(b"12345678\n", 8).await;
    assert_eq!(lines, vec![complete("12345678")]);
}

#[test]
fn exit_info_reads_like_a_sentence() {
    let code = ExitInfo {
        code: Some(1),
        signal: None,
        limit: None,
    };
    assert_eq!(code.to_string(), "exited with code 1");
    let killed = ExitInfo {
        code: None,
        signal: Some(9),
        limit: None,
    };
    assert_eq!(killed.to_string(), "killed by signal 9 (SIGKILL)");
    let oom = ExitInfo {
        limit: Some(LimitExceeded::Memory { limit_mib: 64 }),
        ..killed
    };
    assert_eq!(
        oom.to_string(),
        "memory limit exceeded (64 MiB): killed by signal 9 (SIGKILL)"
    );
}
