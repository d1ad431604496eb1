//! `env` and `env --write`: formats, variable names, merging into an existing file, and the
//! file devport writes — symlinks, FIFOs, devices, other users' files, modes — handled safely.

#[cfg(unix)]
use std::os::unix::fs::OpenOptionsExt as _;
#[cfg(unix)]
use std::path::Path;

use crate::support::{World, port, refused, stderr};
#[cfg(unix)]
use crate::support::{bash, chmod, stdout};

/// Writes `original` to `shop/.env`, runs `env --write .env` and returns what it became, with
/// `@WEB@` in `expected` standing for the claimed port; a second run changes nothing.
fn write_env_twice(original: &[u8], expected: &str) {
    let w = World::new();
    let shop = w.project("shop");
    let web = port(&w.ok(&["claim", "web"]));
    w.file(shop.join(".env"), original);
    w.ok(&["env", "--format", "dotenv", "--write", ".env"]);
    let expected = expected.replace("@WEB@", &web.to_string());
    let written = std::fs::read(shop.join(".env")).expect("read");
    assert_eq!(String::from_utf8_lossy(&written), expected);
    w.ok(&["env", "--write", ".env"]);
    assert_eq!(
        std::fs::read(shop.join(".env")).expect("read"),
        expected.as_bytes(),
        "idempotent"
    );
}

/// A folder every user may write: `mode` is 0777 or 1777 (sticky).
#[cfg(unix)]
fn open_folder(w: &World, name: &str, mode: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = w.dir.path().join(name);
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).expect("chmod");
    dir
}

/// A FIFO at `path` that no process reads.
#[cfg(unix)]
fn fifo(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
}

#[test]
fn env_write_refuses_an_output_format_it_would_ignore() {
    let w = World::new();
    let shop = w.project("shop");
    w.ok(&["claim", "web"]);
    for (args, asked) in [
        (
            vec!["env", "--format", "json", "--write", "f"],
            "--format json",
        ),
        (vec!["env", "--format", "sh", "--write", "f"], "--format sh"),
        (vec!["--json", "env", "--write", "f"], "--json"),
    ] {
        let err = stderr(&w.fails(&args, 2));
        assert!(
            err.contains(&format!("so {asked} cannot apply")),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!shop.join("f").exists(), "{args:?} wrote the file");
    }
    w.ok(&["env", "--format", "dotenv", "--write", "f"]);
    let text = std::fs::read_to_string(shop.join("f")).expect("written");
    assert!(text.starts_with("WEB_PORT="), "{text}");
}

#[test]
fn env_without_claims_says_so_and_writes_nothing() {
    let w = World::new();
    let shop = w.project("shop");
    let out = w
        .cmd(&["env", "--write", ".env"])
        .assert()
        .success()
        .get_output()
        .clone();
    let err = stderr(&out);
    assert!(
        err.contains(".env was not written: the project shop has no claims"),
        "{err}"
    );
    assert!(!shop.join(".env").exists());
    let err = stderr(&w.cmd(&["env"]).assert().success().get_output().clone());
    assert!(err.contains("the project shop has no claims"), "{err}");
}

