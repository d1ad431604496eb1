//! Whose a port is: every holder of a shared socket is listed and judged, another user's
//! process is never the project's (root's devport included), and a process's own folder
//! decides, not an ancestor's. Real python3 listeners on loopback ports the OS picked, each
//! run in its own process group, which is killed when the test ends (even on failure).

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use serde_json::json;

use crate::support::{World, claim_port, first_line, json_of, stderr, stdout};

/// A child started in a process group of its own; the whole group is killed and the child
/// reaped on drop, so no grandchild outlives the test.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.0.wait();
    }
}

/// Spawns `cmd` in a new process group, its stdout piped, and reads its first line.
fn spawn(cmd: &mut Command) -> (Group, String) {
    let mut child = Group(
        cmd.process_group(0)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 is needed for this test"),
    );
    let line = first_line(&mut child.0);
    (child, line)
}

/// Whether process `pid` is still running (and not a zombie).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// The pids in a SOCKET's `holders`.
fn holder_pids(socket: &Value) -> Vec<u64> {
    socket["holders"]
        .as_array()
        .map(|hs| hs.iter().filter_map(|h| h["pid"].as_u64()).collect())
        .unwrap_or_default()
}

/// `audit --json`'s row for port `p`, and the exit code.
fn audit_row(w: &World, dir: &Path, p: u16) -> (Value, Option<i32>) {
    let out = w.cmd_in(dir, &["audit", "--json"]).output().expect("audit");
    let rows = json_of(&out);
    let row = rows
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["port"] == json!(p)))
        .unwrap_or_else(|| panic!("no row for port {p}: {rows}"))
        .clone();
    (row, out.status.code())
}

/// A "systemd" (python3 renamed with `prctl`, working in `/`) that opens a listening socket
/// on a loopback port and hands it to a python3 child working in `project` (an inherited
/// descriptor, as socket activation does). Returns the group, the parent's and the child's
/// pids, and the port.
fn socket_activation(project: &Path) -> (Group, u32, u32, u16) {
    let script = "import ctypes, socket, subprocess, sys, time\n\
        ctypes.CDLL(None).prctl(15, b'systemd', 0, 0, 0)\n\
        s = socket.socket()\n\
        s.bind(('127.0.0.1', 0))\n\
        s.listen()\n\
        child = subprocess.Popen([sys.executable, '-c', 'import ctypes, time; ctypes.CDLL(None).prctl(1, 9, 0, 0, 0); time.sleep(120)'], cwd=sys.argv[1], pass_fds=[s.fileno()])\n\
        time.sleep(0.3)\n\
        print(s.getsockname()[1], child.pid, flush=True)\n\
        time.sleep(120)\n";
    let (group, line) = spawn(
        Command::new("python3")
            .args(["-c", script])
            .arg(project)
            .current_dir("/"),
    );
    let mut words = line.split_whitespace().map(|w| w.parse::<u32>().ok());
    let (Some(Some(p)), Some(Some(child))) = (words.next(), words.next()) else {
        panic!("not a port and a pid: {line:?}");
    };
    let parent = group.0.id();
    (group, parent, child, u16::try_from(p).expect("a port"))
}

/// A server started from `shop` through two shells that change to `../blog` first: the
/// shells work in `shop`, the server in `blog`. Returns the group, the server's port and the
/// canonical `blog` folder.
fn started_from_shop_working_in_blog(w: &World) -> (Group, u16, PathBuf) {
    let shop = w.project("shop");
    let blog = std::fs::canonicalize(w.project("blog")).expect("canonical");
    let server = w.dir.path().join("server.py");
    w.file(
        &server,
        "import socket, time\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\n\
         print(s.getsockname()[1], flush=True)\ntime.sleep(120)\n",
    );
    // `; true` keeps each shell from replacing itself with its last command.
    let (group, line) = spawn(
        Command::new("sh")
            .args([
                "-c",
                "sh -c 'cd ../blog && python3 \"$0\"; true' \"$0\"; true",
            ])
            .arg(&server)
            .current_dir(&shop),
    );
    let p = line.parse().unwrap_or_else(|e| panic!("{line:?}: {e}"));
    (group, p, blog)
}

/// A python3 listener on a loopback port, run as the user nobody, working in `dir`.
fn nobody_listener(dir: &Path) -> (Group, u16) {
    let (group, line) = spawn(
        Command::new("python3")
            .args([
                "-c",
                "import socket, time\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\n\
                 print(s.getsockname()[1], flush=True)\ntime.sleep(120)\n",
            ])
            .current_dir(dir)
            .uid(65534)
            .gid(65534),
    );
    (
        group,
        line.parse().unwrap_or_else(|e| panic!("{line:?}: {e}")),
    )
}

