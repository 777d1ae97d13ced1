//! Unit tests of mount selection, cgroup discovery and the bwrap command line (real sandboxes
//! are in `tests/sandbox.rs`).

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::binds::{
    ToolFinder, check_not_hidden, env_program, minimal_cover, read_shebang, resolve_program,
};
use super::bwrap::{Layout, Network, Tmp, args as bwrap_args};
use super::cgroup::{Controller, own_dir};
use super::netstack::{Resolv, choose_resolv};
use super::{Mount, Sandbox};

fn executable(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn sandbox() -> Sandbox {
    Sandbox {
        bwrap: PathBuf::from("/usr/bin/bwrap"),
        version: "bubblewrap 0.8.0".to_string(),
        blocks_nested_userns: true,
        sizes_tmpfs: true,
        hidden: Vec::new(),
        network: Err("not probed".to_string()),
    }
}

#[test]
fn shebangs_name_their_interpreter_and_env_its_program() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script");
    executable(
        &script,
        "#!/usr/bin/env -S node --no-warnings\nconsole.log(1)\n",
    );
    assert_eq!(
        read_shebang(&script),
        Some((
            PathBuf::from("/usr/bin/env"),
            Some("-S node --no-warnings".to_string())
        ))
    );
    assert_eq!(
        env_program("-S node --no-warnings"),
        Some("node".to_string())
    );
    assert_eq!(env_program("FOO=1 python3 -u"), Some("python3".to_string()));

    let venv_script = dir.path().join("venv-script");
    executable(&venv_script, "#!/srv/cache/pypi/x/bin/python\nimport x\n");
    assert_eq!(
        read_shebang(&venv_script),
        Some((PathBuf::from("/srv/cache/pypi/x/bin/python"), None))
    );
    let binary = dir.path().join("binary");
    executable(&binary, "\x7fELF...");
    assert_eq!(read_shebang(&binary), None);
}

#[test]
fn programs_resolve_through_the_childs_path_not_catwalks() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    executable(&bin.join("server"), "#!/bin/sh\n");
    let path_var = format!("/nonexistent:{}", bin.display());
    assert_eq!(
        resolve_program(Path::new("server"), Some(&path_var), Path::new("/")),
        Some(bin.join("server"))
    );
    assert_eq!(
        resolve_program(Path::new("server"), Some("/usr/bin"), Path::new("/")),
        None
    );
    assert_eq!(
        resolve_program(Path::new("bin/server"), None, dir.path()),
        Some(bin.join("server"))
    );
}

#[test]
fn interpreters_are_shown_by_their_installation_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    // An nvm-like node and a pyenv-like shim whose real interpreters live under `versions/`.
    let node = root.join("tools/node-v20/bin/node");
    executable(&node, "\x7fELF");
    let pyenv = root.join("tools/pyenv");
    executable(
        &pyenv.join("shims/python3"),
        "#!/usr/bin/env bash\nexec pyenv exec python3\n",
    );
    std::fs::create_dir_all(pyenv.join("versions/3.11.7/bin")).unwrap();
    // A package's bin, a script run by that node.
    let program = root.join("cache/npm/pkg/node_modules/pkg/index.js");
    executable(&program, "#!/usr/bin/env node\n");

    let path_var = format!(
        "{}:{}:/usr/bin",
        node.parent().unwrap().display(),
        pyenv.join("shims").display()
    );
    let mut finder = ToolFinder::new(Some(&path_var), &[]);
    finder.program(&program);
    finder.interpreters_on_path();
    let dirs = finder.into_dirs();
    assert_eq!(
        dirs,
        vec![
            root.join("cache/npm/pkg/node_modules/pkg"),
            root.join("tools/node-v20"),
            pyenv.clone(),
        ]
    );

    // A root that would show a hidden path shrinks to the interpreter's own directory.
    let hidden = vec![root.join("tools/node-v20/secret")];
    let mut finder = ToolFinder::new(Some(&path_var), &hidden);
    finder.program(&node);
    assert_eq!(finder.into_dirs(), vec![root.join("tools/node-v20/bin")]);
}

#[test]
fn hidden_paths_refuse_mounts_that_contain_them_or_lie_inside_them() {
    let hidden = vec![PathBuf::from("/srv/catwalk/vault.key")];
    assert!(check_not_hidden(Path::new("/srv/catwalk"), &hidden).is_err());
    assert!(check_not_hidden(Path::new("/srv"), &hidden).is_err());
    assert!(check_not_hidden(Path::new("/srv/catwalk/vault.key"), &hidden).is_err());
    assert!(check_not_hidden(Path::new("/srv/catwalk/deployments/a"), &hidden).is_ok());
    let secrets_dir = vec![PathBuf::from("/srv/secrets")];
    assert!(check_not_hidden(Path::new("/srv/secrets/inner"), &secrets_dir).is_err());
    assert!(check_not_hidden(Path::new("/srv/secrets-other"), &secrets_dir).is_ok());
}