#[test]
fn env_write_keeps_every_line_it_does_not_own() {
    let w = World::new();
    let shop = w.project("shop");
    let web = port(&w.ok(&["claim", "web"]));
    let db = port(&w.ok(&["claim", "db"]));
    // A BOM, CRLF endings, an `export` line, a multi-line value holding a WEB_PORT line, a
    // comment, and bytes that are not UTF-8.
    let original: &[u8] = b"\xEF\xBB\xBFexport WEB_PORT=1 # the site\r\nCERT=\"-----BEGIN\r\nWEB_PORT=1\r\n-----END\"\r\n# caf\xe9\r\nNAME='x\r\ny'";
    w.file(shop.join(".env"), original);
    w.ok(&["env", "--write", ".env"]);
    let expected = [
        &b"\xEF\xBB\xBFexport WEB_PORT="[..],
        web.to_string().as_bytes(),
        b" # the site\r\nCERT=\"-----BEGIN\r\nWEB_PORT=1\r\n-----END\"\r\n# caf\xe9\r\nNAME='x\r\ny'\r\nDB_PORT=",
        db.to_string().as_bytes(),
        b"\r\n",
    ]
    .concat();
    let written = std::fs::read(shop.join(".env")).expect("read");
    assert_eq!(
        String::from_utf8_lossy(&written),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(written, expected);
    w.ok(&["env", "--write", ".env"]);
    assert_eq!(
        std::fs::read(shop.join(".env")).expect("read"),
        expected,
        "idempotent"
    );
}

#[test]
fn env_write_refuses_a_file_it_cannot_read_safely() {
    let w = World::new();
    let shop = w.project("shop");
    w.ok(&["claim", "web"]);
    // A quote that is never closed: where the value ends is unclear, so nothing is written.
    let text = "A=1\nB=\"open\nWEB_PORT=1\n";
    w.file(shop.join(".env"), text);
    let err = refused(&w, &shop, &["env", "--write", ".env"], 2);
    assert!(
        err.contains(".env") && err.contains("line 2, column 3") && err.contains("never closed"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(shop.join(".env")).expect("read"),
        text
    );
    // A folder is a clear error, not a crash.
    std::fs::create_dir(shop.join("dir.env")).expect("mkdir");
    let err = refused(&w, &shop, &["env", "--write", "dir.env"], 3);
    assert!(err.contains("dir.env") && err.contains("a folder"), "{err}");
}

#[cfg(unix)]
#[test]
fn env_write_on_a_fifo_does_not_hang() {
    let w = World::new();
    let shop = w.project("shop");
    w.ok(&["claim", "web"]);
    nix::unistd::mkfifo(&shop.join(".env"), nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let start = std::time::Instant::now();
    let mut cmd = w.cmd_in(&shop, &["env", "--write", ".env"]);
    cmd.timeout(std::time::Duration::from_secs(20));
    let out = cmd.output().expect("run");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("FIFO"), "{}", stderr(&out));
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
}

#[cfg(unix)]
#[test]
fn env_write_goes_through_a_symlink_and_keeps_it() {
    let w = World::new();
    let shop = w.project("shop");
    // A link to a file inside the project (one out of it is refused: see
    // trust_owners::a_committed_link_does_not_choose_what_is_written).
    let shared = shop.join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    w.file(shared.join("real.env"), "A=1\n");
    std::os::unix::fs::symlink("shared/real.env", shop.join(".env")).expect("symlink");
    let web = port(&w.ok(&["claim", "web"]));
    w.ok(&["env", "--write", ".env"]);
    let meta = std::fs::symlink_metadata(shop.join(".env")).expect("stat");
    assert!(meta.file_type().is_symlink(), "the link stays a link");
    assert_eq!(
        std::fs::read_to_string(shared.join("real.env")).expect("read"),
        format!("A=1\nWEB_PORT={web}\n")
    );
    // `up --write-env` goes through the same file.
    w.manifest(&shop, "[services.web]\n");
    w.ok(&["up", "--write-env", ".env"]);
    assert!(std::fs::symlink_metadata(shop.join(".env")).is_ok_and(|m| m.file_type().is_symlink()));
}

#[cfg(unix)]
#[test]
#[ignore = "needs root: chown of the link's target to uid 65534"]
fn env_write_refuses_a_symlink_to_another_users_file() {
    let w = World::new();
    let shop = w.project("shop");
    let target = shop.join("theirs.env");
    w.file(&target, "A=1\n");
    std::os::unix::fs::chown(&target, Some(65534), Some(65534)).expect("chown (needs root)");
    std::os::unix::fs::symlink(&target, shop.join(".env")).expect("symlink");
    w.ok(&["claim", "web"]);
    let err = refused(&w, &shop, &["env", "--write", ".env"], 3);
    assert!(err.contains("belongs to uid 65534"), "{err}");
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "A=1\n");
    // `up` refuses it before claiming anything.
    w.manifest(&shop, "[services.api]\n");
    refused(&w, &shop, &["up", "--write-env", ".env"], 3);
}

#[test]
fn dangerous_variable_names_are_refused_everywhere() {
    let w = World::new();
    let shop = w.project("shop");
    for name in [
        "PATH",
        "path",
        "LD_PRELOAD",
        "DYLD_INSERT_LIBRARIES",
        "DEVPORT_REGISTRY",
        "BASH_ENV",
        "PS1",
        "IFS",
        "9X",
        "A-B",
    ] {
        w.manifest(
            &shop,
            format!("name = \"shop\"\n[services.web]\nenv = \"{name}\"\n"),
        );
        let err = refused(&w, &shop, &["up"], 2);
        assert!(
            err.contains("devport.toml")
                && err.contains("line 3, column 7")
                && err.contains("choose another"),
            "{name}: {err}"
        );
        std::fs::remove_file(shop.join("devport.toml")).expect("rm");
        let err = refused(&w, &shop, &["exec", "web", "--env", name, "--", "true"], 2);
        assert!(err.contains("cannot be used"), "{name}: {err}");
    }
    assert!(!w.registry().exists(), "nothing was claimed");
    w.ok(&["claim", "web"]);
    for prefix in ["LD_", "DYLD_", "DEVPORT_", "9", "A B"] {
        let err = refused(&w, &shop, &["env", "--prefix", prefix], 2);
        assert!(err.contains("--prefix"), "{prefix}: {err}");
    }
    // A prefix is checked with the names it makes: `P` and `env = "ATH"` make PATH.
    w.trusted_manifest(&shop, "[services.web]\nenv = \"ATH\"\n");
    let err = refused(&w, &shop, &["env", "--prefix", "P"], 2);
    assert!(err.contains("PATH"), "{err}");
}

#[test]
fn every_printed_name_is_a_valid_shell_name() {
    let w = World::new();
    let lives = port(&w.ok(&["claim", "9lives"]));
    let ld = port(&w.ok(&["claim", "ld"]));
    let env = w.ok(&["env"]);
    assert!(
        env.contains(&format!("export _9LIVES_PORT={lives}")),
        "{env}"
    );
    assert!(env.contains(&format!("export _LD_PORT={ld}")), "{env}");
    // sh itself accepts the output (there is no sh to ask on Windows).
    #[cfg(unix)]
    {
        let script = format!("set -e\n{env}\necho \"$_9LIVES_PORT $_LD_PORT\"");
        let out = w
            .program_in("sh", &w.project("shop"), &["-c", &script])
            .output()
            .expect("sh");
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), format!("{lives} {ld}"));
    }
    let dotenv = w.ok(&["env", "--format", "dotenv", "--prefix", "APP_"]);
    assert!(
        dotenv.contains(&format!("APP__9LIVES_PORT={lives}")),
        "{dotenv}"
    );
}