#[test]
fn a_shared_socket_lists_every_holder_and_kill_refuses_unless_all_are_the_projects() {
    let w = World::new();
    let shop = w.project("shop");
    let (_group, parent, child, p) = socket_activation(&shop);
    claim_port(&w, p);

    // kill: refused, naming both, and neither is signalled.
    let out = w.fails_in(&shop, &["kill", "web", "--timeout", "1s"], 1);
    let err = stderr(&out);
    // Both named, lowest pid first (pids wrap around: the child's may be the lower).
    let named = if parent < child {
        format!("is held by pid {parent} (systemd) and pid {child} (")
    } else {
        format!("is held by pid {child} (")
    };
    assert!(
        err.contains(&named)
            && err.contains(&format!(" and pid {}", parent.max(child)))
            && err.contains(&format!("pid {parent} (systemd) works in /, not in "))
            && err.contains("; nothing was stopped; "),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
    std::thread::sleep(Duration::from_millis(200));
    assert!(running(parent) && running(child), "a holder was signalled");

    // check, audit and list --live list both holders, in JSON and in text.
    let both = vec![u64::from(parent.min(child)), u64::from(parent.max(child))];
    let check = json_of(
        &w.cmd_in(&shop, &["check", &p.to_string(), "--json"])
            .output()
            .expect("check"),
    );
    assert_eq!(holder_pids(&check[0]["sockets"][0]), both, "{check}");
    assert_eq!(check[0]["finding"], "conflict", "{check}");
    let (row, code) = audit_row(&w, &shop, p);
    assert_eq!(holder_pids(&row), both, "{row}");
    assert_eq!((row["finding"].as_str(), code), (Some("conflict"), Some(1)));
    let list = json_of(
        &w.cmd_in(&shop, &["list", "--live", "--json"])
            .output()
            .expect("list"),
    );
    assert_eq!(holder_pids(&list[0]["live"][0]), both, "{list}");
    let text = stdout(
        &w.cmd_in(&shop, &["check", &p.to_string()])
            .output()
            .expect("check"),
    );
    assert!(
        text.contains(&format!("pid {parent} (systemd)"))
            && text.contains(&format!("pid {child} (")),
        "{text}"
    );
    assert!(running(parent) && running(child));
}

#[test]
fn the_process_s_own_folder_decides_not_an_ancestor_s() {
    let w = World::new();
    let shop = w.project("shop");
    let (_group, p, blog) = started_from_shop_working_in_blog(&w);
    claim_port(&w, p);
    let out = w.fails_in(&shop, &["wait", "web", "--owned", "--timeout", "1s"], 1);
    assert!(
        stderr(&out).contains(&format!(") works in {}, not in ", blog.display())),
        "{}",
        stderr(&out)
    );
    let (row, code) = audit_row(&w, &shop, p);
    assert_eq!(
        (row["finding"].as_str(), code),
        (Some("conflict"), Some(1)),
        "{row}"
    );
    let doctor = json_of(
        &w.cmd_in(&shop, &["doctor", "--json"])
            .output()
            .expect("doctor"),
    );
    assert!(
        doctor
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["code"] == "bound-by-other")),
        "{doctor}"
    );
    // kill, run in `blog`, is not refused for the folder: `web` is not claimed there, but the
    // port is blog's own server's.
    let blog_kill = w
        .cmd_in(&blog, &["kill", &p.to_string(), "--dry-run"])
        .output()
        .expect("kill");
    assert_eq!(blog_kill.status.code(), Some(0), "{}", stderr(&blog_kill));
    // …and from `shop` it is refused.
    let out = w.fails_in(&shop, &["kill", &p.to_string(), "--dry-run"], 1);
    assert!(stderr(&out).contains("works in"), "{}", stderr(&out));
}

