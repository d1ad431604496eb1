//! Trusting projects and folders: `gc`/`doctor` on folders that cannot be seen, manifests and
//! configs of other people, `init` with odd folder names, `check` limits, `doctor` at scale and
//! exit codes, and ending leases by hand.

use std::path::Path;

use serde_json::Value;

#[cfg(unix)]
use crate::support::bin;
use crate::support::{World, port, stderr, stdout};

#[cfg(unix)]
const NOBODY: u32 = 65534;

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn codes(doctor_json: &Value) -> Vec<String> {
    doctor_json
        .as_array()
        .expect("array")
        .iter()
        .map(|p| p["code"].as_str().expect("code").to_string())
        .collect()
}

fn claim_count(w: &World) -> usize {
    w.registry_json()["claims"].as_array().map_or(0, Vec::len)
}

/// A claim in a folder under a 0700 parent of another user is unreadable, not gone: `doctor`
/// says so and `gc` keeps it.
// Folder modes and owners: Unix by nature.
#[cfg(unix)]
#[test]
#[ignore = "needs root: runs devport as user nobody against a folder it cannot see"]
fn gc_keeps_a_claim_whose_folder_it_cannot_see() {
    use std::os::unix::process::CommandExt as _;
    let w = World::new();
    chmod(w.dir.path(), 0o755);
    let hidden = w.dir.path().join("hidden");
    std::fs::create_dir(&hidden).expect("mkdir");
    let proj = hidden.join("proj");
    std::fs::create_dir_all(proj.join(".git")).expect("mkdir");
    w.ok_at(&proj, &["claim", "web"]);
    // The parent is root's and closed; the registry (and its folder) become nobody's.
    chmod(&hidden, 0o700);
    let state = w.dir.path().join("state");
    for entry in std::fs::read_dir(&state).expect("state").flatten() {
        std::os::unix::fs::chown(entry.path(), Some(NOBODY), Some(NOBODY)).expect("chown");
    }
    std::os::unix::fs::chown(&state, Some(NOBODY), Some(NOBODY)).expect("chown");
    chmod(&state, 0o700);
    let as_nobody = |args: &[&str]| {
        let out = w
            .program_in(bin(), w.dir.path(), args)
            .uid(NOBODY)
            .gid(NOBODY)
            .output()
            .expect("run devport as nobody");
        (out.status.code(), stdout(&out), stderr(&out))
    };
    let (code, out, err) = as_nobody(&["doctor", "--json"]);
    assert_eq!(code, Some(1), "{err}");
    let found = codes(&json(&out));
    assert!(found.contains(&"folder-unreadable".to_string()), "{out}");
    assert!(!found.contains(&"folder-gone".to_string()), "{out}");
    let (code, text, err) = as_nobody(&["doctor"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(text.contains("fix: "), "{text}");
    for args in [&["gc", "--dry-run", "--json"][..], &["gc", "--json"]] {
        let (code, out, err) = as_nobody(args);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(
            json(&out)["claims"],
            serde_json::json!([]),
            "{args:?}: {out}"
        );
    }
    assert_eq!(claim_count(&w), 1, "gc removed a claim it could not see");
}

/// ENOTDIR (a file where a folder on the way was) and a file in the folder's place are gone.
#[test]
fn a_file_where_the_folder_was_means_gone() {
    let w = World::new();
    let outer = w.dir.path().join("outer");
    let deep = outer.join("proj");
    std::fs::create_dir_all(deep.join(".git")).expect("mkdir");
    w.ok_at(&deep, &["claim", "web"]);
    let flat = w.project("flat");
    w.ok_at(&flat, &["claim", "web"]);
    let kept = w.project("kept");
    w.ok_at(&kept, &["claim", "web"]);
    for dir in [&outer, &flat] {
        std::fs::remove_dir_all(dir).expect("rm");
        std::fs::write(dir, "now a file").expect("write");
    }
    let out = w.fails_in(&kept, &["doctor", "--json"], 1);
    let found = codes(&json(&stdout(&out)));
    assert_eq!(
        found.iter().filter(|c| *c == "folder-gone").count(),
        2,
        "{found:?}"
    );
    let report = json(&w.ok_at(&kept, &["gc", "--json"]));
    assert_eq!(
        report["claims"].as_array().map(Vec::len),
        Some(2),
        "{report}"
    );
    assert!(
        report["claims"]
            .as_array()
            .expect("claims")
            .iter()
            .all(|c| c[1] == "folder-gone")
    );
    assert_eq!(claim_count(&w), 1);
}

/// A manifest above the nearest `.git` belongs to something else.
#[test]
fn a_manifest_above_the_git_root_is_not_this_projects() {
    let w = World::new();
    let outer = w.dir.path().join("outer");
    std::fs::create_dir_all(&outer).expect("mkdir");
    std::fs::write(
        outer.join("devport.toml"),
        "name = \"hijacked\"\n[services.web]\nenv = \"SITE_PORT\"\n",
    )
    .expect("write");
    let repo = outer.join("repo");
    std::fs::create_dir_all(repo.join(".git")).expect("mkdir");
    let claim = json(&w.ok_at(&repo, &["claim", "web", "--json"]));
    assert_eq!(claim["project"], "repo");
    let env = w.ok_at(&repo, &["env"]);
    assert!(
        env.contains("WEB_PORT=") && !env.contains("SITE_PORT="),
        "{env}"
    );
    // Without a git root in between, the manifest is the project's (the control).
    let plain = outer.join("plain");
    std::fs::create_dir_all(&plain).expect("mkdir");
    let claim = json(&w.ok_at(&plain, &["claim", "web", "--json"]));
    assert_eq!(claim["project"], "hijacked");
}

/// A manifest in a folder every user may write (sticky or not) is skipped, with a warning.
// Folder modes and owners: Unix by nature.
#[cfg(unix)]
#[test]
fn a_manifest_in_a_world_writable_folder_is_skipped() {
    let w = World::new();
    let shared = w.dir.path().join("shared");
    std::fs::create_dir_all(&shared).expect("mkdir");
    std::fs::write(
        shared.join("devport.toml"),
        "name = \"hijacked\"\n[services.web]\nenv = \"PATH\"\n",
    )
    .expect("write");
    chmod(&shared, 0o1777);
    let sub = shared.join("sub");
    std::fs::create_dir_all(&sub).expect("mkdir");
    let out = w
        .cmd_in(&sub, &["claim", "web", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let claim = json(&stdout(&out));
    assert_eq!(claim["project"], "sub");
    let err = stderr(&out);
    assert!(
        err.contains("warning: skipped") && err.contains("every user may write"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let env = w.ok_at(&sub, &["env"]);
    assert!(!env.contains("PATH="), "{env}");
    // A link in a private repository to a manifest in such a folder is skipped as well.
    let repo = w.project("repo");
    std::os::unix::fs::symlink(shared.join("devport.toml"), repo.join("devport.toml"))
        .expect("symlink");
    let out = w
        .cmd_in(&repo, &["claim", "web", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(json(&stdout(&out))["project"], "repo");
    assert!(
        stderr(&out).contains("skipped manifest"),
        "{}",
        stderr(&out)
    );
}

/// A manifest owned by another user is skipped, with a warning naming the owner.
// Folder modes and owners: Unix by nature.
#[cfg(unix)]
#[test]
#[ignore = "needs root: chowns a manifest to nobody"]
fn a_manifest_of_another_user_is_skipped() {
    let w = World::new();
    let repo = w.project("repo");
    let manifest = repo.join("devport.toml");
    std::fs::write(&manifest, "name = \"hijacked\"\n[services.web]\n").expect("write");
    std::os::unix::fs::chown(&manifest, Some(NOBODY), Some(NOBODY)).expect("chown");
    let out = w
        .cmd_in(&repo, &["claim", "web", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(json(&stdout(&out))["project"], "repo");
    assert!(stderr(&out).contains("uid 65534"), "{}", stderr(&out));
    // `up` then finds no manifest, as if the file were not there.
    let out = w.fails_in(&repo, &["up"], 2);
    assert!(stderr(&out).contains("no devport.toml"), "{}", stderr(&out));
}

/// The user's config in a world-writable folder is skipped too: its range does not apply.
// Folder modes and owners: Unix by nature.
#[cfg(unix)]
#[test]
fn a_config_in_a_world_writable_folder_is_skipped() {
    let w = World::new();
    let shared = w.dir.path().join("shared");
    std::fs::create_dir_all(&shared).expect("mkdir");
    let config = shared.join("config.toml");
    std::fs::write(&config, "range = \"12000-12005\"\n").expect("write");
    let outside = |w: &World| {
        let out = w
            .cmd(&["check", "15000", "--json"])
            .env("DEVPORT_CONFIG", &config)
            .output()
            .expect("run");
        let reasons = json(&stdout(&out))[0]["reasons"].clone();
        (
            reasons
                .as_array()
                .expect("reasons")
                .contains(&Value::from("outside-range")),
            stderr(&out),
        )
    };
    // The control: a private folder's config is used.
    assert!(outside(&w).0, "the config of a private folder was not used");
    chmod(&shared, 0o777);
    let (used, err) = outside(&w);
    assert!(!used, "the config of a world-writable folder was used");
    assert!(err.contains("skipped config"), "{err}");
}

/// `init` writes the folder name with the TOML serializer, so odd names read back as
/// themselves.
#[test]
fn init_round_trips_odd_folder_names() {
    let w = World::new();
    #[cfg(unix)]
    let names = [
        "new\nline",
        "esc\u{1b}ape",
        "del\u{7f}ete",
        "quo\"te",
        "back\\slash",
        "tri'''ple",
        "naïve-日本",
    ];
    // Windows allows no control character (DEL aside), `"` or `\` in a folder name.
    #[cfg(windows)]
    let names = ["del\u{7f}ete", "tri'''ple", "naïve-日本", "semi;colon=#"];
    for name in names {
        let dir = w.project(name);
        w.ok_at(&dir, &["init"]);
        w.ok_at(&dir, &["up"]);
        let listed = json(&w.ok_at(&dir, &["list", "--here", "--json"]));
        let projects: Vec<&Value> = listed
            .as_array()
            .expect("array")
            .iter()
            .map(|c| &c["project"])
            .collect();
        assert_eq!(projects.len(), 2, "{name:?}: {listed}");
        assert!(projects.iter().all(|p| *p == name), "{name:?}: {listed}");
    }
}

/// 65,537 arguments of `1-65535` would overflow a 32-bit count to 0; they are refused first.
// A Windows command line holds at most 32,767 characters, far fewer than these arguments.
#[cfg(unix)]
#[test]
fn check_refuses_a_huge_argument_list_without_expanding_it() {
    let w = World::new();
    let mut args = vec!["check"];
    args.extend(std::iter::repeat_n("1-65535", 65_537));
    args.push("80");
    let out = w.fails(&args, 2);
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("4294967296 ports asked about") && err.contains("at most 4096"),
        "{err}"
    );
}

fn raw_claim(project: &Path, service: &str, port: u16, count: u16) -> Value {
    serde_json::json!({
        "project": project.file_name().map(|n| n.to_string_lossy().into_owned()),
        "project_path": project,
        "service": service,
        "port": port,
        "count": count,
        "proto": "tcp",
        "created": "2026-01-01T00:00:00Z",
        "last_used": "2026-01-01T00:00:00Z",
        "pinned": true,
    })
}

fn write_registry(w: &World, claims: &[Value]) {
    let reg = serde_json::json!({"version": 1, "claims": claims, "leases": []});
    std::fs::write(w.registry(), reg.to_string()).expect("write registry");
}

/// Overlaps are found between claims that are not neighbours by port, and duplicates once.
#[test]
fn doctor_finds_non_adjacent_overlaps_and_duplicates() {
    let w = World::new();
    let a = w.project("a");
    let b = w.project("b");
    write_registry(
        &w,
        &[
            raw_claim(&a, "wide", 21000, 10),
            raw_claim(&b, "one", 21002, 1),
            raw_claim(&b, "two", 21005, 1),
            raw_claim(&b, "far", 21100, 1),
            raw_claim(&a, "twice", 21200, 1),
            raw_claim(&a, "twice", 21300, 1),
        ],
    );
    let out = w.fails_in(&a, &["doctor", "--json"], 1);
    let problems = json(&stdout(&out));
    let overlapping: Vec<&str> = problems
        .as_array()
        .expect("array")
        .iter()
        .filter(|p| p["code"] == "overlap")
        .map(|p| p["claim"]["service"].as_str().expect("service"))
        .collect();
    assert_eq!(overlapping, ["one", "two"], "{problems}");
    let duplicates = codes(&problems)
        .iter()
        .filter(|c| *c == "duplicate-claim")
        .count();
    assert_eq!(duplicates, 1, "{problems}");
}

/// A registry that cannot be parsed is an environment failure: exit 3, with the finding.
#[test]
fn doctor_exits_3_on_a_corrupt_registry() {
    let w = World::new();
    std::fs::write(w.registry(), "{\"version\": 1, \"claims\": [").expect("write");
    let out = w.fails(&["doctor"], 3);
    assert!(
        stdout(&out).contains("registry-unreadable"),
        "{}",
        stdout(&out)
    );
    let out = w.fails(&["doctor", "--json"], 3);
    assert_eq!(codes(&json(&stdout(&out))), ["registry-unreadable"]);
    assert_eq!(
        std::fs::read_to_string(w.registry()).expect("read"),
        "{\"version\": 1, \"claims\": ["
    );
}

fn lease_keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    keys
}

/// A lease for a long-lived process is listed and can be ended by hand.
#[test]
fn leases_are_listed_and_released_by_port() {
    let w = World::new();
    let claimed = port(&w.ok(&["claim", "web"]));
    let child = crate::lifecycle::sleeper();
    let pid = child.0.id().to_string();
    let ports: Vec<u16> = w
        .ok(&["lease", "--pid", &pid, "--count", "2"])
        .split_whitespace()
        .map(port)
        .collect();
    assert_eq!(ports.len(), 2);

    let table = w.ok(&["list"]);
    let (claims_part, leases_part) = table.split_once("LEASES").expect("a LEASES table");
    assert!(claims_part.contains(&claimed.to_string()), "{table}");
    let lease_row = leases_part
        .lines()
        .find(|l| l.contains(&pid))
        .unwrap_or_else(|| panic!("no row for pid {pid}: {table}"));
    assert!(
        lease_row.contains(crate::lifecycle::SLEEPER_NAME)
            && lease_row.contains(&ports[0].to_string())
    );

    // `list --json` keeps its shape: claims only.
    let listed = json(&w.ok(&["list", "--json"]));
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert!(listed[0].get("service").is_some());

    let leases = json(&w.ok(&["list", "--leases", "--json"]));
    assert_eq!(leases.as_array().map(Vec::len), Some(1), "{leases}");
    assert_eq!(
        lease_keys(&leases[0]),
        ["expires", "pid", "port", "ports", "proto"]
    );
    assert_eq!(leases[0]["pid"].to_string(), pid);

    // The second port of the block names the lease too.
    let released = json(&w.ok(&["release", "--lease", &ports[1].to_string(), "--json"]));
    assert_eq!(
        released, leases,
        "release prints the lease as list shows it"
    );
    assert_eq!(w.registry_json()["leases"], serde_json::json!([]));
    assert_eq!(claim_count(&w), 1, "a claim went with the lease");

    let out = w
        .cmd(&["release", "--lease", &ports[0].to_string()])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        stderr(&out).contains("nothing to release"),
        "{}",
        stderr(&out)
    );
    let out = w
        .cmd(&["list", "--leases"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(stdout(&out).is_empty() && stderr(&out).contains("no live leases"));
    // Leases are not a project's: --here and --live do not combine with --leases.
    w.fails(&["list", "--leases", "--here"], 2);
}

/// A `.git` in a folder every user may write (someone else could have put it there) is not a
/// project root: unrelated folders below it do not merge into one project.
// Folder modes and owners: Unix by nature.
#[cfg(unix)]
#[test]
fn a_git_folder_in_a_world_writable_folder_is_not_a_project_root() {
    let w = World::new();
    let shared = w.dir.path().join("shared");
    std::fs::create_dir_all(shared.join(".git")).expect("mkdir");
    chmod(&shared, 0o1777);
    let (one, two) = (shared.join("v1"), shared.join("v2"));
    std::fs::create_dir_all(&one).expect("mkdir");
    std::fs::create_dir_all(&two).expect("mkdir");
    let a = json(&w.ok_at(&one, &["claim", "web", "--json"]));
    let b = json(&w.ok_at(&two, &["claim", "web", "--json"]));
    chmod(&shared, 0o700);
    assert_ne!(a["project_path"], b["project_path"]);
    assert_ne!(a["port"], b["port"]);
}
