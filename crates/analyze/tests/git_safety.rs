//! Git checkouts under hostile conditions (symlinks out, huge repositories, submodules), the
//! `#rev:folder` form of plain git URLs, and the spec cache keyed by commit.

mod fakes;

use std::io::Write;
use std::path::Path;

use catwalk_analyze::{AnalyzeError, Runtime};
use fakes::{FakeHost, analyzer_for, commit_all, copy_fixture, git, init_repo, run};

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn echo_repo(root: &Path, name: &str) -> std::path::PathBuf {
    let repo = root.join(name);
    copy_fixture("echo-server", &repo);
    repo
}

fn git_sources_are_empty(analyzer: &catwalk_analyze::Analyzer) {
    let left: Vec<_> = std::fs::read_dir(analyzer.work_dir.join("sources/git"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "a refused clone leaves nothing: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_leaving_the_checkout_are_refused() {
    let fake = FakeHost::start().await;
    let (analyzer, guard) = analyzer_for(&fake);
    for (name, target, reason) in [
        ("absolute", "/etc", "is a symlink to an absolute path"),
        (
            "climbing",
            "../../../..",
            "is a symlink pointing outside the archive",
        ),
    ] {
        let repo = echo_repo(guard.path(), name);
        std::os::unix::fs::symlink(target, repo.join("escape")).unwrap();
        init_repo(&repo);
        let (result, _) = run(&analyzer, &file_url(&repo)).await;
        let error = result.unwrap_err();
        assert!(
            matches!(error, AnalyzeError::UnsafeArchive { .. }),
            "{name}: {error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("the checkout of file://"), "{message}");
        assert!(message.contains("\"escape\""), "{message}");
        assert!(message.contains(reason), "{message}");
        git_sources_are_empty(&analyzer);
    }

    // A symlink that stays inside is kept, and a subfolder may go through it.
    let repo = guard.path().join("linked");
    copy_fixture("echo-server", &repo.join("src/echo"));
    std::os::unix::fs::symlink("src/echo", repo.join("server")).unwrap();
    init_repo(&repo);
    let (result, _) = run(&analyzer, &format!("{}#:server", file_url(&repo))).await;
    let spec = result.expect("an inside symlink is fine");
    assert_eq!(spec.package.name, "catwalk-echo-fixture");
    let path = spec.package.path.unwrap();
    assert!(
        path.ends_with("src/echo"),
        "the folder is resolved: {}",
        path.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_larger_than_the_limits_is_refused() {
    let fake = FakeHost::start().await;
    let (mut analyzer, guard) = analyzer_for(&fake);
    let repo = echo_repo(guard.path(), "huge");
    // Incompressible bytes, so the pack is as large as the file.
    let mut noise = vec![0u8; 2 * 1024 * 1024];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for byte in noise.iter_mut() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = state as u8;
    }
    std::fs::File::create(repo.join("blob.bin"))
        .unwrap()
        .write_all(&noise)
        .unwrap();
    init_repo(&repo);
    fake.publish_repo(&repo, "catwalk", "huge");
    analyzer.limits.max_total_bytes = 256 * 1024;
    let (result, _) = run(&analyzer, "https://github.com/catwalk/huge").await;
    let error = result.unwrap_err();
    assert!(matches!(error, AnalyzeError::TooLarge { .. }), "{error:?}");
    assert!(error.to_string().contains("256 KB"), "{error}");
    git_sources_are_empty(&analyzer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submodules_are_never_fetched() {
    let fake = FakeHost::start().await;
    let (analyzer, guard) = analyzer_for(&fake);
    let inner = guard.path().join("inner");
    std::fs::create_dir_all(&inner).unwrap();
    std::fs::write(inner.join("secret.txt"), "from another repository").unwrap();
    init_repo(&inner);
    let repo = echo_repo(guard.path(), "outer");
    init_repo(&repo);
    git(
        &repo,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "--quiet",
            &file_url(&inner),
            "vendor/inner",
        ],
    );
    commit_all(&repo, "add a submodule");
    let (result, _) = run(&analyzer, &file_url(&repo)).await;
    let spec = result.expect("the repository analyzes");
    let checkout = spec.package.path.unwrap();
    assert!(checkout.join(".gitmodules").is_file());
    assert!(
        !checkout.join("vendor/inner/secret.txt").exists(),
        "the submodule was not cloned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_urls_take_a_revision_and_a_folder() {
    let fake = FakeHost::start().await;
    let (analyzer, guard) = analyzer_for(&fake);
    let repo = guard.path().join("mono");
    copy_fixture("monorepo-root", &repo);
    copy_fixture("echo-server", &repo.join("src/echo"));
    copy_fixture("py-weather", &repo.join("src/weather"));
    let first = init_repo(&repo);
    git(&repo, &["tag", "v1"]);
    let url = file_url(&repo);

    let (result, _) = run(&analyzer, &format!("{url}#v1:src/weather")).await;
    let spec = result.expect("rev and folder");
    assert_eq!(spec.runtime, Runtime::Python);
    assert_eq!(spec.source, format!("{url}#v1:src/weather"));
    assert_eq!(spec.package.revision.as_deref(), Some(first.as_str()));

    let (result, _) = run(&analyzer, &format!("{url}#:src/echo")).await;
    assert_eq!(result.expect("folder only").runtime, Runtime::Node);

    let (result, _) = run(&analyzer, &url).await;
    match result {
        Err(AnalyzeError::SeveralServers { candidates, .. }) => {
            let sources: Vec<&str> = candidates.iter().map(|c| c.source.as_str()).collect();
            assert_eq!(
                sources,
                [format!("{url}#:src/echo"), format!("{url}#:src/weather")]
            );
        }
        other => panic!("expected the candidates, got {other:?}"),
    }

    // A folder holding exactly one server is analyzed, with a warning naming the pick.
    let (result, _) = run(&analyzer, &format!("{url}#v1:src")).await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, AnalyzeError::SeveralServers { .. }),
        "src holds two servers: {error:?}"
    );
    std::fs::remove_dir_all(repo.join("src/weather")).unwrap();
    commit_all(&repo, "only echo left");
    let (result, _) = run(&analyzer, &format!("{url}#main:src")).await;
    let spec = result.expect("the only server under src is picked");
    assert_eq!(spec.package.name, "catwalk-echo-fixture");
    assert_eq!(spec.source, format!("{url}#main:src/echo"));
    assert!(
        spec.warnings
            .iter()
            .any(|w| w.contains("analyzed its only server, catwalk-echo-fixture, in echo")),
        "{:?}",
        spec.warnings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_commit_reuses_its_spec_without_cloning() {
    let fake = FakeHost::start().await;
    let (analyzer, guard) = analyzer_for(&fake);
    let repo = echo_repo(guard.path(), "echo");
    init_repo(&repo);
    let bare = fake.publish_repo(&repo, "catwalk", "echo");
    let github = "https://github.com/catwalk/echo";

    let (result, progress) = run(&analyzer, github).await;
    let first = result.unwrap();
    assert!(
        progress.iter().any(|l| l.starts_with("cloning")),
        "{progress:?}"
    );
    let checkout = first.package.path.clone().unwrap();
    // Were the repository cloned again, this file would disappear with the old checkout.
    std::fs::write(checkout.join("marker"), "still here").unwrap();

    let (result, progress) = run(&analyzer, github).await;
    assert_eq!(result.unwrap(), first);
    assert!(
        progress
            .iter()
            .any(|l| l.starts_with("using the cached analysis of commit")),
        "{progress:?}"
    );
    assert!(
        !progress.iter().any(|l| l.starts_with("cloning")),
        "{progress:?}"
    );
    assert!(checkout.join("marker").is_file(), "no new clone");

    // The same commit through another URL: reused, recorded under that URL and its checkout.
    let other = format!("{}#main", file_url(&bare));
    let (result, progress) = run(&analyzer, &other).await;
    let spec = result.unwrap();
    assert!(
        progress
            .iter()
            .any(|l| l.starts_with("using the cached analysis")),
        "{progress:?}"
    );
    assert_eq!(spec.source, other);
    assert_ne!(spec.package.path, first.package.path);
    assert!(spec.package.path.unwrap().join("package.json").is_file());
    assert_eq!(spec.package.revision, first.package.revision);

    // A new commit is new content: analyzed again.
    let manifest = std::fs::read_to_string(repo.join("package.json"))
        .unwrap()
        .replace("\"1.0.0\"", "\"1.1.0\"");
    std::fs::write(repo.join("package.json"), manifest).unwrap();
    commit_all(&repo, "1.1.0");
    git(&repo, &["push", "--quiet", &bare.to_string_lossy(), "main"]);
    let (result, progress) = run(&analyzer, github).await;
    let spec = result.unwrap();
    assert_eq!(spec.package.version, "1.1.0");
    assert!(
        progress.iter().any(|l| l.starts_with("cloning")),
        "{progress:?}"
    );
    assert_eq!(
        std::fs::read_dir(analyzer.work_dir.join("specs"))
            .unwrap()
            .count(),
        2,
        "one spec per commit"
    );
}
