//! The port options of common dev servers, for `devport exec`: many (Vite, Astro, Angular,
//! Expo …) ignore `PORT`, or drift to the next free port when theirs is taken, unless they are
//! given a flag. This is the one table of them; [`port_args`] finds the server in a command
//! line and says what to add so it serves on the claimed port, and nothing when the command
//! already carries a port of its own.

/// Which words may follow a server's program for the table's flags to apply.
#[derive(Debug, Clone, Copy)]
enum Sub {
    /// The first word that is not an option must be one of these (`next dev`, `rails s`).
    One(&'static [&'static str]),
    /// Any words, unless the first that is not an option is one of these (`vite build`).
    Except(&'static [&'static str]),
}

/// How a command already gives the server a port.
#[derive(Debug, Clone, Copy)]
enum Own {
    /// One of these options (`--port 3000`, `--port=3000`, `-p 3000`, `-p3000`).
    Options(&'static [&'static str]),
    /// A word after the subcommand that is not an option (`runserver 8001`).
    Positional,
}

/// A dev server devport knows the port flags of.
#[derive(Debug)]
pub struct DevServer {
    /// The program (or Python module, or script) name, as people type it.
    pub name: &'static str,
    sub: Sub,
    /// The words added, with `{port}` for the port.
    pub flags: &'static [&'static str],
    own: Own,
}

const PORT: &[&str] = &["--port", "{port}"];
const PORT_OPTS: Own = Own::Options(&["--port", "-p"]);

/// Every dev server `exec` gives a port flag, in the order docs/commands.md lists them.
pub const SERVERS: &[DevServer] = &[
    DevServer {
        name: "vite",
        sub: Sub::Except(&["build", "optimize"]),
        flags: &["--port", "{port}", "--strictPort"],
        own: Own::Options(&["--port"]),
    },
    DevServer {
        name: "astro",
        sub: Sub::One(&["dev", "preview"]),
        flags: PORT,
        own: Own::Options(&["--port"]),
    },
    DevServer {
        name: "nuxt",
        sub: Sub::One(&["dev", "preview"]),
        flags: PORT,
        own: PORT_OPTS,
    },
    DevServer {
        name: "nuxi",
        sub: Sub::One(&["dev", "preview"]),
        flags: PORT,
        own: PORT_OPTS,
    },
    DevServer {
        name: "next",
        sub: Sub::One(&["dev", "start"]),
        flags: PORT,
        own: PORT_OPTS,
    },
    DevServer {
        name: "ng",
        sub: Sub::One(&["serve", "s"]),
        flags: PORT,
        own: Own::Options(&["--port"]),
    },
    DevServer {
        name: "webpack",
        sub: Sub::One(&["serve"]),
        flags: PORT,
        own: Own::Options(&["--port"]),
    },
    DevServer {
        name: "webpack-dev-server",
        sub: Sub::Except(&[]),
        flags: PORT,
        own: Own::Options(&["--port"]),
    },
    DevServer {
        name: "storybook",
        sub: Sub::One(&["dev"]),
        flags: &["--port", "{port}", "--exact-port"],
        own: PORT_OPTS,
    },
    DevServer {
        name: "expo",
        sub: Sub::One(&["start"]),
        flags: PORT,
        own: PORT_OPTS,
    },
    DevServer {
        name: "gatsby",
        sub: Sub::One(&["develop"]),
        flags: PORT,
        own: PORT_OPTS,
    },
    DevServer {
        name: "vue-cli-service",
        sub: Sub::One(&["serve"]),
        flags: PORT,
        own: Own::Options(&["--port"]),
    },
    DevServer {
        name: "parcel",
        sub: Sub::Except(&["build"]),
        flags: PORT,
        own: PORT_OPTS,
    },
    DevServer {
        name: "rails",
        sub: Sub::One(&["server", "s"]),
        flags: PORT,
        own: PORT_OPTS,
    },
    DevServer {
        name: "manage.py",
        sub: Sub::One(&["runserver"]),
        flags: &["{port}"],
        own: Own::Positional,
    },
    DevServer {
        name: "django-admin",
        sub: Sub::One(&["runserver"]),
        flags: &["{port}"],
        own: Own::Positional,
    },
    DevServer {
        name: "flask",
        sub: Sub::One(&["run"]),
        flags: PORT,
        own: PORT_OPTS,
    },
    DevServer {
        name: "uvicorn",
        sub: Sub::Except(&[]),
        flags: PORT,
        own: Own::Options(&["--port"]),
    },
    DevServer {
        name: "hugo",
        sub: Sub::One(&["server", "serve"]),
        flags: PORT,
        own: PORT_OPTS,
    },
    DevServer {
        name: "jekyll",
        sub: Sub::One(&["serve", "s"]),
        flags: PORT,
        own: Own::Options(&["--port", "-P"]),
    },
    DevServer {
        name: "mkdocs",
        sub: Sub::One(&["serve"]),
        flags: &["--dev-addr", "127.0.0.1:{port}"],
        own: Own::Options(&["--dev-addr", "-a"]),
    },
];

