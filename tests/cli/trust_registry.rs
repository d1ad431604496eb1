//! The registry and its lock against hostile or unlucky files: names that are not UTF-8,
//! symlinks, FIFOs, devices, huge files, unknown keys, out-of-range values and absurd settings.
//! Each test checks the exit code and that nothing devport does not own changed.

use crate::support::{World, stderr};

/// A world whose registry holds two claims.
fn populated() -> World {
    let w = World::new();
    w.ok(&["claim", "web"]);
    w.ok(&["claim", "db"]);
    w
}

#[cfg(unix)]
#[test]
fn a_folder_name_that_is_not_utf8_is_refused_and_the_registry_kept() {
    use std::os::unix::ffi::OsStrExt as _;
    let w = populated();
    let before = w.registry_bytes();
    let odd = w.dir.path().join(std::ffi::OsStr::from_bytes(b"odd\xff"));
    std::fs::create_dir_all(odd.join(".git")).expect("mkdir");
    let out = w.fails_in(&odd, &["claim", "web"], 2);
    assert!(stderr(&out).contains("not valid UTF-8"), "{}", stderr(&out));
    assert_eq!(w.registry_bytes(), before);
    // Every later command still works.
    w.ok(&["list"]);
    w.ok(&["claim", "web"]);
}

#[test]
fn unknown_keys_survive_every_write() {
    let w = populated();
    let mut value = w.registry_json();
    value["written_by"] = "devport 9.9".into();
    value["claims"][0]["label"] = serde_json::json!({"color": "blue"});
    std::fs::write(
        w.registry(),
        serde_json::to_vec_pretty(&value).expect("json"),
    )
    .expect("write");
    w.ok(&["claim", "cache"]);
    w.ok(&["release", "cache"]);
    let after = w.registry_json();
    assert_eq!(after["written_by"], "devport 9.9");
    let labelled: Vec<_> = after["claims"]
        .as_array()
        .expect("claims")
        .iter()
        .filter(|c| c["label"]["color"] == "blue")
        .collect();
    assert_eq!(labelled.len(), 1, "{after}");
}

