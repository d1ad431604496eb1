//! Many checkouts of one project at once: the main git worktree, linked worktrees (`git
//! worktree add`) and a second clone, each with the same committed `devport.toml`. The pinned
//! `port`/`prefer` belong to the main checkout; the others get stable ports of their own.

use std::path::{Path, PathBuf};

use crate::support::{
    World, dotenv, free_port, git, key_pairs, policy_port, refused, repo, require_tool, stderr,
};

/// A port for `port =` (one the OS picked, free again when this returns) and one for
/// `prefer =` (one the policy hands out, as a preferred port must be), distinct.
fn two_ports(w: &World) -> (u16, u16) {
    let prefer = policy_port(w, "scratch");
    let exact = std::iter::repeat_with(free_port)
        .find(|&p| p != prefer)
        .expect("a second port");
    (exact, prefer)
}

/// The repository `app` with `manifest` committed, two linked worktrees (`feature-x`,
/// `feature-y`) and a second clone (`app-clone`): main first.
fn checkouts(w: &World, manifest: &str) -> Vec<PathBuf> {
    let main = repo(w, "app", &[("devport.toml", manifest.to_string())]);
    git(w, &main, &["worktree", "add", "-q", "../feature-x"]);
    git(w, &main, &["worktree", "add", "-q", "../feature-y"]);
    git(w, w.dir.path(), &["clone", "-q", "app", "app-clone"]);
    ["app", "feature-x", "feature-y", "app-clone"]
        .iter()
        .map(|name| std::fs::canonicalize(w.dir.path().join(name)).expect("checkout"))
        .collect()
}

/// `devport up` in `dir`: its `DB_PORT` and `WEB_PORT`, and its stderr lines that say a checkout
/// leaves a port to the main checkout.
fn up(w: &World, dir: &Path) -> ((u16, u16), Vec<String>) {
    let out = w
        .cmd_in(dir, &["up", "--format", "dotenv"])
        .assert()
        .success()
        .get_output()
        .clone();
    let get = |name: &str| port_var(&out, name);
    let notes = stderr(&out)
        .lines()
        .filter(|l| l.contains("checkout"))
        .map(str::to_string)
        .collect();
    ((get("DB_PORT"), get("WEB_PORT")), notes)
}

/// The port in the variable `name` of the dotenv lines `out` printed.
fn port_var(out: &std::process::Output, name: &str) -> u16 {
    let vars = dotenv(&String::from_utf8_lossy(&out.stdout));
    vars.iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} in {vars:?}"))
}

