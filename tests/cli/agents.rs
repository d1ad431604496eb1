//! Coding agents and test runners: the agent skill (skills/devport/SKILL.md), whose every
//! command runs here; and the recipes of docs/recipes.md for many checkouts at once (a
//! worktree set-up script, Conductor's scripts, Playwright's `webServer`), run with real git,
//! npm and `@playwright/test` in real git worktrees, beside a sibling checkout's server.
//! Every process a test starts runs in a process group of its own, killed when the test
//! ends (even on failure), and every server is stopped again with `devport kill --force`.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{World, bin, git, port, repo, require_tool, stderr, stdout};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The skill's text.
fn skill() -> String {
    read(&root().join("skills/devport/SKILL.md"))
}

/// The command lines of the fenced `sh` blocks of `text` (blank and comment lines left out),
/// each with the exit code it documents: `0`, or N when the line ends in `# exit N…`.
fn sh_commands(text: &str) -> Vec<(String, i32)> {
    let mut found = Vec::new();
    let mut in_sh = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        let trimmed = line.trim();
        if !in_sh || trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let expected = trimmed.split_once("  # exit ").map_or(0, |(_, rest)| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|code| code.parse().ok())
                .unwrap_or_else(|| panic!("`# exit` without a code: {trimmed}"))
        });
        found.push((trimmed.to_string(), expected));
    }
    found
}

/// The YAML front matter of the skill, its body, and the rules the skill format sets: a
/// `name` that is the folder's (lower case and `-`), and a `description` of at most 1024
/// characters that says when to use it.
#[test]
fn the_agent_skill_has_the_front_matter_agents_read() {
    let text = skill();
    let rest = text
        .strip_prefix("---\n")
        .expect("SKILL.md starts with YAML front matter");
    let (yaml, body) = rest.split_once("\n---\n").expect("the front matter ends");
    let meta: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).expect("front matter parses");
    assert_eq!(meta["name"].as_str(), Some("devport"));
    let description = meta["description"].as_str().expect("a description");
    assert!(
        description.len() <= 1024 && description.contains("Use "),
        "{description}"
    );
    assert!(
        body.trim_start().starts_with("# "),
        "a title after the front matter"
    );
    // Every runnable line is a devport command (a test script's `read … < <(devport …)`
    // included): no other tool's way of stopping a process is ever shown as one to run.
    let commands = sh_commands(&text);
    assert!(commands.len() >= 8, "{commands:?}");
    for (line, _) in &commands {
        assert!(
            line.starts_with("devport ") || line.contains("< <(devport "),
            "not a devport command: {line}"
        );
    }
    for needed in [
        "up --write ",
        "exec web --",
        "wait web --owned",
        "kill web",
        "check ",
    ] {
        assert!(
            commands.iter().any(|(line, _)| line.contains(needed)),
            "the skill shows no `devport {needed}`"
        );
    }
}

/// Processes started by a test, and the checkouts whose servers are stopped when it ends.
struct Cleanup {
    groups: Vec<i32>,
    checkouts: Vec<PathBuf>,
    registry: PathBuf,
    config: PathBuf,
}

