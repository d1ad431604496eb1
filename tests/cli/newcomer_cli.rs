//! The newcomer's command line: usage errors that say what to do, a warning (or a refusal)
//! when a claimed port is held, blocks shown as A-B, help texts that keep their lines, and a
//! man page per command.

use std::net::TcpListener;

use crate::support::{World, port, stderr, stdout};

/// Every subcommand, as `devport --help` lists them.
const SUBCOMMANDS: [&str; 18] = [
    "claim",
    "release",
    "list",
    "check",
    "audit",
    "env",
    "exec",
    "up",
    "init",
    "lease",
    "gc",
    "doctor",
    "completions",
    "man",
    "kill",
    "wait",
    "export",
    "trust",
];

/// Asserts that a usage error is one line, names `wanted`, points at `devport SUB --help` and
/// changed nothing on disk.
fn usage_error(w: &World, args: &[&str], wanted: &str, sub: &str) -> String {
    let out = w.fails(args, 2);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(wanted), "{args:?}: {err}");
    let help = if sub.is_empty() {
        "devport --help".to_string()
    } else {
        format!("devport {sub} --help")
    };
    assert!(err.ends_with(&format!("see '{help}'")), "{args:?}: {err}");
    assert!(!err.contains("tip:"), "{args:?}: {err}");
    assert!(stdout(&out).is_empty(), "{args:?}");
    assert!(w.registry_bytes().is_empty(), "{args:?} wrote the registry");
    err
}

#[test]
fn negative_numbers_reach_the_parser_that_explains_them() {
    let w = World::new();
    let cases: [(&[&str], &str, &str); 6] = [
        (&["claim", "t", "--port", "-1"], "1 to 65535", "claim"),
        (&["claim", "t", "--prefer", "-80"], "1 to 65535", "claim"),
        (&["claim", "t", "--count", "-3"], "1 to 1000", "claim"),
        (&["release", "--port", "-1"], "1 to 65535", "release"),
        (&["check", "-1"], "1 <= A <= B <= 65535", "check"),
        (&["lease", "--pid", "-1"], "process id", "lease"),
    ];
    for (args, wanted, sub) in cases {
        let err = usage_error(&w, args, wanted, sub);
        assert!(
            !err.contains("'-- "),
            "{args:?}: advice that does not work: {err}"
        );
    }
}

#[test]
fn usage_errors_point_at_the_help_of_the_command_typed() {
    let w = World::new();
    let reg = w.registry();
    let reg = reg.to_str().expect("utf-8 path");
    let cases: [(&[&str], &str, &str); 6] = [
        (&["claim"], "<SERVICE>", "claim"),
        (&["release"], "--all", "release"),
        (
            &["--registry", reg, "claim", "t", "--bogus"],
            "'--bogus'",
            "claim",
        ),
        (&["gc", "--older-than", "0d"], "zero is not allowed", "gc"),
        (&["list", "--json", "--nope"], "'--nope'", "list"),
        (&["clam", "web"], "'clam'", ""),
    ];
    for (args, wanted, sub) in cases {
        let sub = if sub.is_empty() {
            String::new()
        } else {
            format!("{sub} ")
        };
        let err = w.fails(args, 2);
        let err = stderr(&err);
        assert!(err.contains(wanted), "{args:?}: {err}");
        assert!(
            err.ends_with(&format!("see 'devport {sub}--help'")),
            "{args:?}: {err}"
        );
    }
    assert!(w.registry_bytes().is_empty());
}

#[test]
fn a_tip_reads_as_part_of_the_sentence() {
    let w = World::new();
    let err = usage_error(
        &w,
        &["claim", "web", "--prot", "udp"],
        "unexpected argument '--prot' found; a similar argument exists: '--proto'; ",
        "claim",
    );
    assert!(!err.contains("  "), "{err}");
    let err = usage_error(
        &w,
        &["clam", "web"],
        "a similar subcommand exists: 'claim'",
        "",
    );
    assert!(
        err.starts_with("devport: unrecognized subcommand 'clam'; "),
        "{err}"
    );
}

#[test]
fn exec_without_the_double_dash_shows_the_command_with_it() {
    let w = World::new();
    let err = usage_error(
        &w,
        &["exec", "web", "echo", "hi there"],
        "put the command after --: devport exec web -- echo 'hi there'",
        "exec",
    );
    assert!(err.contains("unexpected argument 'echo'"), "{err}");
    usage_error(
        &w,
        &["exec", "web"],
        "the command goes after --, e.g. devport exec web -- npm run dev",
        "exec",
    );
    // An option devport does not know is not passed on as the command.
    let err = usage_error(&w, &["exec", "web", "--bogus", "x"], "'--bogus'", "exec");
    assert!(!err.contains("after --"), "{err}");
}

/// Binds `port` on IPv4 loopback in this test process: "someone else" for a project folder
/// the test process does not work in.
fn hold(port: u16) -> TcpListener {
    TcpListener::bind(("127.0.0.1", port)).expect("bind the claimed port")
}