/// The pinned ports go to the main checkout whoever runs `up` first; each worktree and the
/// second clone get ports of their own, distinct, never the pinned ones, the same when `up`
/// runs again in another order; each says so in one line per service.
#[test]
#[ignore = "needs git; .ci/run installs it"]
fn pinned_ports_go_to_the_main_checkout_and_siblings_get_their_own() {
    require_tool("git", &["--version"]);
    let w = World::new();
    let (db, web) = two_ports(&w);
    let dirs = checkouts(
        &w,
        &format!("name = \"app\"\n[services.db]\nport = {db}\n[services.web]\nprefer = {web}\n"),
    );
    let (main, x, y, clone) = (&dirs[0], &dirs[1], &dirs[2], &dirs[3]);
    // A worktree first: it leaves the pinned ports alone even before the main checkout claims.
    let first: Vec<((u16, u16), Vec<String>)> =
        [x, main, y, clone].iter().map(|d| up(&w, d)).collect();
    let ports: Vec<(u16, u16)> = first.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        ports[1],
        (db, web),
        "the main checkout gets the pinned ports"
    );
    let mut all: Vec<u16> = ports.iter().flat_map(|&(a, b)| [a, b]).collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(
        all.len(),
        8,
        "every checkout's ports are its own: {ports:?}"
    );
    assert!(first[1].1.is_empty(), "{:?}", first[1].1);
    for ((name, (got_db, got_web)), (_, notes)) in ["feature-x", "feature-y", "app-clone"]
        .iter()
        .zip([ports[0], ports[2], ports[3]])
        .zip([&first[0], &first[2], &first[3]])
    {
        assert_eq!(
            notes,
            &vec![
                format!(
                    "devport: db: port {db} is for the main checkout ({}); this checkout ({name}) uses {got_db}",
                    main.display()
                ),
                format!(
                    "devport: web: port {web} is for the main checkout ({}); this checkout ({name}) uses {got_web}",
                    main.display()
                ),
            ]
        );
    }
    // Again, in another order: nothing moves.
    for (i, dir) in [clone, y, main, x].iter().enumerate() {
        let again = up(&w, dir).0;
        assert_eq!(again, ports[[3, 2, 1, 0][i]], "{}", dir.display());
    }
    // `env`, `claim` and `exec` in a worktree say it too, one line for the service.
    let note = format!(
        "devport: db: port {db} is for the main checkout ({}); this checkout (feature-x) uses {}",
        main.display(),
        ports[0].0
    );
    for args in [
        &["env"][..],
        &["claim", "db"],
        &["exec", "db", "--", "true"],
    ] {
        let out = w.cmd_in(x, args).assert().success().get_output().clone();
        let notes: Vec<String> = stderr(&out)
            .lines()
            .filter(|l| l.contains("db: port"))
            .map(str::to_string)
            .collect();
        assert_eq!(notes, std::slice::from_ref(&note), "{args:?}");
    }
    // `claim --port` is what the user asked for: refused as before, no note.
    let out = w.fails_in(x, &["claim", "db", "--port", &db.to_string()], 1);
    assert!(!stderr(&out).contains("main checkout"), "{}", stderr(&out));
}

/// `strict = true`: a linked worktree never takes the port, even when it runs first: `up`,
/// `exec` and a plain `claim` refuse the service there in one line (exit 1) and claim nothing,
/// and `env` refuses it too, so the main checkout gets the port whatever the order. A second
/// clone whose sibling holds it is refused as before.
#[test]
#[ignore = "needs git; .ci/run installs it"]
fn a_strict_port_is_never_taken_by_a_worktree() {
    require_tool("git", &["--version"]);
    let w = World::new();
    let (db, _) = two_ports(&w);
    let dirs = checkouts(
        &w,
        &format!("name = \"app\"\n[services.db]\nport = {db}\nstrict = true\n[services.web]\n"),
    );
    let refusal = format!(
        "port {db} of db is strict = true in devport.toml: only the main checkout ({}) uses it; run db there, or remove `strict` to give this worktree a port of its own",
        dirs[0].display()
    );
    // The worktree first: refused in one line, nothing claimed.
    assert_eq!(
        refused(&w, &dirs[1], &["up"], 1),
        format!(
            "devport: {}/devport.toml: line 2, column 11: [services.db]: {refusal}; nothing was claimed",
            dirs[1].display()
        )
    );
    let exec = ["exec", "db", "--", "true"];
    assert_eq!(
        refused(&w, &dirs[1], &exec, 1),
        format!("devport: {refusal}")
    );
    assert_eq!(
        refused(&w, &dirs[1], &["claim", "db"], 1),
        format!("devport: {refusal}")
    );
    // Another service is the worktree's own; `env` refuses the strict one.
    w.ok_at(&dirs[1], &["exec", "web", "--", "true"]);
    assert_eq!(
        refused(&w, &dirs[1], &["env"], 1),
        format!("devport: {refusal}")
    );
    // The main checkout gets the port; the worktree is still refused; the clone conflicts.
    assert_eq!(up(&w, &dirs[0]).0.0, db);
    w.fails_in(&dirs[1], &["up"], 1);
    let out = w.fails_in(&dirs[3], &["up"], 1);
    assert!(
        stderr(&out).contains(&format!(
            "port {db} is claimed by app/db; run 'devport release db' in {}",
            dirs[0].display()
        )),
        "{}",
        stderr(&out)
    );
}