#[test]
fn a_new_claim_may_not_take_another_claims_variable() {
    let w = World::new();
    let shop = w.project("shop");
    w.ok(&["claim", "api.v2"]);
    let err = refused(&w, &shop, &["claim", "api-v2"], 2);
    assert!(
        err.contains("api.v2")
            && err.contains("api-v2")
            && err.contains("API_V2_PORT")
            && err.contains("env ="),
        "{err}"
    );
    // Another project may use the name.
    w.ok_in("other", &["claim", "api-v2"]);
    // The manifest's `env` counts: a service renamed onto another's variable is refused...
    w.manifest(&shop, "[services.web]\nenv = \"API_V2_PORT\"\n");
    refused(&w, &shop, &["claim", "web"], 2);
    // ... and one renamed away from it is fine.
    w.manifest(&shop, "[services.api-v2]\nenv = \"API2_PORT\"\n");
    w.ok(&["claim", "api-v2"]);
}

#[test]
fn existing_clashing_claims_keep_working() {
    let w = World::new();
    let shop = w.project("shop");
    let first = port(&w.ok(&["claim", "api.v2"]));
    // A registry from before the check: two claims of one project on one variable.
    let mut reg = w.registry_json();
    let mut twin = reg["claims"][0].clone();
    twin["service"] = "api-v2".into();
    twin["port"] = (first + 1).into();
    reg["claims"].as_array_mut().expect("claims").push(twin);
    w.file(w.registry(), serde_json::to_vec_pretty(&reg).expect("json"));
    assert_eq!(port(&w.ok(&["claim", "api.v2"])), first);
    assert_eq!(port(&w.ok(&["claim", "api-v2"])), first + 1);
    let err = refused(&w, &shop, &["env"], 2);
    assert!(err.contains("api.v2") && err.contains("api-v2"), "{err}");
}

