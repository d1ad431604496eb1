//! Whose files devport writes: root acting with a user's registry (`sudo -E`), another user on
//! root's, a registry shared by a group, a home folder that does not exist, and the files a
//! user names (`--write`, `init`, `man --dir`) when they are streams, hard links or in folders
//! that are not the user's.

use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::support::{World, stderr, stdout};

/// A file's bytes (empty for a folder), owner, group and mode.
type State = (Vec<u8>, u32, u32, u32);

/// The [`State`] of each path (`None` for a missing one), to compare before and after a
/// refused command.
fn snapshot(paths: &[&Path]) -> Vec<Option<State>> {
    paths
        .iter()
        .map(|p| {
            let meta = std::fs::symlink_metadata(p).ok()?;
            let bytes = if meta.is_file() {
                std::fs::read(p).expect("read")
            } else {
                Vec::new()
            };
            Some((bytes, meta.uid(), meta.gid(), meta.mode()))
        })
        .collect()
}

fn chown(path: &Path, uid: u32, gid: u32) {
    nix::unistd::chown(
        path,
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
    )
    .expect("chown");
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A world with a claim, so the registry and its lock exist; returns them with the folder.
fn populated() -> (World, PathBuf, PathBuf, PathBuf) {
    let w = World::new();
    w.ok(&["claim", "web"]);
    let state = w.dir.path().join("state");
    let (registry, lock) = (state.join("registry.json"), state.join("registry.lock"));
    (w, state, registry, lock)
}

/// `devport ARGS` in `shop` through `setpriv` with `ids` (`--reuid=nobody` …).
fn setpriv(w: &World, ids: &[&str], args: &[&str]) -> std::process::Output {
    let shop = w.project("shop");
    let mut all: Vec<&str> = ids.to_vec();
    let bin = crate::support::bin();
    all.push(bin.to_str().expect("utf-8"));
    all.extend(args);
    // Other users must reach the world's folder.
    chmod(w.dir.path(), 0o711);
    w.program_in("setpriv", &shop, &all)
        .output()
        .expect("run setpriv")
}

const AS_NOBODY: [&str; 3] = ["--reuid=nobody", "--regid=nogroup", "--clear-groups"];

#[test]
#[ignore = "needs root: a registry folder owned by nobody, used by root (sudo -E)"]
fn root_refuses_a_users_registry_and_changes_nothing() {
    let (w, state, registry, lock) = populated();
    for path in [&state, &registry, &lock] {
        chown(path, 65534, 65534);
    }
    let before = snapshot(&[&state, &registry, &lock]);
    for args in [&["claim", "db"][..], &["release", "web"], &["gc"]] {
        let out = w.fails(args, 3);
        let err = stderr(&out);
        assert!(
            err.contains(&format!("registry folder {}", state.display()))
                && err.contains("belongs to nobody (uid 65534), not to you (root, uid 0)")
                && err.contains("run devport as nobody instead, without sudo")
                && err.lines().count() == 1,
            "{args:?}: {err}"
        );
        assert_eq!(snapshot(&[&state, &registry, &lock]), before, "{args:?}");
    }
    // Reading changes nothing, and stays possible: root may look at the user's claims.
    assert!(w.ok(&["list"]).contains("web"));
}

#[test]
#[ignore = "needs root: a registry root once wrote, in a folder of nobody's"]
fn a_registry_another_user_left_in_your_folder_is_refused_with_the_way_back() {
    let (w, state, registry, lock) = populated();
    // The aftermath of an old `sudo -E devport claim`: nobody's folder, root's files.
    chown(&state, 65534, 65534);
    let before = snapshot(&[&state, &registry, &lock]);
    let out = setpriv(&w, &AS_NOBODY, &["claim", "db"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!("registry {}", registry.display()))
            && err.contains("belongs to root (uid 0), not to you (nobody, uid 65534)")
            && err.contains(&format!(
                "take it back with 'sudo chown nobody {}'",
                registry.display()
            )),
        "{err}"
    );
    assert_eq!(snapshot(&[&state, &registry, &lock]), before);
}

#[test]
#[ignore = "needs root: devport run as nobody (setpriv) on root's registry"]
fn another_user_is_refused_on_roots_registry() {
    let (w, state, registry, lock) = populated();
    chmod(&state, 0o755);
    chmod(&registry, 0o644);
    let before = snapshot(&[&state, &registry, &lock]);
    let out = setpriv(&w, &AS_NOBODY, &["claim", "db"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!("registry folder {}", state.display()))
            && err.contains("belongs to root (uid 0), not to you (nobody, uid 65534)"),
        "{err}"
    );
    assert_eq!(snapshot(&[&state, &registry, &lock]), before);
}

/// The group-shared registry docs/security.md documents: a setgid folder of the group, files 0660.
#[test]
#[ignore = "needs root: a folder shared by group 4242, used by root and nobody as members"]
fn a_group_shared_registry_keeps_each_files_owner_group_and_mode() {
    const GROUP: u32 = 4242;
    let (w, state, registry, lock) = populated();
    chown(&state, 65534, GROUP);
    chmod(&state, 0o2770);
    for file in [&registry, &lock] {
        chown(file, 4243, GROUP);
        chmod(file, 0o660);
    }
    let owners = |path: &Path| {
        let m = std::fs::metadata(path).expect("stat");
        (m.uid(), m.gid(), m.mode() & 0o7777)
    };

    // Root is not a member by its own groups: refused, like any other non-member.
    let before = snapshot(&[&state, &registry, &lock]);
    let err = stderr(&w.fails(&["claim", "db"], 3));
    assert!(
        err.contains("is shared by the group gid 4242, and you (root, uid 0) are not a member"),
        "{err}"
    );
    assert_eq!(snapshot(&[&state, &registry, &lock]), before);

    // Root as a member by its own choice: the claim is written, and the registry keeps its
    // owner, group and mode (root may give the new file back).
    let as_member = ["--groups=4242"];
    let out = setpriv(&w, &as_member, &["claim", "db"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::read_to_string(&registry)
            .expect("read")
            .contains("\"db\"")
    );
    assert_eq!(owners(&registry), (4243, GROUP, 0o660));
    assert_eq!(owners(&lock), (4243, GROUP, 0o660));

    // Another member, without root's power: the group and mode stay, so every member can
    // still use it (the file is the writer's now: only root can give a file away).
    let member = ["--reuid=nobody", "--regid=nogroup", "--groups=4242"];
    let out = setpriv(&w, &member, &["claim", "cache"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, gid, mode) = owners(&registry);
    assert_eq!((gid, mode), (GROUP, 0o660));
    // A new lock in the shared folder gets the folder's group and 0660.
    std::fs::remove_file(&lock).expect("rm lock");
    let out = setpriv(&w, &member, &["release", "cache"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(owners(&lock), (65534, GROUP, 0o660));
}

#[test]
fn a_home_that_does_not_exist_gets_no_folders() {
    let w = World::new();
    let home = w.dir.path().join("gone/home");
    let shop = w.project("shop");
    let out = w
        .cmd_in(&shop, &["claim", "web"])
        .env_remove("DEVPORT_REGISTRY")
        .env_remove("XDG_STATE_HOME")
        .env("HOME", &home)
        .assert()
        .code(3)
        .get_output()
        .clone();
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "the home folder {}, which does not exist",
            home.display()
        )),
        "{err}"
    );
    assert!(!w.dir.path().join("gone").exists());
}

/// `devport ARGS` in `dir` with `HOME=home` and no other place for the registry.
fn with_home(w: &World, dir: &Path, home: &str, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = w.cmd_in(dir, args);
    cmd.env_remove("DEVPORT_REGISTRY")
        .env_remove("XDG_STATE_HOME")
        .env("HOME", home);
    cmd
}

#[test]
fn a_relative_home_is_no_home() {
    let w = World::new();
    let shop = w.project("shop");
    // A cloned repository that ships its own trust file for its own manifest.
    std::fs::write(shop.join("devport.toml"), "[env]\nEVIL = \"1\"\n").expect("manifest");
    let state = shop.join(".local/state/devport");
    std::fs::create_dir_all(&state).expect("mkdir");
    let out = with_home(&w, &shop, ".", &["up"])
        .assert()
        .code(3)
        .get_output()
        .clone();
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("HOME=. is a relative path"), "{err}");
    assert!(
        err.contains("set HOME to your absolute home folder"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&state).expect("ls").count(), 0);

    with_home(&w, &shop, "nothere", &["claim", "--global", "x"])
        .assert()
        .code(3);
    assert!(!shop.join("nothere").exists());
}

#[test]
#[ignore = "needs root: a uid with no entry in the user database"]
fn no_home_at_all_is_an_environment_failure() {
    let w = World::new();
    let shop = w.project("shop");
    chmod(w.dir.path(), 0o711);
    let bin = crate::support::bin();
    let out = w
        .program_in(
            "setpriv",
            &shop,
            &["--reuid=54321", "--regid=54321", "--clear-groups"],
        )
        .arg(&bin)
        .args(["claim", "--global", "x"])
        .env_remove("DEVPORT_REGISTRY")
        .env_remove("XDG_STATE_HOME")
        .env_remove("HOME")
        .output()
        .expect("run setpriv");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("HOME is not set and this user has no home folder"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn init_and_man_dir_refuse_a_folder_every_user_may_write() {
    let w = World::new();
    let open = w.project("open");
    chmod(&open, 0o1777);
    let out = w.fails_in(&open, &["init"], 3);
    assert!(
        stderr(&out).contains("which every user may write"),
        "{}",
        stderr(&out)
    );
    assert!(!open.join("devport.toml").exists());

    let pages = open.join("man1");
    std::fs::create_dir(&pages).expect("mkdir");
    chmod(&pages, 0o777);
    let out = w.fails(&["man", "--dir", pages.to_str().expect("utf-8")], 3);
    assert!(
        stderr(&out).contains("which every user may write"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_dir(&pages).expect("ls").count(), 0);
}

#[test]
#[ignore = "needs root: init and man --dir as root in folders of nobody's"]
fn init_and_man_dir_as_root_refuse_another_users_folder() {
    let w = World::new();
    let theirs = w.project("theirs");
    chown(&theirs, 65534, 65534);
    let out = w.fails_in(&theirs, &["init"], 3);
    let err = stderr(&out);
    assert!(
        err.contains("belongs to nobody (uid 65534)") && err.contains("run devport as nobody"),
        "{err}"
    );
    assert!(!theirs.join("devport.toml").exists());
    // A man folder to be made inside it, or a link to it that nobody made.
    let pages = theirs.join("man1");
    let out = w.fails(&["man", "--dir", pages.to_str().expect("utf-8")], 3);
    assert!(
        stderr(&out).contains("belongs to nobody"),
        "{}",
        stderr(&out)
    );
    assert!(!pages.exists());
    let link = w.dir.path().join("link");
    std::os::unix::fs::symlink(&theirs, &link).expect("symlink");
    nix::unistd::fchownat(
        nix::fcntl::AT_FDCWD,
        &link,
        Some(nix::unistd::Uid::from_raw(65534)),
        None,
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .expect("chown link");
    let out = w.fails(
        &["man", "--dir", link.join("man1").to_str().expect("utf-8")],
        3,
    );
    assert!(
        stderr(&out).contains("symlink that uid 65534 made"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_dir(&theirs).expect("ls").count(), 1); // .git only
}

/// The shell's redirect target is written in place, not replaced: `end` is kept.
#[test]
fn env_write_dev_stdout_keeps_the_callers_redirect() {
    let w = World::new();
    let shop = w.project("shop");
    let port = w.ok(&["claim", "web"]);
    let bin = crate::support::bin();
    let line = format!(
        "{{ echo start; '{}' env --write /dev/stdout; echo end; }} > out.txt",
        bin.display()
    );
    let out = w
        .program_in("sh", &shop, &["-c", &line])
        .output()
        .expect("sh");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(shop.join("out.txt")).expect("read");
    assert_eq!(text, format!("start\nWEB_PORT={port}\nend\n"));
    // The same through a pipe, and for export; /dev/null swallows it.
    let piped = format!("'{}' env --write /dev/stdout | cat", bin.display());
    let out = w
        .program_in("sh", &shop, &["-c", &piped])
        .output()
        .expect("sh");
    assert_eq!(stdout(&out), format!("WEB_PORT={port}"), "{}", stderr(&out));
    let export = format!(
        "{{ echo start; '{}' export caddy --write /dev/stdout; echo end; }} > caddy.txt",
        bin.display()
    );
    let out = w
        .program_in("sh", &shop, &["-c", &export])
        .output()
        .expect("sh");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(shop.join("caddy.txt")).expect("read");
    assert!(
        text.starts_with("start\n") && text.ends_with("end\n") && text.contains(&port),
        "{text}"
    );
    w.ok_at(&shop, &["env", "--write", "/dev/null"]);
    let null = std::fs::metadata("/dev/null").expect("stat").file_type();
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(&null));
    // Another device is refused without being opened.
    let err = stderr(&w.fails_in(&shop, &["env", "--write", "/dev/zero"], 3));
    assert!(err.contains("is a device"), "{err}");
}

#[test]
fn env_write_into_a_fifo_is_written_in_place_and_the_fifo_stays() {
    let w = World::new();
    let shop = w.project("shop");
    let port = w.ok(&["claim", "web"]);
    let fifo = shop.join("ports.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let mut reader = crate::support::Reaped(
        w.program_in("cat", &shop, &["ports.fifo"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("cat"),
    );
    // The reader opens the FIFO on its own time; until then devport refuses (never hangs).
    crate::support::retry("devport writes into the FIFO", |i| {
        std::thread::sleep(std::time::Duration::from_millis(50 * u64::from(i)));
        let out = w
            .cmd_in(&shop, &["env", "--write", "ports.fifo"])
            .output()
            .ok()?;
        out.status.success().then_some(())
    });
    let mut text = String::new();
    std::io::Read::read_to_string(&mut reader.0.stdout.take().expect("piped"), &mut text)
        .expect("read");
    assert_eq!(text, format!("WEB_PORT={port}\n"));
    let kind = std::fs::symlink_metadata(&fifo).expect("stat").file_type();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&kind));
}

#[test]
fn a_hard_linked_registry_or_env_file_is_refused_and_the_other_name_kept() {
    let (w, _, registry, _) = populated();
    let other = w.dir.path().join("other-name.json");
    std::fs::hard_link(&registry, &other).expect("link");
    let before = std::fs::read(&other).expect("read");
    let err = stderr(&w.fails(&["claim", "db"], 3));
    assert!(err.contains("has 2 hard links"), "{err}");
    assert_eq!(std::fs::read(&registry).expect("read"), before);
    assert_eq!(std::fs::metadata(&registry).expect("stat").nlink(), 2);

    std::fs::remove_file(&other).expect("rm");
    let shop = w.project("shop");
    let env = shop.join(".env");
    std::fs::write(&env, "KEEP=1\n").expect("write");
    let twin = w.dir.path().join("twin.env");
    std::fs::hard_link(&env, &twin).expect("link");
    let err = stderr(&w.fails(&["env", "--write", ".env"], 3));
    assert!(err.contains("has 2 hard links"), "{err}");
    assert_eq!(std::fs::read_to_string(&twin).expect("read"), "KEEP=1\n");
    assert_eq!(std::fs::metadata(&env).expect("stat").nlink(), 2);
}

#[test]
fn a_committed_link_does_not_choose_what_is_written() {
    let w = World::new();
    let shop = w.project("shop");
    let home = w.dir.path().join("home");
    std::fs::create_dir(&home).expect("mkdir");
    let gitconfig = home.join(".gitconfig");
    std::fs::write(&gitconfig, "[user]\n").expect("write");
    std::os::unix::fs::symlink("../home/.gitconfig", shop.join(".env")).expect("symlink");
    std::fs::write(shop.join("devport.toml"), "[services.web]\n").expect("manifest");
    w.ok(&["claim", "web"]);
    let write = |args: &[&str]| {
        let out = w.fails_in(&shop, args, 3);
        let err = stderr(&out);
        assert!(
            err.contains("which is outside") && err.contains("name the file itself"),
            "{args:?}: {err}"
        );
        assert_eq!(
            std::fs::read_to_string(&gitconfig).expect("read"),
            "[user]\n"
        );
    };
    write(&["env", "--format", "dotenv", "--write", ".env"]);
    write(&["up", "--write-env", ".env"]);
    write(&["export", "caddy", "--write", ".env"]);
    // A man page that is a link out of the named folder.
    let pages = shop.join("man1");
    std::fs::create_dir(&pages).expect("mkdir");
    std::os::unix::fs::symlink(&gitconfig, pages.join("devport.1")).expect("symlink");
    write(&["man", "--dir", pages.to_str().expect("utf-8")]);
    assert_eq!(std::fs::read_dir(&pages).expect("ls").count(), 1);

    // Naming the file itself works, and so does a link that stays inside the project.
    let named = gitconfig.to_str().expect("utf-8");
    w.ok(&["env", "--format", "dotenv", "--write", named]);
    assert!(
        std::fs::read_to_string(&gitconfig)
            .expect("read")
            .contains("WEB_PORT=")
    );
    std::fs::write(shop.join("real.env"), "").expect("write");
    std::fs::remove_file(shop.join(".env")).expect("rm");
    std::os::unix::fs::symlink("real.env", shop.join(".env")).expect("symlink");
    w.ok(&["env", "--format", "dotenv", "--write", ".env"]);
    assert!(
        std::fs::symlink_metadata(shop.join(".env"))
            .expect("stat")
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(shop.join("real.env"))
            .expect("read")
            .contains("WEB_PORT=")
    );
}

/// A FIFO at `path` that no process reads.
fn fifo(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
}

#[test]
fn a_stream_no_one_reads_is_refused_before_anything_is_done() {
    let w = World::new();
    let shop = w.project("shop");
    // man --dir: every page is checked (a FIFO page opened) before the first is written.
    let pages = shop.join("man1");
    std::fs::create_dir(&pages).expect("mkdir");
    std::fs::write(pages.join("devport.1"), "old\n").expect("write");
    fifo(&pages.join("devport-claim.1"));
    let out = w.fails(&["man", "--dir", pages.to_str().expect("utf-8")], 3);
    assert!(
        stderr(&out).contains("FIFO that no process is reading"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(pages.join("devport.1")).expect("read"),
        "old\n"
    );
    assert_eq!(std::fs::read_dir(&pages).expect("ls").count(), 2);

    // up --write-env: the FIFO is opened before the first claim.
    std::fs::write(shop.join("devport.toml"), "[services.web]\n").expect("manifest");
    fifo(&shop.join("ports.env"));
    let out = w.fails(&["up", "--write-env", "ports.env"], 3);
    assert!(
        stderr(&out).contains("FIFO that no process is reading"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.ok(&["--json", "list"]), "[]");
}

#[test]
fn a_fifo_with_a_reader_gets_the_text_through_the_open_it_was_checked_with() {
    let w = World::new();
    let shop = w.project("shop");
    std::fs::write(shop.join("devport.toml"), "[services.web]\n").expect("manifest");
    let path = shop.join("ports.env");
    fifo(&path);
    // The read end, open before devport runs (without blocking, so no thread waits on it); the
    // text fits the pipe's buffer, and end-of-file comes when devport has closed its end.
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(&path)
        .expect("open the read end");
    w.ok(&["up", "--write-env", "ports.env"]);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut reader, &mut text).expect("read the FIFO");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("WEB_PORT=")).count(),
        1,
        "{text}"
    );
}

#[test]
fn a_terminal_device_with_no_terminal_is_named_as_a_device() {
    let w = World::new();
    let shop = w.project("shop");
    w.ok(&["claim", "web"]);
    let bin = crate::support::bin();
    let out = w
        .program_in("setsid", &shop, &["-w"])
        .arg(&bin)
        .args(["env", "--write", "/dev/tty"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run setsid");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("is a device with nothing behind it"), "{err}");
    assert!(!err.contains("FIFO"), "{err}");
}

#[test]
fn man_dir_that_is_not_a_folder_is_named() {
    let w = World::new();
    let file = w.project("shop").join("notes");
    std::fs::write(&file, "x").expect("write");
    for (dir, kind) in [
        ("/dev/null", "a device"),
        (file.to_str().expect("utf-8"), "a file"),
    ] {
        let err = stderr(&w.fails(&["man", "--dir", dir], 3));
        assert!(
            err.contains(&format!("{dir}: is {kind}, not a folder")),
            "{err}"
        );
        assert!(!err.contains("os error"), "{err}");
    }
}

#[test]
#[ignore = "needs root: a registry folder every user may write, owned by nobody"]
fn an_open_folder_of_another_user_gets_no_folder_inside_it_as_the_fix() {
    let w = World::new();
    let open = w.dir.path().join("open");
    std::fs::create_dir(&open).expect("mkdir");
    chmod(&open, 0o777);
    chown(&open, 65534, 65534);
    let out = w
        .cmd(&["claim", "web"])
        .env("DEVPORT_REGISTRY", open.join("registry.json"))
        .assert()
        .code(3)
        .get_output()
        .clone();
    let err = stderr(&out);
    assert!(err.contains("writable by every user"), "{err}");
    assert!(
        !err.contains(&format!("mkdir -m 700 {}/", open.display())),
        "{err}"
    );
    assert!(err.contains("not inside this one"), "{err}");
}

#[test]
#[ignore = "needs root: a folder a group shares, with a member's registry, used by root"]
fn root_outside_the_group_is_told_so() {
    let (w, state, registry, lock) = populated();
    chmod(&state, 0o2770);
    chown(&state, 0, 4242);
    for file in [&registry, &lock] {
        chown(file, 65534, 4242);
        chmod(file, 0o660);
    }
    let before = snapshot(&[&registry, &lock]);
    let err = stderr(&w.fails(&["claim", "db"], 3));
    assert!(
        err.contains("you (root") && err.contains("are not a member"),
        "{err}"
    );
    assert!(!err.contains("sudo chown"), "{err}");
    assert_eq!(snapshot(&[&registry, &lock]), before);
}