/// Two checkouts that are not linked worktrees (the main one and a second clone) run `up` at
/// the same moment: both succeed, as if one had run after the other: one holds the pinned
/// port, the other a port of its own and the note that says so. Ten fresh pairs, no port twice.
#[test]
fn a_race_for_a_pinned_port_ends_as_one_after_the_other() {
    let w = World::new();
    let mut seen = Vec::new();
    for i in 0..10 {
        let pin = (0..20)
            .map(|j| policy_port(&w, &format!("scratch{i}-{j}")))
            .find(|p| !seen.contains(p))
            .expect("a port");
        let pair: Vec<PathBuf> = [format!("race{i}"), format!("race{i}-c")]
            .iter()
            .map(|name| {
                let dir = w.project(name);
                w.manifest(
                    &dir,
                    format!("name = \"race{i}\"\n[services.db]\nport = {pin}\n"),
                );
                std::fs::canonicalize(dir).expect("folder")
            })
            .collect();
        let children: Vec<std::process::Child> = pair
            .iter()
            .map(|dir| {
                w.std_cmd_in(dir, &["up", "--format", "dotenv"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn devport up")
            })
            .collect();
        let outs: Vec<std::process::Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().expect("devport up"))
            .collect();
        let ports: Vec<u16> = outs
            .iter()
            .map(|out| {
                assert!(out.status.success(), "{i}: {}", stderr(out));
                port_var(out, "DB_PORT")
            })
            .collect();
        let winner = ports
            .iter()
            .position(|&p| p == pin)
            .unwrap_or_else(|| panic!("{i}: nobody holds the pinned port {pin}: {ports:?}"));
        let loser = 1 - winner;
        assert_ne!(ports[loser], pin);
        assert!(
            stderr(&outs[winner]).is_empty(),
            "{}",
            stderr(&outs[winner])
        );
        let name = pair[loser].file_name().expect("name").to_string_lossy();
        assert_eq!(
            stderr(&outs[loser]),
            format!(
                "devport: db: port {pin} is for the main checkout ({}); this checkout ({name}) uses {}",
                pair[winner].display(),
                ports[loser]
            )
        );
        seen.extend(ports);
    }
    let mut distinct = seen.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), seen.len(), "a port given twice: {seen:?}");
}

