//! The README and docs/: every example is what the real binary prints (replayed by
//! examples/readme-tour.sh), every relative link resolves, and the README stays short.

#[cfg(target_os = "linux")]
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every page of docs/, with their text.
fn pages() -> Vec<(PathBuf, String)> {
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("page");
            (p, text)
        })
        .collect()
}

/// Lines of `text` outside fenced code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fence = false;
    text.lines()
        .filter(|l| {
            if l.starts_with("```") {
                fence = !fence;
                return false;
            }
            !fence
        })
        .collect()
}

/// The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as `-`.
fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    prose(text)
        .into_iter()
        .filter_map(|l| {
            let rest = l.trim_start_matches('#');
            (rest.len() < l.len() && rest.starts_with(' ')).then(|| anchor(rest.trim()))
        })
        .collect()
}

/// Every `](target)` of the page's prose.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in prose(text) {
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            if let Some(end) = rest.find(')') {
                found.push(rest[..end].to_string());
            }
        }
    }
    found
}

/// What legitimately differs between two runs of the tour, made equal; nothing else is:
/// times (`2026-12-03 18:08`, RFC 3339), pids (`pid 24101`, `"pid": 24101`), every number of a
/// `lease` (leased ports are picked at random), and runs of spaces (a table's columns widen
/// with a pid's digits). On a docs `$` line, a trailing `  # comment` is the docs' annotation.
fn normalise(line: &str, in_lease: bool) -> String {
    let mut line = line.to_string();
    if line.starts_with("$ ") {
        if let Some(i) = line.find("  #") {
            line.truncate(i);
        }
        return line.trim_end().to_string();
    }
    let words: Vec<String> = line
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| {
            if is_time(w.trim_matches(|c| c == '"' || c == ',')) {
                "TIME".to_string()
            } else if in_lease {
                digits_as_n(w)
            } else {
                w.to_string()
            }
        })
        .collect();
    let mut out = words.join(" ");
    for key in ["pid ", "\"pid\": "] {
        let mut from = 0;
        while let Some(i) = out[from..].find(key) {
            let start = from + i + key.len();
            let end = out[start..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(out.len(), |e| start + e);
            if end > start {
                out.replace_range(start..end, "N");
            }
            from = start;
        }
    }
    out
}

/// `2026-12-03`, `2026-12-03T18:08:47.68821914Z` or `18:08`.
fn is_time(word: &str) -> bool {
    let b = word.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let date = (0..4).all(digit) && b.get(4) == Some(&b'-') && digit(5) && digit(6);
    let clock = b.len() == 5 && digit(0) && digit(1) && b[2] == b':' && digit(3) && digit(4);
    date || clock
}

/// Every run of digits as one `N`.
fn digits_as_n(word: &str) -> String {
    let mut out = String::new();
    for c in word.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('N') {
            out.push('N');
        }
    }
    out
}

/// The tour's transcript as command blocks: a `$` line and what it printed.
#[cfg(target_os = "linux")]
fn blocks(transcript: &str) -> Vec<Vec<String>> {
    let mut all: Vec<Vec<String>> = Vec::new();
    for line in transcript.lines() {
        if line.starts_with("### ") {
            continue;
        }
        if line.starts_with("$ ") || all.is_empty() {
            all.push(Vec::new());
        }
        let lease = all
            .last()
            .and_then(|b| b.first())
            .map_or(line, String::as_str)
            .starts_with("$ devport lease");
        all.last_mut().expect("block").push(normalise(line, lease));
    }
    all
}

/// The lines of every fenced block of the README and docs/, normalised as the transcript is.
#[cfg(target_os = "linux")]
fn documented() -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for (_, text) in pages() {
        let mut fence: Option<Vec<String>> = None;
        let mut lease = false;
        for line in text.lines() {
            if line.starts_with("```") {
                match fence.take() {
                    Some(lines) => found.push(lines),
                    None => fence = Some(Vec::new()),
                }
                continue;
            }
            if let Some(lines) = fence.as_mut() {
                if line.starts_with("$ ") {
                    lease = line.starts_with("$ devport lease");
                }
                lines.push(normalise(line, lease));
            }
        }
    }
    found
}

#[cfg(target_os = "linux")]
fn appears(block: &[String], docs: &[Vec<String>]) -> bool {
    docs.iter()
        .any(|lines| lines.windows(block.len()).any(|w| w == block))
}

/// Runs the tour against the binary under test, in a network namespace of its own (so the
/// machine's other sockets stay out of `audit`, and every port the tour wants is free).
#[cfg(target_os = "linux")]
fn tour() -> String {
    let script = root().join("examples/readme-tour.sh");
    let mut cmd = std::process::Command::new("unshare");
    cmd.args([
        "--net",
        "sh",
        "-c",
        "ip link set lo up 2>/dev/null; exec bash \"$0\"",
    ])
    .arg(&script)
    .env("DEVPORT", env!("CARGO_BIN_EXE_devport"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DEVPORT_") || key == "NO_COLOR" {
            cmd.env_remove(key);
        }
    }
    let out = cmd.output().expect("run unshare");
    assert!(out.status.success(), "the tour failed: {out:?}");
    String::from_utf8(out.stdout).expect("UTF-8 transcript")
}