/// What `exec` adds to a command line so the dev server in it serves on the port.
#[derive(Debug, PartialEq, Eq)]
pub struct Added {
    /// The server found (its [`DevServer::name`]).
    pub server: &'static str,
    /// Where the words go in the command line (before a `--` that follows the server, else at
    /// the end).
    pub at: usize,
    /// The words, with the port filled in.
    pub words: Vec<String>,
}

/// The port flags to add to `command` (the command line as it will run) for `port`, if it runs
/// a dev server of [`SERVERS`] — directly, through a path (`node_modules/.bin/vite`,
/// `bin/rails`), a package runner (`npx`, `pnpm exec`, `yarn`, `bunx`, `uvx`, `uv run`,
/// `poetry run`, `bundle exec` …) or Python (`python -m flask`, `python manage.py`) — and
/// gives it no port of its own. `typed` is the command as the user typed it: a `{port…}`
/// placeholder there is a port of its own too.
pub fn port_args(command: &[String], typed: &[String], port: u16) -> Option<Added> {
    if typed.iter().any(|w| w.contains("{port")) {
        return None;
    }
    let (at, name) = server_word(command)?;
    let server = SERVERS.iter().find(|s| s.name == name)?;
    let rest = &command[at + 1..];
    let end = rest.iter().position(|w| w == "--").unwrap_or(rest.len());
    let rest = &rest[..end];
    let first = rest.iter().position(|w| !w.starts_with('-'));
    match server.sub {
        Sub::One(subs) => {
            if !first.is_some_and(|i| subs.contains(&rest[i].as_str())) {
                return None;
            }
        }
        Sub::Except(subs) => {
            if first.is_some_and(|i| subs.contains(&rest[i].as_str())) {
                return None;
            }
        }
    }
    let has_own = match server.own {
        Own::Options(options) => rest.iter().any(|w| {
            options.iter().any(|o| {
                w == o
                    || w.strip_prefix(o).is_some_and(|tail| {
                        tail.starts_with('=')
                            || (!o.starts_with("--")
                                && tail.starts_with(|c: char| c.is_ascii_digit()))
                    })
            })
        }),
        Own::Positional => first.is_some_and(|i| rest[i + 1..].iter().any(|w| !w.starts_with('-'))),
    };
    if has_own {
        return None;
    }
    let port = port.to_string();
    Some(Added {
        server: server.name,
        at: at + 1 + end,
        words: server
            .flags
            .iter()
            .map(|f| f.replace("{port}", &port))
            .collect(),
    })
}

/// The index and name of the word that names the program being run, past package runners and
/// Python's `-m`.
fn server_word(command: &[String]) -> Option<(usize, String)> {
    let mut i = 0;
    loop {
        let name = program_name(command.get(i)?);
        let next = command.get(i + 1).map(String::as_str);
        i = match name.as_str() {
            // Runners whose next word that is not an option is the program.
            "npx" | "bunx" | "pnpx" | "uvx" => skip_options(command, i + 1, &["-p", "--package"]),
            "npm" | "pnpm" | "yarn" | "bun" | "uv" | "poetry" | "pipenv" | "bundle" => {
                match next {
                    Some("exec" | "dlx" | "x" | "run") => {
                        let at = skip_options(command, i + 2, &["-p", "--package"]);
                        // `npm run dev`, `pnpm run dev`: a package.json script, not a program.
                        if matches!(name.as_str(), "npm" | "pnpm" | "yarn" | "bun")
                            && next == Some("run")
                        {
                            return None;
                        }
                        at
                    }
                    // `yarn vite`, `pnpm vite`, `bun vite`: a package's program.
                    _ if matches!(name.as_str(), "yarn" | "pnpm" | "bun") => i + 1,
                    _ => return None,
                }
            }
            _ if is_python(&name) => {
                let at = skip_options(command, i + 1, &[]);
                if command.get(at).map(String::as_str) == Some("-m") {
                    return Some((at + 1, command.get(at + 1)?.clone()));
                }
                at
            }
            _ => return Some((i, name)),
        };
    }
}

