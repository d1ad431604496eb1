//! Manifests and the config say what is wrong in the user's words, at the parser's line and
//! column; a file or the top of the file system is not a project; a renamed project carries
//! all its claims to the new name.

use std::path::Path;

use crate::support::{World, stderr};

fn write_manifest(dir: &Path, text: &str) {
    std::fs::write(dir.join("devport.toml"), text).expect("write manifest");
}

/// Words that belong to the parser's internals, not to a message for a person.
const INTERNALS: &[&str] = &[
    "u16",
    "u32",
    "i64",
    "untagged",
    "variant",
    "ServiceSpec",
    "PortOrRange",
    "struct",
    "invalid type",
    "expected a map",
    "Option",
];

/// The error is one line, names the file and the position, says `words`, leaks nothing.
fn assert_one_line(err: &str, file: &Path, at: &str, words: &str, input: &str) {
    let err = err.trim_end();
    assert!(!err.contains('\n'), "{input:?}: not one line: {err}");
    assert!(
        err.contains(&file.display().to_string()),
        "{input:?}: file not named: {err}"
    );
    assert!(err.contains(at), "{input:?}: want {at:?}: {err}");
    assert!(err.contains(words), "{input:?}: want {words:?}: {err}");
    for word in INTERNALS {
        assert!(!err.contains(word), "{input:?}: leaks {word:?}: {err}");
    }
}

#[test]
fn manifest_errors_say_what_is_wrong_where_in_the_users_words() {
    let w = World::new();
    let dir = w.project("mshop");
    let manifest = dir.join("devport.toml");
    let cases: &[(&str, &str, &str)] = &[
        (
            "[services.web]\nprefer = \"abc\"\n",
            "line 2, column 10",
            "prefer must be a port number 1-65535, not a string",
        ),
        (
            "[services.web]\nprefer = \"3000\"\n",
            "line 2, column 10",
            "write 3000 without quotes",
        ),
        (
            "[services.web]\nport = 70000\n",
            "line 2, column 8",
            "port must be a port number 1-65535, not 70000",
        ),
        ("[services.web]\nport = -1\n", "line 2, column 8", "not -1"),
        (
            "[services.web]\nport = 1.5\n",
            "line 2, column 8",
            "not a decimal number",
        ),
        (
            "[services.web]\nport = [1]\n",
            "line 2, column 8",
            "not a list",
        ),
        (
            "[services.webapp]\nport = 1\n\n[services.web]\nport = 2\nprefer = 3\n",
            "line 6, column 1",
            "gives both `port` and `prefer`",
        ),
        (
            "[services.web]\ncount = 0\n",
            "line 2, column 9",
            "count must be a number of ports from 1 to 1000, not 0",
        ),
        (
            "[services.web]\ncount = \"3\"\n",
            "line 2, column 9",
            "count must be a number of ports",
        ),
        (
            "[services.web]\nproto = \"tcpx\"\n",
            "line 2, column 9",
            "proto must be \"tcp\", \"udp\" or \"both\", not \"tcpx\"",
        ),
        (
            "[services.web]\nproto = 6\n",
            "line 2, column 9",
            "not a whole number",
        ),
        (
            "[services.web]\nenv = true\n",
            "line 2, column 7",
            "env must be a variable name",
        ),
        (
            "[services.web]\nenv = \"9X\"\n",
            "line 2, column 7",
            "cannot be used",
        ),
        (
            "services = 3\n",
            "line 1, column 12",
            "services must be tables such as [services.web]",
        ),
        (
            "[services]\nweb = \"x\"\n",
            "line 2, column 7",
            "a service must be a table",
        ),
        (
            "[services.\"a b\"]\n",
            "line 1",
            "invalid character ' ' in service name",
        ),
        (
            "[services.web]\nprot = 1\n",
            "line 2, column 1",
            "unknown key `prot`",
        ),
        (
            "name = 3\n",
            "line 1, column 8",
            "name must be a project name",
        ),
    ];
    for (text, at, words) in cases {
        write_manifest(&dir, text);
        let out = w.fails_in(&dir, &["up"], 2);
        assert_one_line(&stderr(&out), &manifest, at, words, text);
        assert!(
            w.registry_bytes().is_empty(),
            "{text:?}: wrote the registry"
        );
    }
}