#[test]
fn claim_warns_naming_the_holder_when_the_port_is_in_use() {
    let w = World::new();
    let first = w.ok_in("busyclaim", &["claim", "web"]);
    let listener = hold(port(&first));
    let out = w
        .cmd_in(&w.project("busyclaim"), &["claim", "web"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(stdout(&out), first, "the claim's port is still printed");
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "devport: warning: web's port {first} is in use by "
        )),
        "{err}"
    );
    assert!(err.contains(&crate::windows::own_pid_text()), "{err}");
    #[cfg(target_os = "linux")]
    {
        let here = std::env::current_dir().expect("cwd");
        assert!(err.contains(&format!(" in {}", here.display())), "{err}");
    }
    assert!(err.contains("devport claim web --move"), "{err}");
    drop(listener);
    let out = w
        .cmd_in(&w.project("busyclaim"), &["claim", "web"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(stderr(&out), "", "a free port is claimed without a word");
}

/// The project's own server on its port is no news: the test process works in the crate's
/// folder, so a claim for that folder's project is not warned about.
#[cfg(target_os = "linux")]
#[test]
fn claim_does_not_warn_about_the_projects_own_server() {
    let w = World::new();
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    let args = ["--project", crate_dir, "claim", "own-server-newcomer-cli"];
    let first = w.ok_at(w.dir.path(), &args);
    let _listener = hold(port(&first));
    let out = w
        .cmd_in(w.dir.path(), &args)
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(stdout(&out), first);
    assert_eq!(stderr(&out), "");
}

#[test]
fn exec_refuses_to_run_when_the_port_is_held() {
    let w = World::new();
    let shop = w.project("busyexec");
    let first = w.ok_at(&shop, &["claim", "web"]);
    let bin = crate::support::bin();
    let bin = bin.to_str().expect("utf-8 path");
    // The command claims `ran`: the registry shows whether it ran.
    let args = ["exec", "web", "--", bin, "claim", "ran"];
    let listener = hold(port(&first));
    let out = w.fails_in(&shop, &args, 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "web's port {first} is in use by {}",
            crate::windows::own_pid_text()
        )),
        "{err}"
    );
    assert!(err.contains("nothing was run"), "{err}");
    assert!(!w.registry_json().to_string().contains("\"ran\""), "it ran");
    drop(listener);
    w.cmd_in(&shop, &args).assert().success();
    assert!(
        w.registry_json().to_string().contains("\"ran\""),
        "it did not run"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn audit_exits_1_when_it_shows_a_conflict() {
    let w = World::new();
    let shop = w.project("auditconflict");
    let first = w.ok_at(&shop, &["claim", "web"]);
    let listener = hold(port(&first));
    let out = w.fails_in(&shop, &["audit"], 1);
    let row = stdout(&out)
        .lines()
        .find(|l| l.contains(&format!(":{first} ")))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(row.ends_with("conflict"), "{}", stdout(&out));
    let out = w.fails_in(&shop, &["--json", "audit"], 1);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        rows.as_array()
            .expect("array")
            .iter()
            .any(|r| r["finding"] == "conflict" && r["port"] == first.parse::<u16>().unwrap_or(0)),
        "{rows}"
    );
    drop(listener);
    let out = w
        .cmd_in(&shop, &["audit"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(!stdout(&out).contains("conflict"), "{}", stdout(&out));
}

#[test]
fn blocks_show_as_a_range_in_tables_and_messages_and_as_ports_in_data() {
    let w = World::new();
    let ports = w.ok(&["claim", "grpc", "--count", "20"]);
    let words: Vec<&str> = ports.split(' ').collect();
    assert_eq!(
        words.len(),
        20,
        "claim prints every port for scripts: {ports}"
    );
    let block = format!("{}-{}", words[0], words[19]);
    let list = w.ok(&["list"]);
    let row = list.lines().find(|l| l.contains("grpc")).expect("grpc row");
    assert!(row.starts_with(&format!("{block}  ")), "{list}");
    assert!(!row.contains(words[1]), "{list}");
    let listed: serde_json::Value = serde_json::from_str(&w.ok(&["--json", "list"])).expect("json");
    assert_eq!(listed[0]["ports"].as_array().map(Vec::len), Some(20));
    let out = w
        .cmd(&["release", "grpc"])
        .assert()
        .success()
        .get_output()
        .clone();
    let err = stderr(&out);
    assert!(err.contains(&format!("({block})")), "{err}");
    assert!(!err.contains(words[1]), "{err}");
}

/// The long help of every command.
fn long_help(w: &World, sub: &str) -> String {
    w.ok(&["help", sub])
}

#[test]
fn every_help_keeps_its_example_lines_and_shows_no_markup() {
    let w = World::new();
    let release = long_help(&w, "release");
    assert!(
        release.contains("Example:\n  devport release web\n  devport release --port 24117\n"),
        "{release}"
    );
    for sub in SUBCOMMANDS {
        let help = long_help(&w, sub);
        let lines: Vec<&str> = help.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.contains("Example") {
                assert_eq!(*line, "Example:", "{sub}: {help}");
                assert!(lines[i + 1].starts_with("  "), "{sub}: {help}");
            }
        }
        assert!(help.contains("Example:"), "{sub} has no example: {help}");
        assert!(!help.contains('`'), "{sub}: markup in help: {help}");
    }
}

#[test]
fn shared_options_stand_under_their_own_heading() {
    let w = World::new();
    for sub in SUBCOMMANDS {
        let help = w.ok(&[sub, "-h"]);
        let (own, global) = help
            .split_once("Global options:")
            .unwrap_or_else(|| panic!("{sub}: no Global options heading: {help}"));
        for option in ["--registry", "--json", "--color", "--project", "--global"] {
            assert!(global.contains(option), "{sub}: {help}");
            assert!(!own.contains(option), "{sub}: {help}");
        }
    }
}

#[test]
fn claim_help_states_the_service_name_rule_in_full() {
    let w = World::new();
    for help in [w.ok(&["claim", "-h"]), long_help(&w, "claim")] {
        assert!(
            help.contains("1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit"),
            "{help}"
        );
    }
}

#[test]
fn every_man_page_the_main_page_names_exists() {
    let w = World::new();
    let dir = w.dir.path().join("man1");
    let out = w
        .cmd(&["man", "--dir", dir.to_str().expect("utf-8")])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(stdout(&out).is_empty());
    let main = std::fs::read_to_string(dir.join("devport.1")).expect("devport.1");
    for sub in SUBCOMMANDS {
        assert!(
            main.contains(&format!("devport\\-{sub}(1)")),
            "{sub}: {main}"
        );
        let page = std::fs::read_to_string(dir.join(format!("devport-{sub}.1")))
            .unwrap_or_else(|e| panic!("devport-{sub}.1: {e}"));
        assert!(page.starts_with(".ie"), "{sub}: not roff: {page}");
        assert!(
            page.contains(&format!(".TH devport-{sub} 1")),
            "{sub}: {page}"
        );
        assert!(page.contains(".SH \"GLOBAL OPTIONS\""), "{sub}: {page}");
        let printed = w.ok(&["man", sub]);
        assert_eq!(
            printed,
            page.trim(),
            "man {sub} prints the page --dir writes"
        );
    }
    let entries = std::fs::read_dir(&dir).expect("read dir").count();
    assert_eq!(entries, SUBCOMMANDS.len() + 1);
    assert_eq!(w.ok(&["man"]), main.trim());
    let err = stderr(&w.fails(&["man", "nope"], 2));
    assert!(err.contains("no man page for \"nope\""), "{err}");
    assert!(err.contains("claim, release"), "{err}");
}

#[test]
fn man_tables_and_examples_are_set_line_by_line() {
    let w = World::new();
    let main = w.ok(&["man"]);
    for row in ["0", "1", "2", "3", "DEVPORT_REGISTRY", "NO_COLOR"] {
        assert!(main.contains(&format!(".TP\n{row}\n")), "{row}: {main}");
    }
    let claim = w.ok(&["man", "claim"]);
    assert!(
        claim.contains(".nf\nPORT=$(devport claim web)\ndevport claim db \\-\\-port 5432\n"),
        "{claim}"
    );
}

/// The same pages rendered by groff, as `man` shows them: every row and example on a line of
/// its own.
#[cfg(unix)]
#[test]
#[ignore = "needs groff: renders the man pages (apt-get install groff-base)"]
fn man_pages_rendered_by_groff_keep_rows_on_their_own_lines() {
    let w = World::new();
    let render = |page: &str| {
        let roff = w.dir.path().join("page.1");
        std::fs::write(&roff, page).expect("write page");
        // -P-cbou: plain text, no bold or underline by overstriking.
        let out = std::process::Command::new("groff")
            .args(["-man", "-Tutf8", "-rLL=80n", "-P-cbou"])
            .arg(&roff)
            .output()
            .expect("run groff");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Each line with its runs of blanks made one space.
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
    };
    let main = render(&w.ok(&["man"]));
    for row in [
        "0 success",
        "2 bad usage or input",
        "DEVPORT_LOCK_TIMEOUT",
        "DEVPORT_CONFIG",
        "NO_COLOR",
    ] {
        assert!(main.iter().any(|l| l == row), "{row}: {main:#?}");
    }
    let claim = render(&w.ok(&["man", "claim"]));
    for example in [
        "PORT=$(devport claim web)",
        "devport claim db --port 5432",
        "devport claim grpc --count 3 --proto both",
    ] {
        assert!(claim.iter().any(|l| l == example), "{example}: {claim:#?}");
    }
}