/// Which checkout is which: `list` shows a CHECKOUT column (and `--json` and `check --json` a
/// `checkout`): `main`, each worktree's id, the second clone's folder; `export` names each
/// checkout's hosts `SERVICE.CHECKOUT.PROJECT.localhost` (the main one's without it);
/// `{checkout}` gives each its own Compose project; and once a worktree is removed, `gc` ends
/// its claims.
#[test]
#[ignore = "needs git; .ci/run installs it"]
fn each_checkout_has_a_name_in_list_check_export_and_env() {
    require_tool("git", &["--version"]);
    let w = World::new();
    let (db, web) = two_ports(&w);
    let dirs = checkouts(
        &w,
        &format!(
            "name = \"app\"\n[services.db]\nport = {db}\nhttp = false\n[services.web]\nprefer = {web}\n[env]\nCOMPOSE_PROJECT_NAME = \"{{project}}-{{checkout}}\"\n"
        ),
    );
    let names = ["main", "feature-x", "feature-y", "app-clone"];
    let mut webs = Vec::new();
    for dir in &dirs {
        w.trust(dir);
        webs.push(up(&w, dir).0.1);
    }
    // `{checkout}` in `[env]`: one Compose project per checkout.
    for (dir, name) in dirs.iter().zip(names) {
        let vars = dotenv(&w.ok_at(dir, &["env", "--format", "dotenv"]));
        assert!(
            vars.contains(&("COMPOSE_PROJECT_NAME".into(), format!("app-{name}"))),
            "{vars:?}"
        );
    }
    // `list --json`: every claim's checkout; the table has a CHECKOUT column.
    let listed: serde_json::Value =
        serde_json::from_str(&w.ok_at(&dirs[0], &["list", "--json"])).expect("JSON");
    for (dir, name) in dirs.iter().zip(names) {
        let path = dir.to_str().expect("UTF-8");
        let of_dir: Vec<&serde_json::Value> = listed
            .as_array()
            .expect("claims")
            .iter()
            .filter(|c| c["project_path"] == path)
            .collect();
        assert_eq!(of_dir.len(), 2, "{listed}");
        assert!(of_dir.iter().all(|c| c["checkout"] == name), "{listed}");
    }
    let table = w.ok_at(&dirs[1], &["list"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .expect("header")
        .split_whitespace()
        .collect();
    assert_eq!(
        &header[..4],
        ["PORT", "SERVICE", "PROJECT", "CHECKOUT"],
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.contains(&webs[1].to_string()) && l.contains(" feature-x ")),
        "{table}"
    );
    // `check`: the checkout of the claim on the port.
    // (Exit 1: a claimed port is not one `claim` would hand out.)
    let out = w.fails_in(&dirs[0], &["check", &webs[1].to_string(), "--json"], 1);
    let check: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(check[0]["checkout"], "feature-x", "{check}");
    // `export`: readable host names per checkout, no hash.
    let routes: serde_json::Value =
        serde_json::from_str(&w.ok_at(&dirs[0], &["export", "caddy", "--all", "--json"]))
            .expect("JSON");
    let hosts: std::collections::BTreeMap<&str, u64> = routes
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| {
            (
                r["host"].as_str().expect("host"),
                r["port"].as_u64().expect("port"),
            )
        })
        .collect();
    let want: std::collections::BTreeMap<&str, u64> = [
        "web.app.localhost",
        "web.feature-x.app.localhost",
        "web.feature-y.app.localhost",
        "web.app-clone.app.localhost",
    ]
    .into_iter()
    .zip(webs.iter().map(|&p| u64::from(p)))
    .collect();
    assert_eq!(hosts, want);
    // Exported alone, a worktree's names are the same.
    let alone: serde_json::Value =
        serde_json::from_str(&w.ok_at(&dirs[1], &["export", "caddy", "--json"])).expect("JSON");
    assert_eq!(alone[0]["host"], "web.feature-x.app.localhost", "{alone}");
    // A removed worktree: `gc` ends its claims, and only its.
    git(&w, &dirs[0], &["worktree", "remove", "../feature-y"]);
    let out = w.ok_at(&dirs[0], &["gc"]);
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("removed claim app/") && l.ends_with(": its folder is gone"))
            .count(),
        2,
        "{out}"
    );
    let left: serde_json::Value =
        serde_json::from_str(&w.ok_at(&dirs[0], &["list", "--json"])).expect("JSON");
    let left = left.as_array().expect("claims");
    assert_eq!(left.len(), 6, "{left:?}");
    let gone = dirs[2].to_str().expect("UTF-8");
    assert!(left.iter().all(|c| c["project_path"] != gone), "{left:?}");
}

