//! Hostile and benign archives: extraction refuses escapes and writes nothing outside.
//!
//! The hostile tarballs are written header by header, because the `tar` crate's own builder
//! refuses to create such entries.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use catwalk_analyze::extract::{extract_tar_gz, extract_zip};
use catwalk_analyze::{AnalyzeError, ExtractLimits};
use flate2::Compression;
use flate2::write::GzEncoder;
use tar::{EntryType, Header};

struct Raw<'a> {
    name: &'a str,
    kind: EntryType,
    link: Option<&'a str>,
    data: &'a [u8],
    mode: u32,
}

fn file<'a>(name: &'a str, data: &'a [u8]) -> Raw<'a> {
    Raw {
        name,
        kind: EntryType::Regular,
        link: None,
        data,
        mode: 0o644,
    }
}

fn link<'a>(name: &'a str, kind: EntryType, target: &'a str) -> Raw<'a> {
    Raw {
        name,
        kind,
        link: Some(target),
        data: b"",
        mode: 0o777,
    }
}

fn tarball(dir: &Path, entries: &[Raw]) -> PathBuf {
    let path = dir.join("archive.tgz");
    let mut builder = tar::Builder::new(GzEncoder::new(
        fs::File::create(&path).unwrap(),
        Compression::default(),
    ));
    for entry in entries {
        let mut header = Header::new_gnu();
        let gnu = header.as_gnu_mut().unwrap();
        gnu.name[..entry.name.len()].copy_from_slice(entry.name.as_bytes());
        if let Some(target) = entry.link {
            gnu.linkname[..target.len()].copy_from_slice(target.as_bytes());
        }
        header.set_entry_type(entry.kind);
        header.set_size(entry.data.len() as u64);
        header.set_mode(entry.mode);
        header.set_cksum();
        builder.append(&header, entry.data).unwrap();
    }
    builder
        .into_inner()
        .unwrap()
        .finish()
        .unwrap()
        .flush()
        .unwrap();
    path
}

/// Extracts into `<tmp>/box/out` and returns the error; checks nothing appeared in `<tmp>/box`
/// next to `out` or anywhere else under `<tmp>`.
fn refused(entries: &[Raw], expected_reason: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tarball(tmp.path(), entries);
    let sandbox = tmp.path().join("box");
    let out = sandbox.join("out");
    let error = extract_tar_gz(&archive, &out, 0, &ExtractLimits::default()).unwrap_err();
    assert!(
        matches!(error, AnalyzeError::UnsafeArchive { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains(expected_reason), "{error}");
    let beside: Vec<_> = fs::read_dir(&sandbox)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, ["out"], "nothing written next to the destination");
    let above: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        above.len(),
        2,
        "only the archive and the sandbox: {above:?}"
    );
    assert!(!Path::new("/tmp/catwalk-absolute-evil").exists());
}

#[test]
fn dot_dot_paths_are_refused() {
    refused(
        &[file("package/ok.txt", b"ok"), file("../evil", b"evil")],
        "has a .. component",
    );
    refused(&[file("package/../../evil", b"evil")], "has a .. component");
}

#[test]
fn absolute_paths_are_refused() {
    refused(
        &[file("/tmp/catwalk-absolute-evil", b"evil")],
        "has an absolute path",
    );
}

#[test]
fn escaping_symlinks_are_refused() {
    refused(
        &[link("package/up", EntryType::Symlink, "../../outside")],
        "pointing outside the archive",
    );
    refused(
        &[link("etc", EntryType::Symlink, "/etc")],
        "symlink to an absolute path",
    );
    refused(
        &[link("a/b", EntryType::Symlink, "c/../../..")],
        "with .. after a folder name",
    );
}

#[test]
fn writing_through_a_symlink_is_refused() {
    // The link itself stays inside, but a later entry must not be written through it.
    refused(
        &[
            file("real/keep.txt", b"x"),
            link("alias", EntryType::Symlink, "real"),
            file("alias/evil", b"evil"),
        ],
        "through the symlink",
    );
}

#[test]
fn escaping_hard_links_and_devices_are_refused() {
    refused(
        &[link("passwd", EntryType::Link, "../../etc/passwd")],
        "hard link pointing outside",
    );
    refused(
        &[link("passwd", EntryType::Link, "/etc/passwd")],
        "hard link pointing outside",
    );
    refused(
        &[Raw {
            name: "tty",
            kind: EntryType::Char,
            link: None,
            data: b"",
            mode: 0o644,
        }],
        "device file or FIFO",
    );
    refused(
        &[Raw {
            name: "pipe",
            kind: EntryType::Fifo,
            link: None,
            data: b"",
            mode: 0o644,
        }],
        "device file or FIFO",
    );
}