#[test]
fn config_errors_say_what_is_wrong_where_in_the_users_words() {
    let w = World::new();
    let config = w.config();
    let cases: &[(&str, &str, &str)] = &[
        (
            "range = \"abc\"\n",
            "line 1, column 9",
            "range must be a range of ports like \"10000-29999\"",
        ),
        ("\nrange = \"9-1\"\n", "line 2, column 9", "not \"9-1\""),
        ("range = 10000\n", "line 1, column 9", "not a whole number"),
        (
            "avoid = [0, 70000]\n",
            "line 1, column 9",
            "avoid entry 1 must be a port 1-65535 or a range like \"5000-5010\", not 0",
        ),
        (
            "avoid = [5000, 70000]\n",
            "line 1, column 9",
            "avoid entry 2 must be a port",
        ),
        ("avoid = [0]\n", "line 1, column 9", "not 0"),
        (
            "avoid = [\"6000-5000\"]\n",
            "line 1, column 9",
            "not \"6000-5000\"",
        ),
        (
            "avoid = 5000\n",
            "line 1, column 9",
            "avoid must be a list of ports and ranges",
        ),
        (
            "allow_assigned = \"yes\"\n",
            "line 1, column 18",
            "allow_assigned must be true or false, not a string",
        ),
        (
            "\n\nlock_timeout = \"soon\"\n",
            "line 3, column 16",
            "lock_timeout must be a duration like \"10s\"",
        ),
        (
            "lock_timeout = \"2h\"\n",
            "line 1, column 16",
            "at most 3600 s",
        ),
        (
            "lock_timeout = 5\n",
            "line 1, column 16",
            "not a whole number",
        ),
        (
            "colour = true\n",
            "line 1, column 1",
            "unknown key `colour`",
        ),
    ];
    for (text, at, words) in cases {
        std::fs::write(&config, text).expect("write config");
        let out = w.fails(&["claim", "web"], 3);
        assert_one_line(&stderr(&out), &config, at, words, text);
        assert!(
            w.registry_bytes().is_empty(),
            "{text:?}: wrote the registry"
        );
    }
}

#[test]
fn a_manifest_name_follows_the_service_name_rules() {
    let w = World::new();
    let dir = w.project("nshop");
    let manifest = dir.join("devport.toml");
    for (text, words) in [
        ("name = \"\"\n[services.web]\n", "name is empty"),
        ("name = \"a/b\"\n[services.web]\n", "invalid character '/'"),
        (
            "name = \"-x\"\n[services.web]\n",
            "must start with a letter or digit",
        ),
        ("name = \"a b\"\n[services.web]\n", "invalid character ' '"),
    ] {
        write_manifest(&dir, text);
        for args in [&["up"][..], &["claim", "web"], &["env"]] {
            let out = w.fails_in(&dir, args, 2);
            assert_one_line(&stderr(&out), &manifest, "line 1, column 8", words, text);
        }
        assert!(
            w.registry_bytes().is_empty(),
            "{text:?}: wrote the registry"
        );
    }
    write_manifest(&dir, "name = \"shop.v2_x-1\"\n[services.web]\n");
    w.ok_at(&dir, &["up"]);
    assert_eq!(w.registry_json()["claims"][0]["project"], "shop.v2_x-1");
}

/// The project name of every claim in the registry, by service.
fn names(w: &World) -> Vec<(String, String)> {
    let mut names: Vec<(String, String)> = w.registry_json()["claims"]
        .as_array()
        .expect("claims")
        .iter()
        .map(|c| {
            (
                c["service"].as_str().expect("service").to_string(),
                c["project"].as_str().expect("project").to_string(),
            )
        })
        .collect();
    names.sort();
    names
}