#[test]
fn every_command_agrees_a_claim_with_port_70000_is_invalid() {
    let w = populated();
    let mut value = w.registry_json();
    value["claims"][1]["port"] = 70000.into();
    let text = serde_json::to_string_pretty(&value).expect("json");
    std::fs::write(w.registry(), &text).expect("write");
    // The claim of an existing, valid service does not answer from an invalid registry.
    for args in [
        &["claim", "web"][..],
        &["claim", "db"],
        &["list"],
        &["env"],
        &["claim", "new"],
    ] {
        let out = w.fails(args, 3);
        assert!(
            stderr(&out).contains("is not valid at line"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(w.registry_bytes(), text.as_bytes());
}

#[test]
fn an_empty_registry_reports_column_1() {
    let w = World::new();
    std::fs::write(w.registry(), "").expect("write");
    let out = w.fails(&["list"], 3);
    assert!(
        stderr(&out).contains("line 1, column 1"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_registry_path_ending_in_a_slash_is_a_usage_error() {
    let w = World::new();
    let dir = format!("{}/", w.dir.path().join("newdir").display());
    let out = w
        .cmd(&["--registry", &dir, "claim", "web"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(stderr(&out).contains("names a folder"), "{}", stderr(&out));
    assert!(!w.dir.path().join("newdir").exists());
}

#[test]
fn absurd_lock_timeouts_are_usage_errors() {
    let w = populated();
    for value in ["1e20", "-1", "NaN", "inf", "3601", "2h", "soon"] {
        let out = w
            .cmd(&["claim", "web"])
            .env("DEVPORT_LOCK_TIMEOUT", value)
            .assert()
            .code(2)
            .get_output()
            .clone();
        assert!(
            stderr(&out).contains("0 to 3600 seconds"),
            "{value}: {}",
            stderr(&out)
        );
    }
    for value in ["0", "2.5", "10s", "1h"] {
        w.cmd(&["claim", "web"])
            .env("DEVPORT_LOCK_TIMEOUT", value)
            .assert()
            .success();
    }
}

#[test]
fn a_config_lock_timeout_past_the_bound_is_refused() {
    let w = World::new();
    std::fs::write(w.config(), "lock_timeout = \"2d\"\n").expect("write");
    let out = w.fails(&["claim", "web"], 3);
    assert!(stderr(&out).contains("3600"), "{}", stderr(&out));
}

#[cfg(unix)]
mod unix {
    use std::os::unix::fs::{PermissionsExt as _, symlink};
    use std::path::Path;
    use std::time::Duration;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).map_or(0, |m| m.permissions().mode() & 0o7777)
    }

    fn mkfifo(path: &Path) {
        nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    }

    #[test]
    fn a_lock_symlinked_to_a_victim_is_refused_and_the_victim_untouched() {
        let w = populated();
        let lock = w.dir.path().join("state/registry.lock");
        let victim = w.dir.path().join("victim.txt");
        std::fs::write(&victim, "precious\n").expect("write");
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::remove_file(&lock).expect("rm lock");
        symlink(&victim, &lock).expect("symlink");
        let before = w.registry_bytes();
        let out = w.fails(&["claim", "new"], 3);
        assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
        assert_eq!(std::fs::read(&victim).expect("read"), b"precious\n");
        assert_eq!(mode(&victim), 0o644);
        assert_eq!(w.registry_bytes(), before);
    }

    #[test]
    fn a_dangling_lock_link_creates_nothing() {
        let w = populated();
        let lock = w.dir.path().join("state/registry.lock");
        let target = w.dir.path().join("made-by-devport");
        std::fs::remove_file(&lock).expect("rm lock");
        symlink(&target, &lock).expect("symlink");
        w.fails(&["claim", "new"], 3);
        assert!(!target.exists());
    }

    #[test]
    fn an_existing_lock_is_never_truncated_or_chmodded() {
        let w = populated();
        let lock = w.dir.path().join("state/registry.lock");
        std::fs::write(&lock, "0123456789abcdefghijklmnopqrstuvwxyz\n").expect("write");
        std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        w.ok(&["claim", "new"]);
        let text = std::fs::read_to_string(&lock).expect("read");
        assert!(
            text.len() >= 37 && text.ends_with("klmnopqrstuvwxyz\n"),
            "{text:?}"
        );
        assert_eq!(mode(&lock), 0o640);
    }

    #[test]
    fn fifos_at_the_registry_or_lock_do_not_hang() {
        let w = populated();
        let lock = w.dir.path().join("state/registry.lock");
        std::fs::remove_file(&lock).expect("rm lock");
        mkfifo(&lock);
        let out = w
            .cmd(&["claim", "new"])
            .timeout(Duration::from_secs(20))
            .assert()
            .code(3)
            .get_output()
            .clone();
        assert!(
            stderr(&out).contains("not a regular file"),
            "{}",
            stderr(&out)
        );
        std::fs::remove_file(&lock).expect("rm fifo");

        let w = World::new();
        mkfifo(&w.registry());
        for args in [&["list"][..], &["claim", "web"], &["check", "2276"]] {
            let out = w
                .cmd(args)
                .timeout(Duration::from_secs(20))
                .output()
                .expect("run");
            assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
            assert!(
                stderr(&out).contains("a FIFO, not a regular file")
                    || String::from_utf8_lossy(&out.stdout).contains("a FIFO, not a regular file"),
                "{args:?}: {}",
                stderr(&out)
            );
        }
    }

    #[test]
    fn a_hard_linked_lock_is_refused_and_the_other_file_kept() {
        let w = populated();
        let lock = w.dir.path().join("state/registry.lock");
        let victim = w.dir.path().join("victim");
        std::fs::write(&victim, "VICTIM\n").expect("write");
        std::fs::remove_file(&lock).expect("rm lock");
        std::fs::hard_link(&victim, &lock).expect("link");
        let out = w.fails(&["claim", "new"], 3);
        assert!(stderr(&out).contains("hard links"), "{}", stderr(&out));
        assert_eq!(std::fs::read(&victim).expect("read"), b"VICTIM\n");
    }

    #[test]
    fn only_devports_own_leftover_temp_files_are_removed() {
        let w = populated();
        let state = w.dir.path().join("state");
        let leftover = state.join(".registry.json.Ab3dE9.tmp");
        std::fs::write(&leftover, "half a registry").expect("write");
        let kept = [
            ".registry.json.my-notes.tmp",
            ".registry.json.tmp",
            ".registry.json..tmp",
            ".registry.json.AB\nCD.tmp",
        ];
        for name in kept {
            std::fs::write(state.join(name), "mine").expect("write");
        }
        let link = state.join(".registry.json.AAAAAA.tmp");
        symlink(w.dir.path().join("elsewhere"), &link).expect("symlink");
        w.ok(&["claim", "new"]);
        assert!(!leftover.exists());
        for name in kept {
            assert!(state.join(name).exists(), "{name}");
        }
        assert!(std::fs::symlink_metadata(&link).is_ok());
    }

    #[test]
    fn a_registry_linked_to_a_device_is_refused() {
        let w = World::new();
        symlink("/dev/zero", w.registry()).expect("symlink");
        // As root, /dev/zero passes the owner check and is refused as a device; as anyone
        // else, the owner check refuses it first. Either way: exit 3, promptly, no write.
        let out = w
            .cmd(&["claim", "web"])
            .timeout(Duration::from_secs(20))
            .assert()
            .code(3)
            .get_output()
            .clone();
        let err = stderr(&out);
        assert!(
            err.contains("a device, not a regular file") || err.contains("belongs to uid 0"),
            "{err}"
        );
    }

    #[test]
    fn a_registry_above_the_size_cap_is_refused() {
        let w = World::new();
        let file = std::fs::File::create(w.registry()).expect("create");
        file.set_len(65 * 1024 * 1024).expect("sparse file");
        drop(file);
        let out = w.fails(&["list"], 3);
        assert!(stderr(&out).contains("bytes"), "{}", stderr(&out));
        assert_eq!(
            std::fs::metadata(w.registry()).expect("meta").len(),
            65 * 1024 * 1024
        );
    }
}

#[test]
fn a_relative_devport_registry_is_a_usage_error_but_registry_may_be_relative() {
    let w = World::new();
    let shop = w.project("shop");
    let out = w
        .cmd_in(&shop, &["claim", "web"])
        .env("DEVPORT_REGISTRY", "rel.json")
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(stderr(&out).contains("absolute path"), "{}", stderr(&out));
    assert!(!shop.join("rel.json").exists());
    w.cmd_in(&shop, &["--registry", "rel.json", "claim", "web"])
        .assert()
        .success();
    assert!(shop.join("rel.json").is_file());
}

#[cfg(unix)]
#[test]
fn a_registry_in_a_sticky_shared_folder_gets_advice_that_is_safe_to_follow() {
    use std::os::unix::fs::PermissionsExt as _;
    let w = World::new();
    let shared = w.dir.path().join("tmp");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    let registry = shared.join("x.json");
    let out = w
        .cmd(&[
            "--registry",
            registry.to_str().expect("utf-8"),
            "claim",
            "web",
        ])
        .assert()
        .code(3)
        .get_output()
        .clone();
    let err = stderr(&out);
    assert!(
        err.contains("mkdir -m 700") && !err.contains("chmod"),
        "{err}"
    );
    assert!(!registry.exists());
}

#[cfg(unix)]
#[test]
fn a_write_error_names_the_file_and_its_folder_not_a_temp_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let w = World::new();
    let shop = w.project("shop");
    w.ok(&["claim", "web"]);
    std::fs::set_permissions(&shop, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let mut cmd = w.std_cmd_in(&shop, &["env", "--write", ".env"]);
    if nix::unistd::geteuid().is_root() {
        // Root ignores folder permissions; nobody, owning the read-only folder, does not.
        crate::support::run_as_nobody(&mut cmd, &w, &[&shop, &w.dir.path().join("state")]);
        let reg = w.registry();
        nix::unistd::chown(&reg, Some(nix::unistd::Uid::from_raw(65534)), None).expect("chown");
    }
    let out = cmd.output().expect("run");
    std::fs::set_permissions(&shop, std::fs::Permissions::from_mode(0o755)).expect("chmod back");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(".env") && !err.contains(".tmp") && !err.contains("DEVPORT_REGISTRY"),
        "{err}"
    );
    assert!(err.contains("may write to the folder"), "{err}");
}

/// A config file devport may not read gets advice about reading it, not about writing.
#[cfg(unix)]
#[test]
fn an_unreadable_config_gets_advice_about_reading() {
    use std::os::unix::fs::PermissionsExt as _;
    let w = World::new();
    let shop = w.project("shop");
    std::fs::write(w.config(), "").expect("config");
    std::fs::set_permissions(w.config(), std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let mut cmd = w.std_cmd_in(&shop, &["list"]);
    if nix::unistd::geteuid().is_root() {
        // Root reads any file; nobody cannot read its own file of mode 000.
        crate::support::run_as_nobody(&mut cmd, &w, &[&w.config()]);
    }
    let out = cmd.output().expect("run");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cannot read config file") && err.contains("config.toml"),
        "{err}"
    );
    assert!(err.contains("check that you may read it"), "{err}");
    assert!(!err.contains("write"), "{err}");
}

/// Edits the registry's JSON with `edit`, writes it back and returns the new bytes.
fn edit_registry(w: &World, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut value = w.registry_json();
    edit(&mut value);
    let text = serde_json::to_vec_pretty(&value).expect("json");
    std::fs::write(w.registry(), &text).expect("write");
    text
}

#[test]
fn a_block_past_65535_is_refused_by_every_command() {
    for lease in [false, true] {
        let w = populated();
        let before = edit_registry(&w, |v| {
            if lease {
                v["leases"] = serde_json::json!([{"port": 65535, "count": 2, "pid": 1,
                    "start_time": null, "created": "2026-01-01T00:00:00Z", "expires": null}]);
            } else {
                v["claims"][1]["port"] = 65535.into();
                v["claims"][1]["count"] = 2.into();
            }
        });
        for args in [&["claim", "web"][..], &["claim", "db"], &["list"], &["env"]] {
            let out = w.fails(args, 3);
            assert!(
                stderr(&out).contains("past port 65535"),
                "{args:?}: {}",
                stderr(&out)
            );
        }
        assert_eq!(w.registry_bytes(), before);
    }
}

#[test]
fn unknown_values_the_full_parse_refuses_are_refused_by_the_lookup_too() {
    for bad in ["1e999", "\"\\ud800\"", &"[".repeat(300)] {
        let w = populated();
        let mut text = String::from_utf8(w.registry_bytes()).expect("utf-8");
        let closing = if bad.starts_with('[') {
            "]".repeat(300)
        } else {
            String::new()
        };
        text = text.replacen(
            "\"version\": 1,",
            &format!("\"version\": 1, \"x\": {bad}{closing},"),
            1,
        );
        std::fs::write(w.registry(), &text).expect("write");
        for args in [&["claim", "web"][..], &["list"]] {
            w.fails(args, 3);
        }
        assert_eq!(w.registry_bytes(), text.as_bytes());
    }
}

#[test]
fn a_write_that_would_pass_the_size_cap_is_refused() {
    let w = populated();
    let mut value = w.registry_json();
    let size = serde_json::to_vec_pretty(&value).expect("json").len();
    // Just under the cap: readable now, but one more claim would pass it.
    value["padding"] = "x".repeat(64 * 1024 * 1024 - size - 40).into();
    let text = serde_json::to_vec_pretty(&value).expect("json");
    std::fs::write(w.registry(), &text).expect("write");
    let out = w.fails(&["claim", "growth"], 3);
    assert!(stderr(&out).contains("reads back"), "{}", stderr(&out));
    assert_eq!(w.registry_bytes(), text);
    w.ok(&["list", "--json"]);
}

#[cfg(unix)]
#[test]
fn a_folder_that_is_not_utf8_is_refused_by_every_project_command() {
    use std::os::unix::ffi::OsStrExt as _;
    let w = populated();
    let before = w.registry_bytes();
    let odd = w
        .dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"bad\xffname"));
    std::fs::create_dir_all(&odd).expect("mkdir");
    for args in [
        &["release", "web"][..],
        &["release", "--all"],
        &["env"],
        &["list", "--here"],
        &["init"],
        &["up"],
    ] {
        w.fails_in(&odd, args, 2);
    }
    assert!(!odd.join("devport.toml").exists());
    assert_eq!(w.registry_bytes(), before);
}

/// Help and version that cannot be written (a full disk) fail as any other output does: a line
/// on stderr and exit 3, never a silent 0.
#[cfg(target_os = "linux")]
#[test]
fn help_and_version_into_a_full_device_fail() {
    let w = World::new();
    for args in ["--help", "--version", "-V", "claim --help", "help exec"] {
        let out = w
            .program_in(
                "sh",
                &w.project("shop"),
                &["-c", &format!("\"$0\" {args} > /dev/full")],
            )
            .arg(crate::support::bin())
            .output()
            .expect("sh");
        assert_eq!(out.status.code(), Some(3), "{args}: {out:?}");
        assert_eq!(
            stderr(&out),
            "devport: cannot write to standard output: No space left on device (os error 28)",
            "{args}"
        );
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_stderr_that_cannot_be_written_never_makes_devport_panic() {
    let w = World::new();
    for (args, code) in [
        (&["claim", "_bad"][..], 2),
        (&["list", "--bogus"], 2),
        (&["check", "0"], 2),
        (&["claim", "web"], 0),
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let out = w
            .std_cmd_in(&w.project("shop"), args)
            .stderr(full)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(code), "{args:?}");
    }
}