#[test]
fn covered_mounts_are_dropped() {
    let dirs = vec![
        PathBuf::from("/opt/node/lib"),
        PathBuf::from("/opt/node"),
        PathBuf::from("/opt/nodejs"),
        PathBuf::from("/usr/local/lib/python3"),
        PathBuf::from("/opt/node"),
    ];
    assert_eq!(
        minimal_cover(dirs),
        vec![PathBuf::from("/opt/node"), PathBuf::from("/opt/nodejs")]
    );
}

#[test]
fn cgroup_v1_directories_come_from_mountinfo_and_proc_self_cgroup() {
    let mountinfo = "\
30 25 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 30 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
37 30 0:33 /outer /sys/fs/cgroup/my\\040pids rw,relatime - cgroup cgroup rw,pids
";
    let own = "\
6:pids:/outer/catwalk.service
4:memory:/system.slice/catwalk.service
3:cpu,cpuacct:/
0::/system.slice/catwalk.service
";
    assert_eq!(
        own_dir(Controller::Memory, mountinfo, own).unwrap(),
        PathBuf::from("/sys/fs/cgroup/memory/system.slice/catwalk.service")
    );
    assert_eq!(
        own_dir(Controller::Cpu, mountinfo, own).unwrap(),
        PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
    );
    assert_eq!(
        own_dir(Controller::Pids, mountinfo, own).unwrap(),
        PathBuf::from("/sys/fs/cgroup/my pids/catwalk.service")
    );

    let v2_only = "29 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
    let error = own_dir(Controller::Memory, v2_only, "0::/user.slice\n").unwrap_err();
    assert!(error.contains("only cgroup v2"), "{error}");
}

#[test]
fn the_command_line_carries_no_environment_and_mounts_writable_folders_last() {
    let layout = Layout {
        mounts: vec![
            Mount {
                source: PathBuf::from("/srv/deployments/a/home"),
                writable: true,
            },
            Mount {
                source: PathBuf::from("/srv/cache/npm/x"),
                writable: false,
            },
        ],
        network: Network::Off,
        tmp: Tmp::Tmpfs(Some(1024)),
        cwd: PathBuf::from("/srv/deployments/a/home"),
        info_fd: Some(7),
    };
    let args: Vec<String> = bwrap_args(&sandbox(), &layout)
        .into_iter()
        .map(|arg: OsString| arg.into_string().unwrap())
        .collect();
    let joined = args.join(" ");
    for expected in [
        "--unshare-user --disable-userns --unshare-pid",
        "--die-with-parent --cap-drop ALL --unshare-net",
        "--proc /proc --remount-ro /proc --dev /dev",
        "--size 1024 --tmpfs /tmp",
        "--ro-bind /srv/cache/npm/x /srv/cache/npm/x --bind /srv/deployments/a/home \
         /srv/deployments/a/home --remount-ro / --chdir /srv/deployments/a/home --info-fd 7",
    ] {
        assert!(joined.contains(expected), "{expected:?} not in {joined}");
    }
    for absent in ["--setenv", "--clearenv", "--new-session", "--bind / "] {
        assert!(!joined.contains(absent), "{absent:?} in {joined}");
    }
    let host_network = Layout {
        network: Network::Host,
        ..layout.clone()
    };
    let joined: Vec<OsString> = bwrap_args(&sandbox(), &host_network);
    assert!(!joined.iter().any(|arg| arg == "--unshare-net"));

    // A private network: its own namespace, and bwrap waits for the stack before its exec.
    let private = Layout {
        network: Network::Private {
            block_fd: 9,
            resolv_file: None,
            resolv_fd: Some(11),
        },
        ..layout
    };
    let joined = bwrap_args(&sandbox(), &private)
        .into_iter()
        .map(|arg| arg.into_string().unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    for expected in [
        "--unshare-net",
        "--ro-bind-data 11 /etc/resolv.conf",
        "--info-fd 7 --block-fd 9",
    ] {
        assert!(joined.contains(expected), "{expected:?} not in {joined}");
    }
    // The generated resolv.conf covers the host's, bound with the rest of /etc.
    let host_resolv = joined.find("--ro-bind-try /etc/resolv.conf").unwrap();
    assert!(
        host_resolv < joined.find("--ro-bind-data").unwrap(),
        "{joined}"
    );
}

#[test]
fn the_sandbox_resolves_through_the_hosts_resolvers_unless_they_are_on_loopback() {
    let host = "search corp.example\nnameserver 10.1.2.3\noptions edns0\n";
    assert!(matches!(choose_resolv(host, ""), Resolv::Host));
    // A local caching resolver (systemd-resolved's stub): its upstreams, when they are known.
    let stub = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp.example\n";
    let upstreams = "nameserver 192.0.2.53\nnameserver fe80::1%eth0\n";
    match choose_resolv(stub, upstreams) {
        Resolv::File(file) => assert_eq!(file, Path::new("/run/systemd/resolve/resolv.conf")),
        other => panic!("{other:?}"),
    }
    // Only loopback resolvers anywhere: slirp4netns's forwarder, keeping search and options.
    match choose_resolv("nameserver ::1\nsearch corp.example\n", "") {
        Resolv::Forwarder(text) => {
            assert_eq!(text, "nameserver 10.0.2.3\nsearch corp.example\n")
        }
        other => panic!("{other:?}"),
    }
}
