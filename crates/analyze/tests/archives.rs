//! Archive URLs downloaded from a local HTTP server: formats, subfolders, size and time
//! limits, hostile content, private-network refusal and the spec cache.

mod fakes;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use catwalk_analyze::{AnalyzeError, Analyzer, Source, parse_source};
use fakes::{FakeHost, Served, analyzer_for, run};
use flate2::Compression;
use flate2::write::GzEncoder;

fn fixture_dir(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The echo fixture as a `.tar.gz` with everything under `top/`.
fn echo_tarball(top: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    builder
        .append_dir_all(top, fixture_dir("echo-server"))
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

/// The echo fixture as a `.zip` with its files under `folder/`.
fn echo_zip(folder: &str) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for entry in std::fs::read_dir(fixture_dir("echo-server"))
        .unwrap()
        .flatten()
    {
        let name = format!("{folder}/{}", entry.file_name().to_string_lossy());
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(&std::fs::read(entry.path()).unwrap())
            .unwrap();
    }
    zip.start_file("README-top.md", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"# a bundle\n").unwrap();
    zip.finish().unwrap().into_inner()
}

/// A tarball with a `../` entry, written header by header (the tar builder refuses it).
fn escaping_tarball() -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    let data = b"escaped";
    let mut header = tar::Header::new_gnu();
    let name = b"pkg/../../escaped.txt";
    header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    builder.append(&header, &data[..]).unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

fn assert_echo(spec: &catwalk_analyze::ServerSpec) {
    assert_eq!(spec.package.name, "catwalk-echo-fixture");
    assert_eq!(spec.launch.command, "catwalk-echo");
    assert_eq!(spec.env.len(), 2);
}

/// The server runs analyses on spawned tasks: the future must be `Send`.
#[test]
fn analysis_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let analyzer = Analyzer::new(std::env::temp_dir().join("unused"));
    let progress = |_: &str| {};
    let future = analyzer.analyze("registry:io.github.o/x", &progress);
    assert_send(&future);
}