#[test]
fn every_relative_link_of_the_readme_and_docs_resolves() {
    let mut broken = Vec::new();
    for (page, text) in pages() {
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (file, fragment) = link.split_once('#').unwrap_or((&link, ""));
            let target = if file.is_empty() {
                page.clone()
            } else {
                page.parent().expect("folder").join(file)
            };
            if !target.exists() {
                broken.push(format!("{}: {link}: no such file", page.display()));
                continue;
            }
            if !fragment.is_empty() {
                let heads = std::fs::read_to_string(&target)
                    .map(|t| anchors(&t))
                    .unwrap_or_default();
                if !heads.iter().any(|a| a == fragment) {
                    broken.push(format!("{}: {link}: no such heading", page.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_is_read_in_five_minutes() {
    let text = std::fs::read_to_string(root().join("README.md")).expect("README");
    let lines = text.lines().count();
    assert!(
        lines <= 300,
        "README.md has {lines} lines; move reference text to docs/"
    );
    for required in [
        "cargo run --release -- claim myservice",
        "cargo test --locked",
    ] {
        assert!(text.contains(required), "README.md lost `{required}`");
    }
}

#[cfg(target_os = "linux")]
#[test]
#[ignore = "needs root and python3: the tour runs in its own network namespace (unshare --net) with a python3 listener"]
fn every_example_of_the_tour_is_in_the_readme_or_docs() {
    let docs = documented();
    // /tmp/demo is a shared path (another user's, perhaps): the tour shows its folder under
    // that name but never touches it (it used to `rm -rf /tmp/demo`).
    let shared = || {
        std::fs::symlink_metadata("/tmp/demo")
            .ok()
            .map(|m| (m.ino(), m.mtime(), m.mtime_nsec()))
    };
    let before = shared();
    let transcript = tour();
    assert_eq!(shared(), before, "the tour touched /tmp/demo");
    let missing: Vec<String> = blocks(&transcript)
        .into_iter()
        .filter(|b| !appears(b, &docs))
        .map(|b| b.join("\n"))
        .collect();
    assert!(
        missing.is_empty(),
        "these examples of examples/readme-tour.sh are in no fenced block of README.md or \
         docs/*.md (normalised):\n\n{}\n\nthe whole transcript:\n{transcript}",
        missing.join("\n\n")
    );
}

#[test]
fn normalising_keeps_what_matters() {
    assert_eq!(
        normalise(
            "14444  web   blog  2026-11-26 23:54  /tmp/demo  pid 24101 (python3)",
            false
        ),
        "14444 web blog TIME TIME /tmp/demo pid N (python3)"
    );
    assert_eq!(normalise("  \"pid\": 7098,", false), "\"pid\": N,");
    assert_eq!(normalise("16445 16446", true), "N N");
    assert_eq!(normalise("16445 16446", false), "16445 16446");
    assert_eq!(normalise("$ devport gc   # also", false), "$ devport gc");
    assert_eq!(
        normalise("23986-23988  127.0.0.1:14444", false),
        "23986-23988 127.0.0.1:14444"
    );
}

/// The README's optional install lines (completions, man pages) work in a home where none of
/// their folders exist yet (they used to fail there: the shell cannot redirect into a folder
/// that does not exist).
#[cfg(unix)]
#[test]
fn the_readmes_completion_and_man_lines_work_on_a_fresh_home() {
    let text = std::fs::read_to_string(root().join("README.md")).expect("README");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("devport completions bash >") || l.contains("devport man --dir"))
        .collect();
    assert_eq!(
        lines.len(),
        2,
        "the README's completion and man lines: {lines:?}"
    );
    let w = crate::support::World::new();
    let home = w.dir.path().join("home");
    std::fs::create_dir(&home).expect("home");
    let bin = crate::support::bin();
    let path = format!(
        "{}:{}",
        bin.parent().expect("bin folder").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for line in &lines {
        let out = w
            .program_in("sh", &home, &["-euc", line])
            .env("HOME", &home)
            .env("PATH", &path)
            .output()
            .expect("sh");
        assert!(
            out.status.success(),
            "`{line}` failed on a fresh home: {out:?}"
        );
    }
    let script = home.join(".local/share/bash-completion/completions/devport");
    assert!(
        std::fs::read_to_string(script)
            .expect("completions")
            .contains("devport")
    );
    assert!(home.join(".local/share/man/man1/devport.1").is_file());
}