#[test]
fn limits_stop_bombs() {
    let tmp = tempfile::tempdir().unwrap();
    let big = vec![b'a'; 4096];
    let archive = tarball(tmp.path(), &[file("big", &big)]);
    let limits = ExtractLimits {
        max_total_bytes: 1000,
        max_entries: 10,
    };
    let error = extract_tar_gz(&archive, &tmp.path().join("out1"), 0, &limits).unwrap_err();
    assert!(matches!(error, AnalyzeError::TooLarge { .. }), "{error:?}");

    let names: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
    let many: Vec<Raw> = names.iter().map(|n| file(n, b"x")).collect();
    let archive = tarball(tmp.path(), &many);
    let error = extract_tar_gz(&archive, &tmp.path().join("out2"), 0, &limits).unwrap_err();
    assert!(error.to_string().contains("10 entries"), "{error}");
}

#[test]
fn benign_tarball_is_extracted_with_its_prefix_stripped() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tarball(
        tmp.path(),
        &[
            file("package/package.json", b"{}"),
            Raw {
                name: "package/bin/run.js",
                kind: EntryType::Regular,
                link: None,
                data: b"#!/usr/bin/env node",
                mode: 0o755,
            },
            link("package/bin/alias.js", EntryType::Symlink, "run.js"),
            link("package/docs/up.js", EntryType::Symlink, "../bin/run.js"),
            link("package/copy.js", EntryType::Link, "package/bin/run.js"),
        ],
    );
    let out = tmp.path().join("out");
    extract_tar_gz(&archive, &out, 1, &ExtractLimits::default()).unwrap();
    assert_eq!(fs::read_to_string(out.join("package.json")).unwrap(), "{}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(out.join("bin/run.js"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o755
    );
    assert_eq!(
        fs::read_link(out.join("bin/alias.js")).unwrap(),
        Path::new("run.js")
    );
    assert_eq!(
        fs::read_to_string(out.join("docs/up.js")).unwrap(),
        "#!/usr/bin/env node"
    );
    assert_eq!(
        fs::read_to_string(out.join("copy.js")).unwrap(),
        "#!/usr/bin/env node"
    );
    assert!(
        !fs::symlink_metadata(out.join("copy.js"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

fn zip_with(dir: &Path, build: impl FnOnce(&mut zip::ZipWriter<fs::File>)) -> PathBuf {
    let path = dir.join("archive.whl");
    let mut writer = zip::ZipWriter::new(fs::File::create(&path).unwrap());
    build(&mut writer);
    writer.finish().unwrap();
    path
}

#[test]
fn hostile_zips_are_refused() {
    let options = zip::write::SimpleFileOptions::default();
    for (name, reason) in [
        ("../evil.py", "has a .. component"),
        ("/tmp/catwalk-absolute-evil", "has an absolute path"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let archive = zip_with(tmp.path(), |w| {
            w.start_file("pkg/__init__.py", options).unwrap();
            w.write_all(b"").unwrap();
            w.start_file(name, options).unwrap();
            w.write_all(b"evil").unwrap();
        });
        let error = extract_zip(
            &archive,
            &tmp.path().join("box/out"),
            &ExtractLimits::default(),
        )
        .unwrap_err();
        assert!(error.to_string().contains(reason), "{name}: {error}");
        assert!(!tmp.path().join("evil.py").exists() && !tmp.path().join("box/evil.py").exists());
    }
    let tmp = tempfile::tempdir().unwrap();
    let archive = zip_with(tmp.path(), |w| {
        w.add_symlink("pkg/link", "/etc/passwd", options).unwrap();
    });
    let error =
        extract_zip(&archive, &tmp.path().join("out"), &ExtractLimits::default()).unwrap_err();
    assert!(error.to_string().contains("is a symlink"), "{error}");
}

#[test]
fn benign_zip_is_extracted() {
    let tmp = tempfile::tempdir().unwrap();
    let options = zip::write::SimpleFileOptions::default();
    let archive = zip_with(tmp.path(), |w| {
        w.add_directory("pkg/", options).unwrap();
        w.start_file("pkg/__init__.py", options).unwrap();
        w.write_all(b"VERSION = 1").unwrap();
        w.start_file("pkg-1.0.dist-info/entry_points.txt", options)
            .unwrap();
        w.write_all(b"[console_scripts]\npkg = pkg:main\n").unwrap();
    });
    let out = tmp.path().join("out");
    extract_zip(&archive, &out, &ExtractLimits::default()).unwrap();
    assert_eq!(
        fs::read_to_string(out.join("pkg/__init__.py")).unwrap(),
        "VERSION = 1"
    );
    assert!(out.join("pkg-1.0.dist-info/entry_points.txt").is_file());
}