#[cfg(unix)]
#[test]
fn env_write_through_a_dangling_symlink_is_a_clear_error() {
    let w = World::new();
    let shop = w.project("shop");
    w.ok(&["claim", "web"]);
    std::os::unix::fs::symlink("missing/real.env", shop.join(".env")).expect("symlink");
    let err = refused(&w, &shop, &["env", "--write", ".env"], 3);
    assert!(
        err.contains("missing/real.env") && err.contains("remove the link"),
        "{err}"
    );
}

#[test]
fn env_write_takes_a_lone_cr_as_a_line_end() {
    // python-dotenv and Node's dotenv end a line at a bare CR: SECRET is a variable of its own.
    write_env_twice(
        b"WEB_PORT=1\rSECRET=hunter2\nOTHER=x\n",
        "WEB_PORT=@WEB@\rSECRET=hunter2\nOTHER=x\n",
    );
    // A file of bare CRs gets its new lines ended the same way.
    write_env_twice(b"A=1\rB=2\r", "A=1\rB=2\rWEB_PORT=@WEB@\r");
    // A quoted value still spans lines, whatever ends them.
    write_env_twice(
        b"A='x\rWEB_PORT=1\r'\r\nWEB_PORT=2 # web\r\n",
        "A='x\rWEB_PORT=1\r'\r\nWEB_PORT=@WEB@ # web\r\n",
    );
}

#[test]
fn env_write_keeps_backtick_values_whole() {
    // Node's dotenv reads `A=` + backticks as one value that may span lines.
    write_env_twice(
        b"A=`first\nWEB_PORT=part-of-A\n`\n",
        "A=`first\nWEB_PORT=part-of-A\n`\nWEB_PORT=@WEB@\n",
    );
    // devport's own line is rewritten without backticks, which `set -a; . .env` would run.
    write_env_twice(b"WEB_PORT=`1\n2`\nB=3\n", "WEB_PORT=@WEB@\nB=3\n");
}

#[cfg(unix)]
#[test]
fn env_write_refuses_a_folder_every_user_may_write() {
    let w = World::new();
    let shop = w.project("shop");
    w.ok(&["claim", "web"]);
    for mode in [0o777, 0o1777] {
        let open = open_folder(&w, &format!("open{mode:o}"), mode);
        // A file there, new or not, and a link there to a file of this user.
        let mine = shop.join("mine.env");
        w.file(&mine, "A=1\n");
        w.file(open.join("app.env"), "A=1\n");
        std::os::unix::fs::symlink(&mine, open.join("link.env")).expect("symlink");
        for name in ["app.env", "new.env", "link.env"] {
            let path = open.join(name);
            let path = path.to_str().expect("utf-8");
            let err = refused(&w, &shop, &["env", "--write", path], 3);
            assert!(
                err.contains(path)
                    && err.contains("every user may write")
                    && err.contains("move it"),
                "{err}"
            );
            // `up --write-env` opens the file the same way.
            w.manifest(&shop, "[services.web]\n");
            refused(&w, &shop, &["up", "--write-env", path], 3);
            std::fs::remove_file(shop.join("devport.toml")).expect("rm");
        }
        assert!(!open.join("new.env").exists());
        assert_eq!(
            std::fs::read_to_string(open.join("app.env")).expect("read"),
            "A=1\n"
        );
        assert_eq!(std::fs::read_to_string(&mine).expect("read"), "A=1\n");
        // A link of this user's, in a private folder, to a file in such a folder.
        std::fs::remove_file(shop.join(".env")).ok();
        std::os::unix::fs::symlink(open.join("app.env"), shop.join(".env")).expect("symlink");
        let err = refused(&w, &shop, &["env", "--write", ".env"], 3);
        assert!(err.contains("which is outside"), "{err}");
        assert_eq!(
            std::fs::read_to_string(open.join("app.env")).expect("read"),
            "A=1\n"
        );
    }
}