#[test]
fn a_renamed_project_carries_all_its_claims_to_the_new_name() {
    let w = World::new();
    let dir = w.project("rshop");
    write_manifest(&dir, "name = \"old\"\n[services.web]\n[services.db]\n");
    w.ok_at(&dir, &["up"]);
    w.ok_at(&dir, &["claim", "cache"]);
    let other = w.project("elsewhere");
    w.ok_at(&other, &["claim", "web"]);
    let before = w.registry_json();

    // A claim of one service renames every claim of the folder, and no other project's.
    write_manifest(&dir, "name = \"new\"\n[services.web]\n[services.db]\n");
    w.ok_at(&dir, &["claim", "web"]);
    let want = |name: &str| {
        vec![
            ("cache".to_string(), name.to_string()),
            ("db".to_string(), name.to_string()),
            ("web".to_string(), "elsewhere".to_string()),
            ("web".to_string(), name.to_string()),
        ]
    };
    assert_eq!(names(&w), want("new"));
    let list = w.ok_at(&dir, &["list"]);
    assert!(!list.contains("old"), "{list}");

    // `up` after a rename does the same, and no port moves.
    write_manifest(&dir, "name = \"newer\"\n[services.web]\n[services.db]\n");
    w.ok_at(&dir, &["up"]);
    assert_eq!(names(&w), want("newer"));
    let ports = |v: &serde_json::Value| {
        let mut p: Vec<u64> = v["claims"]
            .as_array()
            .expect("claims")
            .iter()
            .map(|c| c["port"].as_u64().expect("port"))
            .collect();
        p.sort_unstable();
        p
    };
    assert_eq!(ports(&w.registry_json()), ports(&before));
}

#[test]
fn a_file_is_not_a_project() {
    let w = World::new();
    let dir = w.project("fshop");
    let file = dir.join("notes.txt");
    std::fs::write(&file, "x").expect("write file");
    for args in [&["claim", "web"][..], &["up"], &["init"], &["env"]] {
        let mut full = vec!["--project", file.to_str().expect("utf-8")];
        full.extend_from_slice(args);
        let err = stderr(&w.fails_in(&dir, &full, 2));
        assert!(!err.trim_end().contains('\n'), "{err}");
        assert!(err.contains(&file.display().to_string()), "{err}");
        assert!(err.contains("is a file, not a project folder"), "{err}");
    }
    assert!(w.registry_bytes().is_empty());
    assert!(!file.with_file_name("devport.toml").exists());
}

/// Removes `/devport.toml` on drop if the test made it (only a broken build would).
#[cfg(unix)]
struct RemoveIfNew(bool);

#[cfg(unix)]
impl Drop for RemoveIfNew {
    fn drop(&mut self) {
        if self.0 {
            let _ = std::fs::remove_file("/devport.toml");
        }
    }
}

#[cfg(unix)]
#[test]
fn the_top_of_the_file_system_is_not_a_project() {
    let w = World::new();
    let root = Path::new("/");
    let had_manifest = root.join("devport.toml").exists();
    let _guard = RemoveIfNew(!had_manifest);
    for args in [
        &["claim", "web"][..],
        &["init"],
        &["up"],
        &["exec", "web", "--", "true"],
    ] {
        let err = stderr(&w.fails_in(root, args, 2));
        assert!(!err.trim_end().contains('\n'), "{err}");
        assert!(err.contains("--global"), "{err}");
        assert!(err.contains("not a project folder"), "{err}");
    }
    assert_eq!(root.join("devport.toml").exists(), had_manifest);
    assert!(w.registry_bytes().is_empty());
    // What needs no project still works there, and --global is the way to claim.
    let port = w.ok_at(root, &["--global", "claim", "web"]);
    w.ok_at(root, &["release", "--port", &port]);
    w.ok_at(root, &["list"]);
}