/// The compose recipe of docs/recipes.md: `COMPOSE_PROJECT_NAME = "{project}-{checkout}"`,
/// written into each checkout's `.env` by `up --write-env`, is what `docker-compose config`
/// reads there: `shop-main` in the main checkout, `shop-login` in the worktree `login`.
#[test]
#[ignore = "needs git and docker-compose (Debian's packages; .ci/run installs them)"]
fn each_worktree_gets_its_own_compose_project() {
    require_tool("git", &["--version"]);
    require_tool("docker-compose", &["version"]);
    let w = World::new();
    let main = repo(
        &w,
        "shop",
        &[
            (
                "devport.toml",
                "name = \"shop\"\n[services.web]\n[env]\nCOMPOSE_PROJECT_NAME = \"{project}-{checkout}\"\n"
                    .to_string(),
            ),
            (
                "docker-compose.yml",
                "services:\n  app:\n    image: alpine\n    container_name: ${COMPOSE_PROJECT_NAME:?run devport up --write-env .env}-app\n    ports:\n      - \"127.0.0.1:${WEB_PORT}:80\"\n".to_string(),
            ),
        ],
    );
    git(&w, &main, &["worktree", "add", "-q", "../login"]);
    let login = w.dir.path().join("login");
    for (dir, name) in [(&main, "shop-main"), (&login, "shop-login")] {
        w.trust(dir);
        w.ok_at(dir, &["up", "--write-env", ".env"]);
        let out = w
            .program_in("docker-compose", dir, &["config"])
            .output()
            .expect("docker-compose is needed for this test");
        assert!(out.status.success(), "{}", stderr(&out));
        let config: serde_yaml_ng::Value =
            serde_yaml_ng::from_slice(&out.stdout).expect("compose prints YAML");
        assert_eq!(
            config["services"]["app"]["container_name"].as_str(),
            Some(format!("{name}-app").as_str()),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// `claim --port` is what the user asked for, in a worktree too: it takes the pinned port, and
/// the main checkout is then refused as before (a worktree is never taken for the main
/// checkout), rather than moved.
#[test]
#[ignore = "needs git; .ci/run installs it"]
fn a_port_a_worktree_took_with_claim_port_stays_a_conflict() {
    require_tool("git", &["--version"]);
    let w = World::new();
    let (db, _) = two_ports(&w);
    let dirs = checkouts(&w, &format!("name = \"app\"\n[services.db]\nport = {db}\n"));
    assert_eq!(
        w.ok_at(&dirs[1], &["claim", "db", "--port", &db.to_string()]),
        db.to_string()
    );
    let out = w.fails_in(&dirs[0], &["up"], 1);
    assert!(
        stderr(&out).contains(&format!(
            "port {db} is claimed by app/db; run 'devport release db' in {}",
            dirs[1].display()
        )),
        "{}",
        stderr(&out)
    );
}

/// Checkout names stay as other checkouts come and go: three copies of `jam` (folders with the
/// same manifest, no git needed) are `main`, `jam` and `jam-2`; when the second ends its claims
/// the third keeps `jam-2`, and when the main one ends its claims and claims again it is `main`
/// again — names are kept with the claims, not worked out anew from their ages.
#[test]
fn checkout_names_stay_as_other_checkouts_come_and_go() {
    let w = World::new();
    let copies: Vec<PathBuf> = ["c1/jam", "c2/jam", "c3/jam"]
        .iter()
        .map(|folder| {
            let dir = w.dir(folder);
            w.manifest(&dir, "name = \"jam\"\n[services.web]\n");
            std::fs::canonicalize(dir).expect("canonical")
        })
        .collect();
    let names = || {
        let list: serde_json::Value =
            serde_json::from_str(&w.ok(&["list", "--json"])).expect("json");
        key_pairs(&list, "project_path", "checkout")
    };
    let expected = |pairs: &[(usize, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|&(i, name)| (copies[i].display().to_string(), name.to_string()))
            .collect()
    };
    for dir in &copies {
        w.ok_at(dir, &["up"]);
    }
    assert_eq!(names(), expected(&[(0, "main"), (1, "jam"), (2, "jam-2")]));
    w.ok_at(&copies[1], &["release", "--all"]);
    assert_eq!(names(), expected(&[(0, "main"), (2, "jam-2")]));
    w.ok_at(&copies[0], &["release", "--all"]);
    w.ok_at(&copies[0], &["up"]);
    assert_eq!(names(), expected(&[(0, "main"), (2, "jam-2")]));
    w.ok_at(&copies[1], &["up"]);
    assert_eq!(names(), expected(&[(0, "main"), (1, "jam"), (2, "jam-2")]));
}

/// The repository `app` whose committed manifest has no `name`: `db` pinned to a free port,
/// then `more`. The port and the main checkout's folder.
fn unnamed_app(w: &World, more: &str) -> (u16, PathBuf) {
    require_tool("git", &["--version"]);
    let (db, _) = two_ports(w);
    let manifest = format!("[services.db]\nport = {db}\n{more}");
    (db, repo(w, "app", &[("devport.toml", manifest)]))
}

/// A linked worktree in a folder of another name is a checkout of its main worktree's project
/// when the manifest has no `name`: the same project in `list`, `{project}` its name, the
/// pinned port left to the main checkout.
#[test]
#[ignore = "needs git; .ci/run installs it"]
fn a_worktree_without_a_manifest_name_goes_by_its_main_worktrees_name() {
    let w = World::new();
    let (db, main) = unnamed_app(
        &w,
        "[services.web]\n[env]\nNAME = \"{project}-{checkout}\"\n",
    );
    git(&w, &main, &["worktree", "add", "-q", "../login"]);
    let login = w.dir.path().join("login");
    w.trust(&main);
    w.trust(&login);
    assert_eq!(up(&w, &main).0.0, db);
    let ((login_db, _), notes) = up(&w, &login);
    assert_ne!(login_db, db);
    assert_eq!(notes.len(), 1, "{notes:?}");
    let vars = dotenv(&w.ok_at(&login, &["up", "--format", "dotenv"]));
    assert!(
        vars.contains(&("NAME".into(), "app-login".into())),
        "{vars:?}"
    );
    let list: serde_json::Value =
        serde_json::from_str(&w.ok(&["list", "--json"])).expect("list --json");
    assert_eq!(
        key_pairs(&list, "project", "checkout"),
        [
            ("app".into(), "login".into()),
            ("app".into(), "login".into()),
            ("app".into(), "main".into()),
            ("app".into(), "main".into())
        ]
    );
}

/// A second clone in a folder of another name is another project when the manifest has no
/// `name`: its `up` is refused the pinned port, and the message says how to make the clones
/// checkouts of one project; followed, `up` gives the clone a port of its own. A manifest with
/// a `name` gets no such advice (another project is another project).
#[test]
#[ignore = "needs git; .ci/run installs it"]
fn a_clone_of_another_folder_name_is_told_to_name_the_project() {
    let w = World::new();
    let (db, main) = unnamed_app(&w, "");
    git(&w, w.dir.path(), &["clone", "-q", "app", "shop-2"]);
    let clone = w.dir.path().join("shop-2");
    w.ok_at(&main, &["up"]);
    let err = refused(&w, &clone, &["up"], 1);
    let main = std::fs::canonicalize(&main).expect("main");
    assert!(
        err.ends_with(&format!(
            "if {} is another clone of this project, add name = \"app\" to this devport.toml: clones with one name are checkouts of one project, and each other checkout gets a port of its own; nothing was claimed",
            main.display()
        )),
        "{err}"
    );
    // `claim --port` asks for the port itself, not the manifest's: no advice about clones.
    let err = refused(&w, &clone, &["claim", "db", "--port", &db.to_string()], 1);
    assert!(!err.contains("clone"), "{err}");
    w.file(
        clone.join("devport.toml"),
        format!("name = \"app\"\n[services.db]\nport = {db}\n"),
    );
    let vars = dotenv(&w.ok_at(&clone, &["up", "--format", "dotenv"]));
    let clone_db: u16 = vars[0].1.parse().expect("a port");
    assert_ne!(clone_db, db, "{vars:?}");
    // Named, the clone's manifest makes a conflict with another project a plain one.
    w.file(
        clone.join("devport.toml"),
        format!("name = \"other\"\n[services.db]\nport = {db}\n"),
    );
    let err = refused(&w, &clone, &["up"], 1);
    assert!(!err.contains("clone"), "{err}");
}