/// The index of the first word from `from` that is not an option (`with_value` options take
/// the next word as their value).
fn skip_options(command: &[String], from: usize, with_value: &[&str]) -> usize {
    let mut i = from;
    while let Some(word) = command.get(i) {
        if word == "-m" || !word.starts_with('-') {
            break;
        }
        i += if with_value.contains(&word.as_str()) {
            2
        } else {
            1
        };
    }
    i
}

/// `python`, `python3`, `python3.12`, `py`.
fn is_python(name: &str) -> bool {
    name == "py"
        || name
            .strip_prefix("python")
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// A program's name as people type it: without its folder and a Windows launcher's suffix.
fn program_name(word: &str) -> String {
    let base = word.rsplit(['/', '\\']).next().unwrap_or(word);
    let lower = base.to_ascii_lowercase();
    for suffix in [".cmd", ".exe", ".bat", ".ps1"] {
        if let Some(stem) = lower.strip_suffix(suffix) {
            return stem.to_string();
        }
    }
    base.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn added(line: &str) -> Option<(String, usize)> {
        let command: Vec<String> = line.split(' ').map(str::to_string).collect();
        port_args(&command, &command, 14708).map(|a| (a.words.join(" "), a.at))
    }

    #[test]
    fn finds_the_server_through_runners_and_paths() {
        let vite = Some(("--port 14708 --strictPort".to_string(), 2));
        assert_eq!(added("npx vite"), vite);
        assert_eq!(
            added("npx --yes vite"),
            Some(("--port 14708 --strictPort".into(), 3))
        );
        assert_eq!(added("vite"), Some(("--port 14708 --strictPort".into(), 1)));
        assert_eq!(
            added("./node_modules/.bin/vite"),
            Some(("--port 14708 --strictPort".into(), 1))
        );
        assert_eq!(
            added("pnpm exec vite dev"),
            Some(("--port 14708 --strictPort".into(), 4))
        );
        assert_eq!(added("yarn vite"), vite);
        assert_eq!(
            added("C:\\app\\node_modules\\.bin\\vite.CMD"),
            Some(("--port 14708 --strictPort".into(), 1))
        );
        assert_eq!(added("npx next dev"), Some(("--port 14708".into(), 3)));
        assert_eq!(
            added("bundle exec rails s"),
            Some(("--port 14708".into(), 4))
        );
        assert_eq!(added("bin/rails server"), Some(("--port 14708".into(), 2)));
        assert_eq!(
            added("python manage.py runserver"),
            Some(("14708".into(), 3))
        );
        assert_eq!(
            added("python3 -m flask run"),
            Some(("--port 14708".into(), 4))
        );
        assert_eq!(
            added("uv run uvicorn app:app"),
            Some(("--port 14708".into(), 4))
        );
        assert_eq!(
            added("mkdocs serve"),
            Some(("--dev-addr 127.0.0.1:14708".into(), 2))
        );
        assert_eq!(
            added("npx storybook dev"),
            Some(("--port 14708 --exact-port".into(), 3))
        );
        // Before a `--` that follows the server: what comes after it is not the server's.
        assert_eq!(
            added("npx vite -- x"),
            Some(("--port 14708 --strictPort".into(), 2))
        );
    }

    #[test]
    fn leaves_a_command_with_a_port_of_its_own_or_no_known_server() {
        for line in [
            "npx vite --port 3000",
            "npx vite --port=3000",
            "npx next dev -p 3000",
            "npx next dev -p3000",
            "python manage.py runserver 8001",
            "python manage.py runserver 0.0.0.0:8001",
            "vite build",
            "npx next build",
            "ng test",
            "npm run dev",
            "pnpm run dev",
            "node server.js",
            "python -m http.server",
            "npx",
            "python",
            "",
        ] {
            assert_eq!(added(line), None, "{line}");
        }
        // A `{port}` placeholder as typed is the command's own port.
        let typed: Vec<String> = ["vite", "--base", "/{port}/"].map(String::from).into();
        let run: Vec<String> = ["vite", "--base", "/1/"].map(String::from).into();
        assert_eq!(port_args(&run, &typed, 1), None);
    }

    #[test]
    fn every_flag_list_has_the_port() {
        for server in SERVERS {
            assert!(
                server.flags.iter().any(|f| f.contains("{port}")),
                "{}",
                server.name
            );
        }
    }
}