#[cfg(unix)]
#[test]
#[ignore = "needs root: a child runs as nobody (uid 65534) to plant a symlink"]
fn env_write_refuses_another_users_symlink_to_this_users_file() {
    let w = World::new();
    let shop = w.project("shop");
    w.ok(&["claim", "web"]);
    let precious = w.dir.path().join("precious_rc");
    w.file(&precious, "keep me\n");
    // nobody plants `app.env -> precious_rc` in a sticky folder every user may write...
    let sticky = open_folder(&w, "sticky", 0o1777);
    // ... and in a folder of nobody's own that others may not write.
    let theirs = w.dir.path().join("theirs");
    std::fs::create_dir(&theirs).expect("mkdir");
    for dir in [&sticky, &theirs] {
        let link = dir.join("app.env");
        let mut ln = w.program_in(
            "ln",
            dir,
            &["-s", precious.to_str().expect("utf-8"), "app.env"],
        );
        crate::support::run_as_nobody(&mut ln, &w, &[theirs.as_path()]);
        let out = ln.output().expect("ln");
        assert!(out.status.success(), "{}", stderr(&out));
        let path = link.to_str().expect("utf-8");
        let err = refused(
            &w,
            &shop,
            &["env", "--format", "dotenv", "--write", path],
            3,
        );
        assert!(err.contains(path), "{err}");
        // Both reasons hold in the sticky folder; the link's owner is named first.
        let why = "it is a symlink that uid 65534 made";
        assert!(err.contains(why), "{err}");
        assert_eq!(
            std::fs::read_to_string(&precious).expect("read"),
            "keep me\n"
        );
    }
    // A link of nobody's to one of this user's folders, on the way to the file.
    let mine = w.dir.path().join("mine");
    std::fs::create_dir(&mine).expect("mkdir");
    w.file(mine.join("app.env"), "keep me\n");
    let mut ln = w.program_in("ln", &theirs, &["-s", mine.to_str().expect("utf-8"), "dir"]);
    crate::support::run_as_nobody(&mut ln, &w, &[theirs.as_path()]);
    assert!(ln.status().expect("ln").success());
    let path = theirs.join("dir/app.env");
    let err = refused(
        &w,
        &shop,
        &["env", "--write", path.to_str().expect("utf-8")],
        3,
    );
    assert!(
        err.contains("theirs/dir is a symlink that uid 65534 made")
            && err.contains("a path of your own"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(mine.join("app.env")).expect("read"),
        "keep me\n"
    );
}

/// `up --write-env` into a folder that does not exist fails before anything is claimed.
#[test]
fn write_env_into_a_missing_folder_claims_nothing() {
    let w = World::new();
    let shop = w.project("shop");
    w.manifest(&shop, "[services.web]\n[services.api]\n");
    for args in [
        &["up", "--write-env", "nodir/.env"][..],
        &["env", "--write", "nodir/.env"][..],
        &["export", "caddy", "--write", "nodir/Caddyfile"][..],
    ] {
        let out = w.fails_in(&shop, args, 3);
        assert!(
            stderr(&out).contains("does not exist; create it first"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(w.registry_bytes().is_empty(), "{args:?} claimed first");
    }
    assert!(!shop.join("nodir").exists());
}

/// A `.env` (or export file) its owner made read-only is left alone, even by root, who could
/// replace it: the mode says not to.
#[cfg(unix)]
#[test]
fn a_read_only_file_is_not_replaced() {
    let w = World::new();
    let shop = w.project("shop");
    w.ok(&["claim", "web"]);
    for (name, args) in [
        (".env", &["env", "--write", ".env"][..]),
        (
            "Caddyfile",
            &["export", "caddy", "--write", "Caddyfile"][..],
        ),
    ] {
        let file = shop.join(name);
        w.file(&file, "KEEP=1\n");
        chmod(&file, 0o444);
        let out = w.fails_in(&shop, args, 3);
        assert!(
            stderr(&out).contains("read-only"),
            "{name}: {}",
            stderr(&out)
        );
        assert_eq!(std::fs::read_to_string(&file).expect("read"), "KEEP=1\n");
    }
}

/// Many projects writing one shared `.env` at once lose nothing: each read-merge-write holds
/// the registry's lock.
#[test]
fn parallel_writes_to_one_env_file_keep_every_line() {
    let w = World::new();
    let shared = w.dir.path().join("shared.env");
    let n = 12;
    let dirs: Vec<_> = (0..n)
        .map(|i| {
            let dir = w.project(&format!("q{i}"));
            w.ok_at(&dir, &["claim", &format!("s{i}")]);
            dir
        })
        .collect();
    let shared_arg = shared.to_str().expect("UTF-8").to_string();
    let children: Vec<_> = dirs
        .iter()
        .map(|dir| {
            w.std_cmd_in(dir, &["env", "--write", &shared_arg])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let text = std::fs::read_to_string(&shared).expect("shared .env");
    for i in 0..n {
        assert!(
            text.contains(&format!("S{i}_PORT=")),
            "S{i}_PORT lost:\n{text}"
        );
    }
    assert_eq!(text.lines().count(), n, "{text}");
}

/// The shell's redirect target is written in place, not replaced: `end` is kept.
#[cfg(unix)]
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

#[cfg(unix)]
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

#[cfg(unix)]
#[test]
fn a_committed_link_does_not_choose_what_is_written() {
    let w = World::new();
    let shop = w.project("shop");
    let home = w.dir.path().join("home");
    std::fs::create_dir(&home).expect("mkdir");
    let gitconfig = home.join(".gitconfig");
    w.file(&gitconfig, "[user]\n");
    std::os::unix::fs::symlink("../home/.gitconfig", shop.join(".env")).expect("symlink");
    w.manifest(&shop, "[services.web]\n");
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
    // A committed link to a folder out of the project does not choose where a file goes
    // either; one to a folder inside it does.
    std::os::unix::fs::symlink("../home", shop.join("out")).expect("symlink");
    std::fs::create_dir(shop.join("config")).expect("mkdir");
    std::os::unix::fs::symlink("config", shop.join("in")).expect("symlink");
    // `deep/..` is the link's target's parent, as the system resolves it: `home` again.
    std::fs::create_dir(home.join("sub")).expect("mkdir");
    std::os::unix::fs::symlink("../home/sub", shop.join("deep")).expect("symlink");
    for args in [
        &["env", "--format", "dotenv", "--write", "out/.env"][..],
        &["env", "--format", "dotenv", "--write", "deep/../.env"],
        &["up", "--write", "out/.env"],
        &["export", "caddy", "--write", "out/Caddyfile"],
    ] {
        let err = stderr(&w.fails_in(&shop, args, 3));
        assert!(
            err.contains("through a symlink") && err.contains("name the real path"),
            "{args:?}: {err}"
        );
    }
    assert!(!home.join(".env").exists() && !home.join("Caddyfile").exists());
    w.ok_at(&shop, &["env", "--format", "dotenv", "--write", "in/.env"]);
    assert!(shop.join("config/.env").is_file());
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
    w.file(shop.join("real.env"), "");
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

#[cfg(unix)]
#[test]
fn a_stream_no_one_reads_is_refused_before_anything_is_done() {
    let w = World::new();
    let shop = w.project("shop");
    // man --dir: every page is checked (a FIFO page opened) before the first is written.
    let pages = shop.join("man1");
    std::fs::create_dir(&pages).expect("mkdir");
    w.file(pages.join("devport.1"), "old\n");
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
    w.manifest(&shop, "[services.web]\n");
    fifo(&shop.join("ports.env"));
    let out = w.fails(&["up", "--write-env", "ports.env"], 3);
    assert!(
        stderr(&out).contains("FIFO that no process is reading"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.ok(&["--json", "list"]), "[]");
}

#[cfg(unix)]
#[test]
fn a_fifo_with_a_reader_gets_the_text_through_the_open_it_was_checked_with() {
    let w = World::new();
    let shop = w.project("shop");
    w.manifest(&shop, "[services.web]\n");
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

#[cfg(unix)]
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

// bash scripts: Unix by nature.
#[cfg(unix)]
#[test]
fn env_formats_round_trip() {
    let w = World::new();
    let web = w.ok(&["claim", "web"]);
    let block = w.ok(&["claim", "api.v2", "--count", "2"]);
    let shop = w.project("shop");
    let out = bash(
        &w,
        &shop,
        r#"eval "$(devport env)"; echo "$WEB_PORT $API_V2_PORT $API_V2_PORT_1""#,
    );
    let first = block.split(' ').next().unwrap_or_default();
    let second = block.split(' ').nth(1).unwrap_or_default();
    assert_eq!(
        stdout(&out),
        format!("{web} {first} {second}"),
        "{}",
        stderr(&out)
    );

    let out = bash(
        &w,
        &shop,
        "devport env --format dotenv > .env && set -a && . ./.env && echo $WEB_PORT",
    );
    assert_eq!(stdout(&out), web);

    let json: serde_json::Value =
        serde_json::from_str(&w.ok(&["env", "--format", "json", "--prefix", "APP_"]))
            .expect("json");
    assert_eq!(json["APP_WEB_PORT"], web.as_str());
    assert_eq!(json["APP_API_V2_PORT_0"], first);
}

#[test]
fn env_write_merges_and_is_stable() {
    let w = World::new();
    let web = w.ok(&["claim", "web"]);
    let dotenv = w.project("shop").join(".env");
    w.file(
        &dotenv,
        "# keep me\nDEBUG=1\nWEB_PORT=1\n\nexport OTHER='a b'\n",
    );
    w.cmd(&["env", "--write", ".env"])
        .assert()
        .success()
        .stdout("");
    let once = std::fs::read_to_string(&dotenv).expect("read");
    assert_eq!(
        once,
        format!("# keep me\nDEBUG=1\nWEB_PORT={web}\n\nexport OTHER='a b'\n")
    );
    w.cmd(&["env", "--write", ".env"]).assert().success();
    assert_eq!(
        std::fs::read_to_string(&dotenv).expect("read"),
        once,
        "second run changed the file"
    );
}

#[test]
fn env_name_collision_is_exit_2() {
    let w = World::new();
    w.ok(&["claim", "api.v2"]);
    // Refused when the second claim is made, before it is written (tests/cli/trust_env.rs
    // covers `env` on claims that already clash).
    let out = w.fails(&["claim", "api_v2"], 2);
    let err = stderr(&out);
    assert!(
        err.contains("api.v2") && err.contains("api_v2") && err.contains("API_V2_PORT"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn env_write_respects_the_umask_and_keeps_a_files_mode() {
    use std::os::unix::fs::PermissionsExt as _;
    let w = World::new();
    let shop = w.project("shop");
    w.ok(&["claim", "web"]);
    let out = bash(&w, &shop, "umask 077 && devport env --write new.env");
    assert!(out.status.success(), "{}", stderr(&out));
    let mode = |name: &str| {
        std::fs::metadata(shop.join(name)).map_or(0, |m| m.permissions().mode() & 0o777)
    };
    assert_eq!(mode("new.env"), 0o600, "a new file follows the umask");
    w.file(shop.join("old.env"), "A=1\n");
    chmod(&shop.join("old.env"), 0o640);
    let out = bash(&w, &shop, "umask 077 && devport env --write old.env");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode("old.env"), 0o640, "a rewritten file keeps its mode");
}

/// `--write` with nothing to change (env or up, under either spelling) leaves the file alone,
/// bytes and modification time, and says it is up to date; a change is written and counted.
#[test]
fn write_with_nothing_changed_leaves_the_file_alone() {
    let w = World::new();
    let shop = w.project("shop");
    w.manifest(&shop, "[services.web]\n");
    let env = shop.join(".env");
    let first = w
        .cmd(&["up", "--write", ".env"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(stderr(&first), "devport: 1 variable(s) in .env");
    let text = std::fs::read(&env).expect("written");
    for args in [
        &["up", "--write", ".env"][..],
        &["up", "--write-env", ".env"],
        &["env", "--write", ".env"],
        &["env", "--write-env", ".env"],
    ] {
        let old = crate::support::plant_old_mtime(&env);
        let out = w.cmd(args).assert().success().get_output().clone();
        assert_eq!(
            stderr(&out),
            "devport: .env is up to date (1 variable(s), unchanged)",
            "{args:?}"
        );
        assert_eq!(crate::support::mtime(&env), old, "{args:?} rewrote it");
        assert_eq!(std::fs::read(&env).expect("read"), text, "{args:?}");
    }
    std::fs::write(&env, "WEB_PORT=1\n").expect("write");
    let out = w
        .cmd(&["env", "--write", ".env"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(stderr(&out), "devport: 1 variable(s) in .env");
    assert_eq!(std::fs::read(&env).expect("read"), text);
}