impl Cleanup {
    fn new(w: &World) -> Cleanup {
        Cleanup {
            groups: Vec::new(),
            checkouts: Vec::new(),
            registry: w.registry(),
            config: w.config(),
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        // A server started by a program that made a process group of its own (Playwright
        // does) is outside the groups: devport stops what listens on each checkout's web port.
        for dir in &self.checkouts {
            let mut cmd = std::process::Command::new(bin());
            crate::support::clean_env(&mut cmd);
            let _ = cmd
                .env("DEVPORT_REGISTRY", &self.registry)
                .env("DEVPORT_CONFIG", &self.config)
                .current_dir(dir)
                .args(["kill", "web", "--force", "--timeout", "2s"])
                .output();
        }
        for &group in &self.groups {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(group),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// `bash -c LINE` in `dir`, in this world, with the binary under test first on PATH and
/// npm's cache under the target folder (kept between runs, so `npm install` downloads once).
fn bash(w: &World, dir: &Path, line: &str) -> std::process::Command {
    let path = format!(
        "{}:{}",
        bin().parent().expect("bin folder").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = w.program_in("bash", dir, &["-c", line]);
    cmd.env("PATH", path)
        .env(
            "npm_config_cache",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("npm-cache"),
        )
        .env("npm_config_update_notifier", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_audit", "false");
    cmd
}

/// Runs `line` in `dir` in a process group of its own (killed by `cleanup`), its output in
/// files (a server it starts in the background holds no pipe of ours), and fails the test
/// unless it exits with `expected` within 3 minutes. Returns (stdout, stderr).
fn run(
    w: &World,
    cleanup: &mut Cleanup,
    dir: &Path,
    line: &str,
    expected: i32,
) -> (String, String) {
    let out = w.dir.path().join("line.out");
    let err = w.dir.path().join("line.err");
    let mut child = bash(w, dir, line)
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .spawn()
        .expect("bash");
    let group = i32::try_from(child.id()).expect("a pid");
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "`{line}` ran for 3 minutes");
        std::thread::sleep(Duration::from_millis(20));
    };
    // A line that leaves a server running in the background leaves its group behind.
    if line.ends_with('&') {
        cleanup.groups.push(group);
    }
    let (out, err) = (read(&out), read(&err));
    assert_eq!(
        status.code(),
        Some(expected),
        "`{line}` in {}:\nstdout: {out}\nstderr: {err}",
        dir.display()
    );
    (out, err)
}

/// A file of examples/.
fn example(path: &str) -> String {
    read(&root().join("examples").join(path))
}

/// The tiny node server of examples/playwright and its package.json (`npm run dev`).
fn node_server() -> [(&'static str, String); 2] {
    [
        ("package.json", example("playwright/package.json")),
        ("server.js", example("playwright/server.js")),
    ]
}

/// What answers `GET /` on loopback port `p` (the node server answers with its folder).
fn get(p: u16) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", p))
        .unwrap_or_else(|e| panic!("nothing answers on port {p}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("request");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply");
    reply
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or(reply)
}

/// The dotenv variables of `dir`'s `.env`.
fn env_file(dir: &Path) -> std::collections::BTreeMap<String, String> {
    crate::support::dotenv(&read(&dir.join(".env")))
        .into_iter()
        .collect()
}

/// A sibling checkout's server: `devport exec web -- npm run dev` in `dir`, in the
/// background, then waited for. Returns its port.
fn sibling_server(w: &World, cleanup: &mut Cleanup, dir: &Path) -> u16 {
    run(
        w,
        cleanup,
        dir,
        "devport exec web -- npm run dev > dev-web.log 2>&1 &",
        0,
    );
    w.ok_at(dir, &["wait", "web", "--owned", "--timeout", "30s"]);
    port(&w.ok_at(dir, &["claim", "web"]))
}

/// Every command of the agent skill, run in order in a git worktree while a sibling
/// worktree's server runs (another agent's): each exits as the skill says, the checkout's
/// server serves on this checkout's port, and the sibling's server is never waited for,
/// reached or stopped; `devport kill` refuses it.
#[test]
#[ignore = "needs git and node (npm); .ci/run installs them"]
fn every_command_of_the_agent_skill_runs_beside_a_sibling_worktree() {
    require_tool("git", &["--version"]);
    require_tool("npm", &["--version"]);
    let w = World::new();
    let mut cleanup = Cleanup::new(&w);
    let mut files = node_server().to_vec();
    files.push((
        "devport.toml",
        "[services.web]\n\n[services.api]\n".to_string(),
    ));
    let main = repo(&w, "agent-shop", &files);
    git(
        &w,
        &main,
        &["worktree", "add", "-q", "../agent-shop-feature"],
    );
    let sibling = w.dir.path().join("agent-shop-feature");
    cleanup.checkouts = vec![main.clone(), sibling.clone()];
    let theirs = sibling_server(&w, &mut cleanup, &sibling);

    for (line, expected) in sh_commands(&skill()) {
        run(&w, &mut cleanup, &main, &line, expected);
    }

    let ours = port(&w.ok_at(&main, &["claim", "web"]));
    assert_ne!(ours, theirs, "two checkouts got one port");
    let vars = env_file(&main);
    assert_eq!(vars.get("WEB_PORT"), Some(&ours.to_string()), "{vars:?}");
    assert!(vars.contains_key("API_PORT"), "{vars:?}");
    // The server `exec` started served on this checkout's port, from this checkout, and
    // `devport kill web` stopped it.
    let log = read(&main.join("dev-web.log"));
    assert!(
        log.contains(&format!(
            "serving {} on http://127.0.0.1:{ours}",
            main.display()
        )),
        "{log}"
    );
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", ours)).is_ok(),
        "devport kill web left port {ours} busy"
    );
    // The sibling's server is untouched; from this checkout it is not ours to wait for or stop.
    assert_eq!(get(theirs), sibling.display().to_string());
    let p = theirs.to_string();
    w.fails_in(&main, &["wait", &p, "--owned", "--timeout", "1s"], 1);
    let refused = w.fails_in(&main, &["kill", &p], 1);
    assert!(
        stderr(&refused).contains("nothing was stopped"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(get(theirs), sibling.display().to_string());
}

/// Every line of some fenced block of docs/recipes.md that shows `file` is in `file`, in
/// order: the page shows the example as it is.
fn shown_in_recipes(file: &str) {
    let text = example(file);
    let page = read(&root().join("docs/recipes.md"));
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in page.lines() {
        if line.starts_with("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some(Vec::new()),
            }
        } else if let Some(block) = current.as_mut() {
            block.push(line);
        }
    }
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        blocks.iter().any(|block| !block.is_empty()
            && lines
                .windows(block.len())
                .any(|window| window == block.as_slice())),
        "no fenced block of docs/recipes.md shows examples/{file} as it is"
    );
}

/// A test of the recipe that `shown` (a file of examples/) is shown in: the tools it needs
/// (git, and npm when `npm`), the page showing the file as it is, a world and its cleanup.
fn recipe_test(shown: &str, npm: bool) -> (World, Cleanup) {
    require_tool("git", &["--version"]);
    if npm {
        require_tool("npm", &["--version"]);
    }
    shown_in_recipes(shown);
    let w = World::new();
    let cleanup = Cleanup::new(&w);
    (w, cleanup)
}

/// The worktree recipe (examples/new-worktree.sh): two new worktrees get ports of their own,
/// other than the main checkout's and each other's, the same again when `devport up` runs
/// again in any order.
#[test]
#[ignore = "needs git; .ci/run installs it"]
fn the_worktree_script_gives_each_worktree_stable_ports_of_its_own() {
    let (w, mut cleanup) = recipe_test("new-worktree.sh", false);
    let main = repo(
        &w,
        "wt-shop",
        &[(
            "devport.toml",
            "[services.web]\n\n[services.api]\n".to_string(),
        )],
    );
    run(&w, &mut cleanup, &main, "devport up --write-env .env", 0);
    let script = root().join("examples/new-worktree.sh");
    let mut checkouts = vec![main.clone()];
    for (branch, folder) in [("login", "login"), ("feature/billing", "feature-billing")] {
        let line = format!("bash {} {branch}", script.display());
        let (out, _) = run(&w, &mut cleanup, &main, &line, 0);
        let dir = w.dir.path().join(format!("wt-shop-{folder}"));
        assert!(out.contains("export WEB_PORT="), "{out}");
        checkouts.push(dir);
    }
    let first: Vec<_> = checkouts.iter().map(|dir| env_file(dir)).collect();
    let mut ports: Vec<&String> = first
        .iter()
        .flat_map(|vars| [&vars["WEB_PORT"], &vars["API_PORT"]])
        .collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 6, "three checkouts share a port: {first:?}");
    for dir in checkouts.iter().rev() {
        let before = read(&dir.join(".env"));
        run(&w, &mut cleanup, dir, "devport up --write-env .env", 0);
        assert_eq!(read(&dir.join(".env")), before, "{}", dir.display());
    }
}

/// The Conductor recipe (examples/conductor.json), its scripts run as Conductor runs them, in
/// two workspaces (git worktrees): `setup` writes each workspace's own ports into its `.env`,
/// `run` serves each on its own port at the same time, and `archive` gives back only its own
/// workspace's claims. A `.env` linked to the root checkout's is never written through.
#[test]
#[ignore = "needs git and node (npm); .ci/run installs them"]
fn conductor_scripts_give_each_workspace_its_own_ports() {
    let (w, mut cleanup) = recipe_test("conductor.json", true);
    let conductor: serde_json::Value =
        serde_json::from_str(&example("conductor.json")).expect("conductor.json");
    let script = |name: &str| {
        conductor["scripts"][name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} script"))
            .to_string()
    };
    let mut files = node_server().to_vec();
    files.push(("conductor.json", example("conductor.json")));
    files.push(("devport.toml", "[services.web]\n".to_string()));
    let main = repo(&w, "cond-shop", &files);
    let workspaces: Vec<PathBuf> = ["boston", "tokyo"]
        .iter()
        .map(|name| {
            let dir = w.dir.path().join("workspaces").join(name);
            git(
                &w,
                &main,
                &["worktree", "add", "-q", &dir.to_string_lossy()],
            );
            dir
        })
        .collect();
    cleanup.checkouts = workspaces.clone();
    let mut ports = Vec::new();
    for dir in &workspaces {
        run(&w, &mut cleanup, dir, &script("setup"), 0);
        let p = port(&w.ok_at(dir, &["claim", "web"]));
        assert_eq!(env_file(dir)["WEB_PORT"], p.to_string());
        ports.push(p);
    }
    assert_ne!(ports[0], ports[1]);
    // A workspace whose `.env` links to the root checkout's (as Conductor's docs suggest for a
    // shared `.env`): setup refuses (exit 3) rather than write this workspace's ports into the
    // root's file, and claims nothing.
    w.file(main.join(".env"), "SECRET=1\n");
    let linked = w.dir.path().join("workspaces/lisbon");
    git(
        &w,
        &main,
        &["worktree", "add", "-q", &linked.to_string_lossy()],
    );
    std::os::unix::fs::symlink(main.join(".env"), linked.join(".env")).expect("symlink");
    let (_, err) = run(&w, &mut cleanup, &linked, &script("setup"), 3);
    assert!(err.contains("outside"), "{err}");
    assert_eq!(read(&main.join(".env")), "SECRET=1\n");
    for (dir, &p) in workspaces.iter().zip(&ports) {
        let line = format!("{} > run.log 2>&1 &", script("run"));
        run(&w, &mut cleanup, dir, &line, 0);
        w.ok_at(dir, &["wait", "web", "--owned", "--timeout", "30s"]);
        assert_eq!(get(p), dir.display().to_string());
    }
    w.ok_at(&workspaces[0], &["kill", "web"]);
    run(&w, &mut cleanup, &workspaces[0], &script("archive"), 0);
    let left: serde_json::Value =
        serde_json::from_str(&w.ok_at(&main, &["list", "--json"])).expect("list --json");
    let paths: Vec<&str> = left
        .as_array()
        .expect("claims")
        .iter()
        .filter_map(|c| c["project_path"].as_str())
        .collect();
    assert_eq!(paths, [workspaces[1].to_string_lossy()], "{left}");
    assert_eq!(get(ports[1]), workspaces[1].display().to_string());
}

/// The Playwright recipe (examples/playwright): real `@playwright/test` from npm, a spec that
/// needs no browser. With a sibling worktree's server running on its own port, the tests
/// start and reach this checkout's server; a server of the sibling's on this checkout's port
/// is never tested by mistake (Playwright stops: "is already used"); this checkout's own
/// server, already running, is reused.
#[test]
#[ignore = "needs git and node (npm, and @playwright/test from the npm registry); .ci/run installs them"]
fn playwright_tests_this_checkouts_own_server() {
    let (w, mut cleanup) = recipe_test("playwright/playwright.config.js", true);
    let files: Vec<(&str, String)> = [
        "package.json",
        "server.js",
        "playwright.config.js",
        "tests/server.spec.js",
    ]
    .iter()
    .map(|f| (*f, example(&format!("playwright/{f}"))))
    .collect();
    w.dir("pw-shop/tests");
    let main = repo(&w, "pw-shop", &files);
    git(&w, &main, &["worktree", "add", "-q", "../pw-shop-feature"]);
    let sibling = w.dir.path().join("pw-shop-feature");
    cleanup.checkouts = vec![main.clone(), sibling.clone()];
    run(
        &w,
        &mut cleanup,
        &main,
        "npm install --prefer-offline --silent",
        0,
    );
    let theirs = sibling_server(&w, &mut cleanup, &sibling);

    // The recipe: Playwright starts this checkout's server on its port, tests it, stops it.
    let (out, _) = run(&w, &mut cleanup, &main, "npx playwright test", 0);
    assert!(out.contains("1 passed"), "{out}");
    let ours = port(&w.ok_at(&main, &["claim", "web"]));
    assert_ne!(ours, theirs);
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", ours)).is_ok(),
        "Playwright left its server running on {ours}"
    );

    // A server working in the sibling checkout, on this checkout's port: not reused.
    let squatter = format!("PORT={ours} npm run dev > squat.log 2>&1 &");
    run(&w, &mut cleanup, &sibling, &squatter, 0);
    w.ok_at(&main, &["wait", &ours.to_string(), "--timeout", "30s"]);
    let (out, err) = run(&w, &mut cleanup, &main, "npx playwright test", 1);
    assert!(
        err.contains("is already used") || out.contains("is already used"),
        "{out}\n{err}"
    );
    assert!(!out.contains("passed"), "{out}");
    assert_eq!(get(ours), sibling.display().to_string());
    w.ok_at(&sibling, &["kill", &ours.to_string()]);

    // This checkout's own server, already running: reused, and left running.
    run(
        &w,
        &mut cleanup,
        &main,
        "devport exec web -- npm run dev > dev-web.log 2>&1 &",
        0,
    );
    w.ok_at(&main, &["wait", "web", "--owned", "--timeout", "30s"]);
    let (out, _) = run(&w, &mut cleanup, &main, "npx playwright test", 0);
    assert!(out.contains("1 passed"), "{out}");
    assert_eq!(get(ours), main.display().to_string());
    assert_eq!(get(theirs), sibling.display().to_string());
    assert!(stdout(&w.cmd_in(&main, &["kill", "web"]).output().expect("kill")).contains("stopped"));
}
