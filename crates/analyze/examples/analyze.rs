//! Prints the spec of one source: `cargo run -p catwalk-analyze --example analyze -- <source> [work_dir]`.

use std::path::PathBuf;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let Some(source) = args.next() else {
        eprintln!("usage: analyze <source> [work_dir]");
        std::process::exit(2);
    };
    let work_dir = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("catwalk-analyze"));
    let analyzer = catwalk_analyze::Analyzer::new(work_dir);
    match analyzer
        .analyze(&source, &|line| eprintln!("> {line}"))
        .await
    {
        Ok(spec) => println!(
            "{}",
            serde_json::to_string_pretty(&spec).expect("a spec always serialises")
        ),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