#[test]
fn archive_urls_parse() {
    assert_eq!(
        parse_source("https://files.example/x/echo.tgz#:srv/echo").unwrap(),
        Source::Archive {
            url: "https://files.example/x/echo.tgz".into(),
            subdir: Some("srv/echo".into())
        }
    );
    for refused in [
        "https://files.example/echo.tgz?X-Amz-Signature=secret",
        "https://files.example/echo.tgz#v1",
        "https://files.example/echo.tgz#:../up",
        "https://user:pw@files.example/echo.tgz",
        "https://files.example/echo.rar",
    ] {
        let error = parse_source(refused).unwrap_err();
        assert!(
            matches!(error, AnalyzeError::InvalidSource { .. }),
            "{refused}: {error:?}"
        );
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tarballs_and_zips_analyze_with_their_folders() {
    let fake = FakeHost::start().await;
    let (analyzer, _guard) = analyzer_for(&fake);
    fake.serve("/dl/echo-1.0.0.tgz", Served::Bytes(echo_tarball("package")));
    fake.serve("/dl/bundle.zip", Served::Bytes(echo_zip("srv/echo")));
    // A gzip tarball behind a .zip name: the bytes decide the format, not the URL.
    fake.serve("/dl/mislabelled.zip", Served::Bytes(echo_tarball("echo")));

    let url = format!("{}/dl/echo-1.0.0.tgz", fake.base);
    let (result, _) = run(&analyzer, &url).await;
    let spec = result.expect("the tarball analyzes");
    assert_echo(&spec);
    assert_eq!(spec.source, url);
    let root = spec.package.path.clone().unwrap();
    assert!(root.ends_with("package"), "one top folder is the root");
    assert!(root.starts_with(analyzer.work_dir.join("sources/archive")));

    let (result, _) = run(&analyzer, &format!("{}/dl/bundle.zip#:srv/echo", fake.base)).await;
    let spec = result.expect("the zip's folder analyzes");
    assert_echo(&spec);
    assert_eq!(
        spec.source,
        format!("{}/dl/bundle.zip#:srv/echo", fake.base)
    );
    assert!(spec.package.path.unwrap().ends_with("srv/echo"));

    let (result, _) = run(&analyzer, &format!("{}/dl/mislabelled.zip", fake.base)).await;
    assert_echo(&result.expect("a mislabelled tarball analyzes"));

    let (result, _) = run(&analyzer, &format!("{}/dl/missing.tgz", fake.base)).await;
    let error = result.unwrap_err();
    assert!(matches!(error, AnalyzeError::Download { .. }), "{error:?}");
    assert!(error.to_string().contains("HTTP 404"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_stop_at_the_size_cap_and_the_deadline() {
    let fake = FakeHost::start().await;
    let (mut analyzer, _guard) = analyzer_for(&fake);
    let tarball = echo_tarball("package");
    fake.serve("/dl/echo.tgz", Served::Bytes(tarball.clone()));
    fake.serve("/dl/endless.tgz", Served::Endless);
    fake.serve("/dl/stalled.tgz", Served::Stalled);

    analyzer.max_download_bytes = 100 * 1024;
    let (result, _) = run(&analyzer, &format!("{}/dl/endless.tgz", fake.base)).await;
    let error = result.unwrap_err();
    assert!(matches!(error, AnalyzeError::TooLarge { .. }), "{error:?}");
    assert!(error.to_string().contains("102400 bytes"), "{error}");

    analyzer.max_download_bytes = tarball.len() as u64 - 1;
    let (result, _) = run(&analyzer, &format!("{}/dl/echo.tgz", fake.base)).await;
    assert!(
        matches!(result, Err(AnalyzeError::TooLarge { .. })),
        "{result:?}"
    );
    let leftovers = std::fs::read_dir(analyzer.work_dir.join("tmp"))
        .unwrap()
        .flatten()
        .count();
    assert_eq!(leftovers, 0, "an aborted download leaves nothing behind");

    analyzer.max_download_bytes = 1024 * 1024;
    analyzer.fetch_timeout = Duration::from_secs(2);
    let started = std::time::Instant::now();
    let (result, _) = run(&analyzer, &format!("{}/dl/stalled.tgz", fake.base)).await;
    let error = result.unwrap_err();
    assert!(matches!(error, AnalyzeError::Timeout { .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(30));

    // The extraction limits apply to downloaded archives as to packages.
    analyzer.fetch_timeout = Duration::from_secs(30);
    analyzer.limits.max_entries = 2;
    let (result, _) = run(&analyzer, &format!("{}/dl/echo.tgz", fake.base)).await;
    let error = result.unwrap_err();
    assert!(matches!(error, AnalyzeError::TooLarge { .. }), "{error:?}");
    assert!(error.to_string().contains("2 entries"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_archive_writes_nothing_outside() {
    let fake = FakeHost::start().await;
    let (analyzer, guard) = analyzer_for(&fake);
    fake.serve("/dl/evil.tgz", Served::Bytes(escaping_tarball()));
    let (result, _) = run(&analyzer, &format!("{}/dl/evil.tgz", fake.base)).await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, AnalyzeError::UnsafeArchive { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains(".. component"), "{error}");
    assert!(!guard.path().join("escaped.txt").exists());
    assert!(!analyzer.work_dir.join("escaped.txt").exists());
    assert!(!analyzer.work_dir.join("sources/escaped.txt").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_before_any_request() {
    let fake = FakeHost::start().await;
    fake.serve("/dl/echo.tgz", Served::Bytes(echo_tarball("package")));
    let work = tempfile::tempdir().unwrap();
    let analyzer = Analyzer::new(work.path().join("work"));
    assert!(!analyzer.allow_private_network, "refused by default");
    let port = fake.base.rsplit(':').next().unwrap();
    for source in [
        format!("{}/dl/echo.tgz", fake.base),
        format!("http://localhost:{port}/dl/echo.tgz"),
        format!("http://[::ffff:127.0.0.1]:{port}/dl/echo.tgz"),
        format!("{}/catwalk/echo.git", fake.base),
        format!("http://localhost:{port}/catwalk/echo.git#main:src"),
        "git://localhost/catwalk/echo.git".to_string(),
        "ssh://git@127.0.0.1/catwalk/echo.git".to_string(),
    ] {
        let (result, _) = run(&analyzer, &source).await;
        let error = result.unwrap_err();
        assert!(
            matches!(error, AnalyzeError::PrivateNetwork { .. }),
            "{source}: {error:?}"
        );
    }
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());

    // The operator's switch lets the same download through.
    let mut allowed = analyzer.clone();
    allowed.allow_private_network = true;
    let (result, _) = run(&allowed, &format!("http://localhost:{port}/dl/echo.tgz")).await;
    assert_echo(&result.expect("allowed once the operator says so"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_archive_content_reuses_its_spec() {
    let fake = FakeHost::start().await;
    let (analyzer, _guard) = analyzer_for(&fake);
    let tarball = echo_tarball("package");
    fake.serve("/dl/echo.tgz", Served::Bytes(tarball.clone()));
    fake.serve("/mirror/echo-copy.tgz", Served::Bytes(tarball));

    let first_url = format!("{}/dl/echo.tgz", fake.base);
    let (result, progress) = run(&analyzer, &first_url).await;
    let first = result.unwrap();
    assert!(
        !progress
            .iter()
            .any(|l| l.starts_with("using the cached analysis")),
        "{progress:?}"
    );
    let specs: Vec<_> = std::fs::read_dir(analyzer.work_dir.join("specs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(specs.len(), 1, "{specs:?}");
    assert!(
        specs[0].ends_with(".json") && specs[0].len() == 64 + 5,
        "{specs:?}"
    );

    let (result, progress) = run(&analyzer, &first_url).await;
    assert_eq!(result.unwrap(), first);
    assert!(
        progress
            .iter()
            .any(|l| l.starts_with("using the cached analysis")),
        "{progress:?}"
    );
    assert!(
        !progress.iter().any(|l| l.starts_with("scanning")),
        "the files are not read again: {progress:?}"
    );

    // The same bytes from another URL: the same analysis, recorded under the new source.
    let copy_url = format!("{}/mirror/echo-copy.tgz", fake.base);
    let (result, progress) = run(&analyzer, &copy_url).await;
    let copy = result.unwrap();
    assert!(
        progress
            .iter()
            .any(|l| l.starts_with("using the cached analysis")),
        "{progress:?}"
    );
    assert_eq!(copy.source, copy_url);
    assert_eq!(copy.env, first.env);

    // Turning reuse off analyzes again.
    let mut fresh = analyzer.clone();
    fresh.reuse_cached_specs = false;
    let (result, progress) = run(&fresh, &first_url).await;
    assert_eq!(result.unwrap(), first);
    assert!(
        progress.iter().any(|l| l.starts_with("scanning")),
        "{progress:?}"
    );
}
