//! The command line itself: usage errors that say what to do, help texts that keep their
//! lines, man pages and completions.

#[cfg(unix)]
use std::process::Command;

use crate::support::{World, stderr, stdout, usage_error};

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

/// The long help of every command.
fn long_help(w: &World, sub: &str) -> String {
    w.ok(&["help", sub])
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
        w.file(&roff, page);
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

#[cfg(unix)]
#[test]
fn man_dir_that_is_not_a_folder_is_named() {
    let w = World::new();
    let file = w.project("shop").join("notes");
    w.file(&file, "x");
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
fn completions_and_man_page() {
    let w = World::new();
    let script = w.ok(&["completions", "bash"]);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("devport.bash");
    w.file(&file, script);
    // bash checks the syntax where there is one (Unix).
    #[cfg(unix)]
    assert!(
        Command::new("bash")
            .arg("-n")
            .arg(&file)
            .status()
            .expect("bash")
            .success()
    );
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        assert!(!w.ok(&["completions", shell]).is_empty());
    }
    let man = w.ok(&["man"]);
    assert!(
        man.starts_with(".ie") || man.starts_with(".TH"),
        "{}",
        &man[..40.min(man.len())]
    );
    assert!(man.contains(".TH devport 1"));
}

/// `env` and `up` write a dotenv file under one spelling, `--write`; `--write-env` (up's old
/// name) still works in both but is not shown.
#[test]
fn env_and_up_show_one_spelling_of_write() {
    let w = World::new();
    for sub in ["env", "up"] {
        let help = long_help(&w, sub);
        assert!(help.contains("--write <FILE>"), "{sub}: {help}");
        assert!(!help.contains("write-env"), "{sub}: {help}");
    }
}

/// The completion script asks devport at each TAB (`DEVPORT_COMPLETE`), and an argument that
/// takes a service is completed with the current project's services — its manifest's and its
/// claims', each claim with its port — and `check` with the ports of its claims. Outside any
/// readable project it completes no service, without a word on stderr.
#[test]
fn completions_offer_the_projects_services() {
    let w = World::new();
    let shop = w.project("shop");
    w.manifest(&shop, "[services.api]\n");
    let web = w.ok_at(&shop, &["claim", "web"]);
    let ask = |dir: &std::path::Path, words: &[&str]| {
        let mut args = vec!["--", "devport"];
        args.extend_from_slice(words);
        let out = w
            .cmd_in(dir, &args)
            .env("DEVPORT_COMPLETE", "fish")
            .assert()
            .success()
            .get_output()
            .clone();
        assert_eq!(crate::support::stderr(&out), "", "{words:?}");
        crate::support::stdout(&out)
    };
    for words in [
        &["claim", ""][..],
        &["release", ""],
        &["release", "api", ""],
        &["exec", ""],
        &["kill", ""],
        &["wait", ""],
    ] {
        let offered = ask(&shop, words);
        let lines: Vec<&str> = offered.lines().collect();
        assert!(lines.contains(&"api"), "{words:?}: {offered}");
        assert!(
            lines.contains(&format!("web\t{web}").as_str()),
            "{words:?}: {offered}"
        );
    }
    let offered = ask(&shop, &["check", ""]);
    assert!(
        offered.lines().any(|l| l == format!("{web}\tweb")),
        "{offered}"
    );
    // The script itself names the variable and the program, and no service.
    let script = w.ok(&["completions", "fish"]);
    assert!(
        script.contains("DEVPORT_COMPLETE") && !script.contains("web"),
        "{script}"
    );
    // Loaded from $fpath as `_devport`, zsh's completes at the first TAB too.
    let zsh = w.ok(&["completions", "zsh"]);
    assert!(
        zsh.ends_with("_clap_dynamic_completer_devport \"$@\"\nfi"),
        "{zsh}"
    );
    // Through a real bash: the script's function fills COMPREPLY by asking devport.
    #[cfg(unix)]
    {
        let out = crate::support::bash(
            &w,
            &shop,
            "source <(devport completions bash)\n\
             COMP_WORDS=(devport exec ''); COMP_CWORD=2; COMP_TYPE=9\n\
             _clap_complete_devport devport '' exec\n\
             printf '%s\\n' \"${COMPREPLY[@]}\"",
        );
        let offered = crate::support::stdout(&out);
        assert!(
            offered.lines().any(|l| l == "api") && offered.lines().any(|l| l == "web"),
            "{offered}\n{}",
            crate::support::stderr(&out)
        );
    }
    // Outside a project (a folder of its own, with a registry that cannot be read): no service.
    let elsewhere = w.dir("elsewhere");
    w.file(w.registry(), "{ not json");
    let offered = ask(&elsewhere, &["claim", ""]);
    assert!(
        !offered.lines().any(|l| l == "api" || l.starts_with("web")),
        "{offered}"
    );
}