/// `doctor`'s report as text, and its exit code.
fn doctor(w: &World) -> (String, Option<i32>) {
    let out = w.cmd(&["doctor"]).output().expect("doctor runs");
    (crate::support::stdout(&out), out.status.code())
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[cfg(unix)]
#[test]
fn doctor_names_each_permission_problem_with_its_own_code_and_a_safe_fix() {
    let w = World::new();
    w.ok(&["claim", "web"]);
    let registry = w.registry();
    let lock = registry.with_extension("lock");
    let folder = registry.parent().expect("folder").to_path_buf();
    chmod(&folder, 0o700);
    chmod(&registry, 0o600);
    chmod(&lock, 0o600);
    let (text, code) = doctor(&w);
    assert_eq!(code, Some(0), "{text}");

    chmod(&registry, 0o644);
    let (text, code) = doctor(&w);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("registry-permissions"), "{text}");
    assert!(text.contains("readable by other users"), "{text}");
    assert!(!text.contains("change"), "{text}");
    chmod(&registry, 0o666);
    let (text, _) = doctor(&w);
    assert!(text.contains("other users can change it"), "{text}");
    chmod(&registry, 0o600);

    chmod(&lock, 0o666);
    let (text, code) = doctor(&w);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("lock-permissions"), "{text}");
    assert!(
        text.contains(&format!("chmod 600 {}", lock.display())),
        "{text}"
    );
    chmod(&lock, 0o600);

    // A world-writable folder: its own code, exit 3 as a claim would, and the fix of the
    // claim-time advice (never `chmod 700` of a shared folder).
    chmod(&folder, 0o777);
    let (text, code) = doctor(&w);
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("folder-world-writable"), "{text}");
    assert!(!text.contains("registry-unreadable"), "{text}");
    assert!(
        text.contains(&format!("chmod o-w {}", folder.display())),
        "{text}"
    );
    chmod(&folder, 0o1777);
    let (text, code) = doctor(&w);
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("folder-world-writable"), "{text}");
    assert!(text.contains("mkdir -m 700"), "{text}");
    assert!(!text.contains("chmod"), "{text}");
    chmod(&folder, 0o700);
}

#[test]
fn doctor_flags_a_configured_range_with_no_usable_port() {
    let w = World::new();
    std::fs::write(
        w.config(),
        "range = \"20000-20009\"\navoid = [\"20000-20009\"]\n",
    )
    .expect("write config");
    let (text, code) = doctor(&w);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("pool-empty"), "{text}");
    assert!(text.contains("20000-20009"), "{text}");
    assert!(text.contains("such as the default 10000-29999"), "{text}");
    std::fs::write(w.config(), "range = \"20000-20009\"\n").expect("write config");
    let (text, _) = doctor(&w);
    assert!(!text.contains("pool-empty"), "{text}");
}

#[cfg(unix)]
#[test]
#[ignore = "needs root: runs doctor as user nobody against a folder it cannot write"]
fn doctor_flags_a_registry_folder_it_cannot_write() {
    let w = World::new();
    w.ok(&["claim", "web"]);
    let registry = w.registry();
    let lock = registry.with_extension("lock");
    let folder = registry.parent().expect("folder").to_path_buf();
    let shop = w.project("shop");
    let run = |args: &[&str]| {
        let mut cmd = w.std_cmd_in(&shop, args);
        crate::support::run_as_nobody(&mut cmd, &w, &[&folder, &registry, &lock]);
        cmd.output().expect("runs")
    };
    chmod(&folder, 0o500);
    let before = w.registry_bytes();
    let out = run(&["doctor"]);
    let text = crate::support::stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("registry-unwritable"), "{text}");
    assert!(!text.contains("no problems found"), "{text}");
    // As doctor says: a claim there fails (exit 3), and nothing changed.
    assert_eq!(run(&["claim", "db"]).status.code(), Some(3));
    assert_eq!(w.registry_bytes(), before);
    chmod(&folder, 0o700);
    let out = run(&["doctor"]);
    let text = crate::support::stdout(&out);
    assert!(!text.contains("registry-unwritable"), "{text}");
}