#[test]
#[ignore = "needs root: a listener run as the user nobody, and devport run as nobody"]
fn another_users_socket_on_a_claim_is_a_conflict_for_root_too() {
    let w = World::new();
    let shop = w.project("shop");
    std::fs::set_permissions(
        w.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o711),
    )
    .expect("open the world for traversal");
    // nobody's server, started inside root's project.
    let (server, p) = nobody_listener(&shop);
    claim_port(&w, p);
    let (row, code) = audit_row(&w, &shop, p);
    assert_eq!(
        (row["finding"].as_str(), code),
        (Some("conflict"), Some(1)),
        "{row}"
    );
    let doctor = w
        .cmd_in(&shop, &["doctor", "--json"])
        .output()
        .expect("doctor");
    let problems = json_of(&doctor);
    let bound = problems
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["code"] == "bound-by-other"))
        .unwrap_or_else(|| panic!("no bound-by-other: {problems}"));
    assert!(
        bound["message"]
            .as_str()
            .is_some_and(|m| m.contains("runs as user nobody, not as you")),
        "{bound}"
    );
    let check = json_of(
        &w.cmd_in(&shop, &["check", &p.to_string(), "--json"])
            .output()
            .expect("check"),
    );
    assert_eq!(check[0]["finding"], "conflict", "{check}");
    let text = stdout(
        &w.cmd_in(&shop, &["check", &p.to_string()])
            .output()
            .expect("check"),
    );
    assert!(text.contains("owner     conflict: pid "), "{text}");
    let out = w.fails_in(&shop, &["wait", "web", "--owned", "--timeout", "1s"], 1);
    assert!(
        stderr(&out).contains("runs as user nobody, not as you"),
        "{}",
        stderr(&out)
    );
    assert!(running(server.0.id()));

    // The other way round: root's server on nobody's claim, which nobody cannot see.
    let w = World::new();
    let shop = w.project("shop");
    let root_server = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let p = root_server.local_addr().expect("addr").port();
    let registry = w.registry();
    let state = w.dir.path().join("state");
    let as_nobody = |args: &[&str]| {
        let mut cmd = w.std_cmd_in(&shop, args);
        crate::support::run_as_nobody(&mut cmd, &w, &[&shop, &shop.join(".git"), &state]);
        cmd.output().expect("run devport as nobody")
    };
    let out = as_nobody(&["claim", "web"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut reg: Value =
        serde_json::from_slice(&std::fs::read(&registry).expect("registry")).expect("JSON");
    reg["claims"][0]["port"] = json!(p);
    w.file(&registry, reg.to_string());
    let out = as_nobody(&["audit", "--json"]);
    let rows = json_of(&out);
    let row = rows
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["port"] == json!(p)))
        .unwrap_or_else(|| panic!("no row for port {p}: {rows}"));
    assert_eq!(
        (row["finding"].as_str(), out.status.code()),
        (Some("conflict"), Some(1)),
        "{row}"
    );
    drop(root_server);
}

/// Red team 2, finding 3: a server whose main thread exited (`pthread_exit`) while another
/// thread runs shows no descriptors and no folder of its own in `/proc/PID`: it was "owner not
/// visible", and `audit` said ok though it works in `blog`. Its other thread's show them.
#[test]
fn a_server_whose_main_thread_exited_is_still_seen() {
    let w = World::new();
    let shop = w.project("shop");
    let blog = std::fs::canonicalize(w.project("blog")).expect("canonical");
    let (group, line) = spawn(
        Command::new("python3")
            .args([
                "-c",
                "import ctypes, socket, threading, time\n\
                 s = socket.socket()\n\
                 s.bind(('127.0.0.1', 0))\n\
                 s.listen()\n\
                 threading.Thread(target=lambda: time.sleep(120)).start()\n\
                 print(s.getsockname()[1], flush=True)\n\
                 ctypes.CDLL(None).pthread_exit(None)\n",
            ])
            .current_dir(&blog),
    );
    let p: u16 = line.parse().unwrap_or_else(|e| panic!("{line:?}: {e}"));
    let pid = group.0.id();
    // Until the main thread is gone (its `/proc/PID/cwd` no longer reads).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the main thread did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    claim_port(&w, p);
    let (row, code) = audit_row(&w, &shop, p);
    assert_eq!(holder_pids(&row), vec![u64::from(pid)], "{row}");
    assert_eq!(
        (row["finding"].as_str(), code),
        (Some("conflict"), Some(1)),
        "{row}"
    );
    let out = w.fails_in(&shop, &["wait", "web", "--owned", "--timeout", "1s"], 1);
    assert!(
        stderr(&out).contains(&format!(
            "pid {pid} (python3) works in {}, not in ",
            blog.display()
        )),
        "{}",
        stderr(&out)
    );
}

/// What `exec`, `check`, `claim` and `up` say about `dir`'s claimed port `p` while `server`
/// (pid) listens on it: `(exec's stderr, check's verdict, check --json's running, claim's
/// stderr, up's stderr)`; `exec` must exit `exec_code`.
fn told(w: &World, dir: &Path, p: u16, exec_code: i32) -> (String, String, Value, String, String) {
    let exec = stderr(&w.fails_in(dir, &["exec", "web", "--", "true"], exec_code));
    // A claimed port is never usable for another claim: `check` exits 1 either way.
    let check = stdout(&w.fails_in(dir, &["check", &p.to_string()], 1));
    let verdict = check
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("verdict"))
        .unwrap_or_else(|| panic!("no verdict: {check}"))
        .trim()
        .to_string();
    let json = json_of(&w.fails_in(dir, &["check", &p.to_string(), "--json"], 1));
    let claim = w
        .cmd_in(dir, &["claim", "web"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(stdout(&claim), p.to_string(), "claim prints its port");
    let up = w
        .cmd_in(dir, &["up"])
        .assert()
        .success()
        .get_output()
        .clone();
    (
        exec,
        verdict,
        json[0]["running"].clone(),
        stderr(&claim),
        stderr(&up),
    )
}

/// The project's own server on its claimed port (a python3 listener working in the project,
/// as the user) is not a conflict: `exec` says it is already running and exits 4, running
/// nothing and advising no `--move`; `check` tells it is the project's own server; `claim` and
/// `up` note it. The same server working outside the project stays a conflict everywhere.
#[test]
fn the_projects_own_server_is_already_running_not_a_conflict() {
    let w = World::new();
    let dir = w.project("ownsrv");
    let p = crate::support::port(&w.ok_at(&dir, &["claim", "web"]));
    w.manifest(&dir, "[services.web]\n");

    let mut inside = crate::support::listener(&dir, p, false);
    let pid = inside.0.id();
    let (exec, verdict, running, claim, up) = told(&w, &dir, p, 4);
    let note = format!("devport: web: already running: pid {pid} (python3), since ");
    assert!(exec.starts_with(&note), "{exec}");
    assert!(
        exec.trim_end()
            .ends_with(&format!("(port {p}); nothing was run")),
        "{exec}"
    );
    assert_eq!(exec.lines().count(), 1, "{exec}");
    assert!(
        verdict.starts_with("already running: ownsrv/web's own server since ")
            && verdict.ends_with(", not usable for another claim: claimed, in-use"),
        "{verdict}"
    );
    assert_eq!(running["holders"], json!([format!("pid {pid} (python3)")]));
    assert!(running["since"].is_string(), "{running}");
    for said in [&claim, &up] {
        assert!(said.starts_with(&note), "{said}");
        assert!(said.contains(&format!("(port {p})")), "{said}");
        assert!(
            !said.contains("warning") && !said.contains("--move"),
            "{said}"
        );
    }
    inside.kill();

    // The same server working in another folder is a squatter, as before.
    let _outside = crate::support::listener(&w.dir("elsewhere"), p, false);
    let (exec, verdict, running, claim, up) = told(&w, &dir, p, 1);
    let squatter = format!("web's port {p} is in use by pid ");
    assert!(
        exec.contains(&squatter) && exec.contains("--move") && exec.contains("nothing was run"),
        "{exec}"
    );
    assert_eq!(verdict, "not usable: claimed, in-use");
    assert_eq!(running, Value::Null);
    for said in [&claim, &up] {
        assert!(
            said.starts_with(&format!("devport: warning: {squatter}")),
            "{said}"
        );
        assert!(said.contains("'devport claim web --move'"), "{said}");
    }
    assert_eq!(claim, up, "claim and up warn alike");
}

/// A folder inside the project that is a project root of its own is not the project's: a
/// checkout (the `.git` file `git worktree add .worktrees/feat` writes) or a sub-project with
/// its own `devport.toml`. Its server on the project's claimed port is a conflict for `exec`
/// (not "already running"), `check`, `audit`, `wait --owned` and `kill` (which stops nothing);
/// a plain subfolder's server stays the project's own.
#[test]
fn a_nested_checkout_or_project_is_not_the_projects() {
    let w = World::new();
    let dir = std::fs::canonicalize(w.project("mall")).expect("canonical");
    let p = crate::support::port(&w.ok_at(&dir, &["claim", "web"]));
    let feat = w.dir(dir.join(".worktrees/feat"));
    w.file(
        feat.join(".git"),
        format!("gitdir: {}\n", dir.join(".git/worktrees/feat").display()),
    );
    let admin = w.dir(dir.join("packages/admin"));
    w.manifest(&admin, "[services.admin]\n");
    for (root, works_in) in [(&feat, feat.clone()), (&admin, w.dir(admin.join("src")))] {
        let mut server = crate::support::listener(&works_in, p, false);
        let pid = server.0.id();
        let exec = stderr(&w.fails_in(&dir, &["exec", "web", "--", "true"], 1));
        assert!(
            exec.contains(&format!("web's port {p} is in use by pid {pid}"))
                && !exec.contains("already running"),
            "{exec}"
        );
        let check = json_of(&w.fails_in(&dir, &["check", &p.to_string(), "--json"], 1));
        assert_eq!(check[0]["finding"], "conflict", "{check}");
        assert_eq!(check[0]["running"], Value::Null, "{check}");
        let (row, code) = audit_row(&w, &dir, p);
        assert_eq!((row["finding"].as_str(), code), (Some("conflict"), Some(1)));
        let said = format!(
            "pid {pid} (python3) works in {}, which belongs to the checkout or project {} (a .git or devport.toml of its own), not to {}",
            works_in.display(),
            root.display(),
            dir.display()
        );
        let wait = stderr(&w.fails_in(&dir, &["wait", "web", "--owned", "--timeout", "1s"], 1));
        assert!(wait.contains(&said), "{wait}");
        let kill = stderr(&w.fails_in(&dir, &["kill", "web", "--timeout", "1s"], 1));
        assert!(
            kill.contains(&said) && kill.contains("nothing was stopped"),
            "{kill}"
        );
        std::thread::sleep(Duration::from_millis(200));
        assert!(running(pid), "kill stopped the nested project's server");
        server.kill();
    }

    // A plain subfolder (no .git, no devport.toml) is the project's own.
    let mut server = crate::support::listener(&w.dir(dir.join("packages/shop")), p, false);
    let exec = stderr(&w.fails_in(&dir, &["exec", "web", "--", "true"], 4));
    assert!(exec.contains("already running"), "{exec}");
    w.ok_at(&dir, &["wait", "web", "--owned", "--timeout", "5s"]);
    let text = w.ok_at(&dir, &["kill", "web"]);
    assert!(
        text.starts_with(&format!("stopped pid {}", server.0.id())),
        "{text}"
    );
    assert!(crate::support::exit_of(&mut server, Duration::from_secs(10)).is_some());
}

/// A block's first port held by the project's own server does not hide another folder's
/// process on its second: `exec` reports that squatter (exit 1), not "already running".
#[test]
fn exec_names_a_squatter_on_a_later_port_of_a_block() {
    let w = World::new();
    let dir = w.project("blocksq");
    w.manifest(&dir, "[services.web]\ncount = 3\n");
    let ports = w.ok_at(&dir, &["claim", "web", "--count", "3"]);
    let first = crate::support::port(ports.split_whitespace().next().expect("a port"));
    let mut own = crate::support::listener(&dir, first, false);
    let exec = stderr(&w.fails_in(&dir, &["exec", "web", "--", "true"], 4));
    assert!(exec.contains("already running"), "{exec}");
    let mut squatter = crate::support::listener(&w.dir("elsewhere"), first + 1, false);
    let exec = stderr(&w.fails_in(&dir, &["exec", "web", "--", "true"], 1));
    assert!(
        exec.contains(&format!(
            "web's port {} is in use by pid {} (python3)",
            first + 1,
            squatter.0.id()
        )) && !exec.contains("already running"),
        "{exec}"
    );
    squatter.kill();
    own.kill();
}

/// The busy warning of `exec` and `claim` names the folder of every holder of a shared socket,
/// not only the first's: here a "systemd" working in `/` and its child working in the project.
#[test]
fn a_busy_warning_names_each_holders_folder() {
    let w = World::new();
    let shop = std::fs::canonicalize(w.project("shop")).expect("canonical");
    let (_group, parent, child, p) = socket_activation(&shop);
    claim_port(&w, p);
    let exec = stderr(&w.fails_in(&shop, &["exec", "web", "--", "true"], 1));
    let claim = stderr(
        &w.cmd_in(&shop, &["claim", "web"])
            .assert()
            .success()
            .get_output()
            .clone(),
    );
    for said in [&exec, &claim] {
        assert!(
            said.contains(&format!("pid {parent} (systemd) user "))
                && said.contains(" in /, ")
                && said.contains(&format!("pid {child} ("))
                && said.contains(&format!(" in {}", shop.display())),
            "{said}"
        );
    }
}
