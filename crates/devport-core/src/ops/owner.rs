//! Whose a live socket is: the one judgement `audit`, `doctor`, `check`, `kill`,
//! `wait --owned` and `claim` make of a socket on a project's port ([`judge`]), and which
//! container forwarders may speak for a socket ([`trusted_forwarder`]).
//!
//! A socket is a project's when every visible process holding it runs as the user running
//! devport and works inside the project's folder — its own current folder decides, and only
//! when that cannot be seen does the nearest ancestor's whose can — and the socket itself was
//! opened by that user. A folder inside the project's that is a project root of its own (a
//! nested checkout such as `.worktrees/feat`, a sub-project with its own `devport.toml`: see
//! [`crate::project::nested_root`]) and everything below it belong to that nested project,
//! not to the outer one. A port a trusted container forwarder holds is the container's: the
//! folder `docker compose` ran from decides for the forwarder, and every other process holding
//! the socket is judged as above.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::os::process;
use crate::os::sockets::{Container, Holder, Socket};

/// What devport concludes about whose a socket is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The project's (or, judged without a folder, the user's).
    Owned,
    /// Not the project's, and why.
    Foreign(Why),
    /// devport cannot tell, and why.
    Unknown(Why),
}

impl Verdict {
    /// The reason, unless the socket is owned.
    pub fn why(&self) -> Option<&Why> {
        match self {
            Verdict::Owned => None,
            Verdict::Foreign(why) | Verdict::Unknown(why) => Some(why),
        }
    }

    /// The worse of two verdicts: foreign over unknown over owned; the first of equals.
    fn or_worse(self, other: Verdict) -> Verdict {
        let rank = |v: &Verdict| match v {
            Verdict::Owned => 0,
            Verdict::Unknown(_) => 1,
            Verdict::Foreign(_) => 2,
        };
        if rank(&other) > rank(&self) {
            other
        } else {
            self
        }
    }
}

/// Why a socket is not, or may not be, a project's. Each reads as a clause (see `Display`):
/// names from processes and the engine are unescaped, so show it through `output::clean`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Why {
    /// A holder runs as another user (`holder` is `None` when it is the socket itself that
    /// another user opened).
    OtherUser {
        /// `pid 123 (node)`, when a holder is the one.
        holder: Option<String>,
        /// The user's name, or `uid N`.
        user: String,
    },
    /// The user a holder runs as cannot be seen.
    UserUnseen {
        /// `pid 123 (node)`.
        holder: String,
    },
    /// A holder works outside the project's folder, or in a project of its own inside it.
    Elsewhere {
        /// `pid 123 (node)`.
        holder: String,
        /// The ancestor whose folder decided, when the holder's own cannot be seen.
        via: Option<u32>,
        /// Where it works.
        folder: PathBuf,
        /// The root of the checkout or project of its own inside the project's folder that
        /// `folder` belongs to, when it is inside it (see [`crate::project::nested_root`]).
        nested: Option<PathBuf>,
        /// The project's folder.
        project: PathBuf,
    },
    /// Neither a holder's folder nor any ancestor's can be seen.
    FolderUnseen {
        /// `pid 123 (node)`.
        holder: String,
        /// The project's folder.
        project: PathBuf,
    },
    /// No process holding the socket can be seen.
    Unseen {
        /// The project's folder, when judged against one.
        project: Option<PathBuf>,
    },
    /// The socket forwards to a container that `docker compose` started in another folder.
    ContainerElsewhere {
        /// The container.
        container: Container,
        /// Where `docker compose` ran.
        started_in: PathBuf,
        /// The root of the checkout or project of its own inside the project's folder that
        /// `started_in` belongs to, when it is inside it.
        nested: Option<PathBuf>,
        /// The project's folder.
        project: PathBuf,
    },
    /// The socket forwards to a container, and the Docker Engine did not say which folder
    /// started it.
    ContainerUnknown {
        /// The container.
        container: Container,
        /// The project's folder.
        project: PathBuf,
    },
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::OtherUser {
                holder: Some(holder),
                user,
            } => write!(f, "{holder} runs as user {user}, not as you"),
            Why::OtherUser { holder: None, user } => {
                write!(f, "the socket was opened by user {user}, not by you")
            }
            Why::UserUnseen { holder } => {
                write!(f, "devport cannot see which user {holder} runs as")
            }
            Why::Elsewhere {
                holder,
                via,
                folder,
                nested,
                project,
            } => {
                write!(f, "{holder} works in {}", folder.display())?;
                if let Some(via) = via {
                    write!(
                        f,
                        " (its own folder cannot be seen; its ancestor pid {via} works there)"
                    )?;
                }
                not_in(f, nested.as_deref(), project)
            }
            Why::FolderUnseen { holder, project } => write!(
                f,
                "devport cannot see the folder of {holder}, so it cannot tell whether it works in {}",
                project.display()
            ),
            Why::Unseen { project } => {
                write!(f, "devport cannot see which process holds it")?;
                if let Some(project) = project {
                    write!(
                        f,
                        ", so it cannot tell whether it works in {}",
                        project.display()
                    )?;
                }
                Ok(())
            }
            Why::ContainerElsewhere {
                container,
                started_in,
                nested,
                project,
            } => {
                write!(
                    f,
                    "it is forwarded to {container}, started by docker compose in {}",
                    started_in.display(),
                )?;
                not_in(f, nested.as_deref(), project)
            }
            Why::ContainerUnknown { container, project } => write!(
                f,
                "it is forwarded to {container}, and devport cannot tell which folder started it (the Docker Engine did not say), so it cannot tell whether it belongs to {}",
                project.display()
            ),
        }
    }
}

/// The end of [`Why::Elsewhere`] and [`Why::ContainerElsewhere`]: `, not in PROJECT`, or which
/// project of its own inside it the folder belongs to.
fn not_in(f: &mut fmt::Formatter<'_>, nested: Option<&Path>, project: &Path) -> fmt::Result {
    match nested {
        Some(nested) => write!(
            f,
            ", which belongs to the checkout or project {} (a .git or {} of its own), not to {}",
            nested.display(),
            crate::project::MANIFEST,
            project.display()
        ),
        None => write!(f, ", not in {}", project.display()),
    }
}

/// Whose `socket` is (its holders resolved and its container end annotated), judged against
/// the project folder `project` (canonical), or, without one, against the user alone. The
/// user is the one running devport: root too judges a process of another user as not its own.
pub fn judge(socket: &Socket, project: Option<&Path>) -> Verdict {
    judge_as(
        socket,
        project,
        process::current_uid(),
        process::folder,
        |dir, project| Place::of(dir, project, nested_root),
    )
}

thread_local! {
    /// [`crate::project::nested_root`]'s answers, by folder and project root, for the life of
    /// the thread (one command): [`judge`] runs per socket, and the holders of a project's
    /// sockets mostly share a few folders.
    static NESTED: RefCell<HashMap<(PathBuf, PathBuf), Option<PathBuf>>> = RefCell::default();
}

/// [`crate::project::nested_root`], memoised in [`NESTED`].
fn nested_root(folder: &Path, project: &Path) -> Option<PathBuf> {
    NESTED.with_borrow_mut(|memo| {
        memo.entry((folder.to_path_buf(), project.to_path_buf()))
            .or_insert_with(|| crate::project::nested_root(folder, project).map(Path::to_path_buf))
            .clone()
    })
}

/// Where a folder is, seen from a project's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// In the project: its folder or one below it that no project of its own holds.
    Inside,
    /// In a project of its own (this root) inside the project's folder.
    Nested(PathBuf),
    /// Outside the project's folder.
    Outside,
}

impl Place {
    /// Where `dir` is, seen from `project`, with `nested` finding a project of its own
    /// between them (see [`crate::project::nested_root`]).
    fn of(dir: &Path, project: &Path, nested: impl Fn(&Path, &Path) -> Option<PathBuf>) -> Place {
        if !dir.starts_with(project) {
            return Place::Outside;
        }
        nested(dir, project).map_or(Place::Inside, Place::Nested)
    }

    /// The root of the project of its own, when it is one.
    fn nested(self) -> Option<PathBuf> {
        match self {
            Place::Nested(root) => Some(root),
            Place::Inside | Place::Outside => None,
        }
    }
}

/// [`judge`] for the user `me` (`None`: no Unix users), with `folder` giving where a process
/// works (see [`process::folder`]) and `place` where a folder is, seen from the project's.
fn judge_as(
    socket: &Socket,
    project: Option<&Path>,
    me: Option<u32>,
    folder: impl Fn(u32) -> Option<(u32, PathBuf)>,
    place: impl Fn(&Path, &Path) -> Place,
) -> Verdict {
    let other = |uid: Option<u32>| uid.filter(|&u| me.is_some_and(|me| me != u));
    if let Some(c) = &socket.container {
        // The container decides for its forwarder only; any other holder of the socket (a
        // child it forked, a process it was passed to) is judged as any process.
        return socket
            .holders
            .iter()
            .filter(|h| c.forwarder != Some(h.pid))
            .fold(container_verdict(c, project, &place), |verdict, h| {
                verdict.or_worse(holder_verdict(h, project, me, other, &folder, &place))
            });
    }
    let name =
        |uid: u32, user: Option<&String>| user.cloned().unwrap_or_else(|| format!("uid {uid}"));
    let mut verdict = match other(socket.uid) {
        Some(uid) => Verdict::Foreign(Why::OtherUser {
            holder: None,
            user: name(uid, socket.user.as_ref()),
        }),
        None if socket.holders.is_empty() => Verdict::Unknown(Why::Unseen {
            project: project.map(Path::to_path_buf),
        }),
        None => Verdict::Owned,
    };
    for h in &socket.holders {
        verdict = verdict.or_worse(holder_verdict(h, project, me, other, &folder, &place));
    }
    // A holder's own reason names the process: it goes before the socket's.
    if let Verdict::Foreign(Why::OtherUser { holder: None, .. }) = verdict
        && let Some(named) = socket.holders.iter().find_map(|h| {
            other(h.uid).map(|uid| Why::OtherUser {
                holder: Some(h.label()),
                user: name(uid, h.user.as_ref()),
            })
        })
    {
        return Verdict::Foreign(named);
    }
    verdict
}

/// One holder: its user, then its folder.
fn holder_verdict(
    h: &Holder,
    project: Option<&Path>,
    me: Option<u32>,
    other: impl Fn(Option<u32>) -> Option<u32>,
    folder: impl Fn(u32) -> Option<(u32, PathBuf)>,
    place: impl Fn(&Path, &Path) -> Place,
) -> Verdict {
    if let Some(uid) = other(h.uid) {
        return Verdict::Foreign(Why::OtherUser {
            holder: Some(h.label()),
            user: h.user.clone().unwrap_or_else(|| format!("uid {uid}")),
        });
    }
    if me.is_some() && h.uid.is_none() {
        return Verdict::Unknown(Why::UserUnseen { holder: h.label() });
    }
    let Some(project) = project else {
        return Verdict::Owned;
    };
    match folder(h.pid).map(|(at, dir)| (at, place(&dir, project), dir)) {
        Some((_, Place::Inside, _)) => Verdict::Owned,
        Some((at, place, dir)) => Verdict::Foreign(Why::Elsewhere {
            holder: h.label(),
            via: (at != h.pid).then_some(at),
            folder: dir,
            nested: place.nested(),
            project: project.to_path_buf(),
        }),
        None => Verdict::Unknown(Why::FolderUnseen {
            holder: h.label(),
            project: project.to_path_buf(),
        }),
    }
}

/// A container's port: the folder `docker compose` ran from decides.
fn container_verdict(
    c: &Container,
    project: Option<&Path>,
    place: impl Fn(&Path, &Path) -> Place,
) -> Verdict {
    let Some(project) = project else {
        return Verdict::Owned;
    };
    let at = |w: &PathBuf| {
        place(
            &std::fs::canonicalize(w).unwrap_or_else(|_| w.clone()),
            project,
        )
    };
    match c.working_dir.as_ref().map(|w| (at(w), w)) {
        Some((Place::Inside, _)) => Verdict::Owned,
        Some((there, w)) => Verdict::Foreign(Why::ContainerElsewhere {
            container: c.clone(),
            started_in: w.clone(),
            nested: there.nested(),
            project: project.to_path_buf(),
        }),
        None => Verdict::Unknown(Why::ContainerUnknown {
            container: c.clone(),
            project: project.to_path_buf(),
        }),
    }
}

/// A project's own server on a port: the processes holding its sockets, every one of which
/// [`judge`] finds the project's. Serialized in `check --json` as `running`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Running {
    /// Each process holding the sockets, `pid 1670 (node)`, in pid order (unescaped: show it
    /// through `output::clean`).
    pub holders: Vec<String>,
    /// When the earliest of them started, where the OS tells.
    pub since: Option<jiff::Timestamp>,
}

impl Running {
    /// The project folder `project`'s own server on `sockets`: `Some` when there is a socket,
    /// every one has a visible holder, and [`judge`] finds each the project's. Another user's,
    /// another folder's or an unseen process is never one, and neither is a socket judged
    /// without a project.
    pub fn of<'a>(
        sockets: impl IntoIterator<Item = &'a Socket>,
        project: Option<&Path>,
    ) -> Option<Running> {
        let project = project?;
        let mut holders: Vec<&Holder> = Vec::new();
        for s in sockets {
            if s.holders.is_empty() || judge(s, Some(project)) != Verdict::Owned {
                return None;
            }
            holders.extend(&s.holders);
        }
        holders.sort_by_key(|h| h.pid);
        holders.dedup_by_key(|h| h.pid);
        let since = holders.iter().filter_map(|h| process::started(h.pid)).min();
        (!holders.is_empty()).then(|| Running {
            holders: holders.iter().map(|h| h.label()).collect(),
            since,
        })
    }
}

/// Whether a container forwarder running as `uid` may speak for a socket: only one of root's
/// (rootful Docker) or of the user running devport (rootless Docker), never one of another
/// user, whatever it is called and whatever its arguments say.
pub fn trusted_forwarder(uid: u32) -> bool {
    uid == 0 || process::current_uid() == Some(uid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::types::Transport;

    const ME: u32 = 1000;

    fn holder(pid: u32, uid: Option<u32>) -> Holder {
        Holder {
            pid,
            process: Some(format!("p{pid}")),
            uid,
            user: None,
        }
    }

    fn socket(uid: Option<u32>, holders: Vec<Holder>) -> Socket {
        Socket {
            proto: Transport::Tcp,
            address: std::net::Ipv4Addr::LOCALHOST.into(),
            port: 4242,
            pid: holders.first().map(|h| h.pid),
            process: None,
            uid,
            user: None,
            holders,
            container: None,
            inode: 0,
        }
    }

    /// Folders: pid 10 works in /shop/app, 20 in /, 30's cannot be seen but its parent 10's
    /// can, 40 shows nothing, 50 works in /shop/wt/src (a checkout of its own).
    fn folder(pid: u32) -> Option<(u32, PathBuf)> {
        match pid {
            10 | 30 => Some((10, "/shop/app".into())),
            20 => Some((20, "/".into())),
            50 => Some((50, "/shop/wt/src".into())),
            _ => None,
        }
    }

    /// Where a folder is: `/shop/wt` is a checkout of its own inside `/shop`.
    fn place(dir: &Path, project: &Path) -> Place {
        Place::of(dir, project, |dir, _| {
            dir.starts_with("/shop/wt").then(|| "/shop/wt".into())
        })
    }

    fn judged(s: &Socket) -> Verdict {
        judge_as(s, Some(Path::new("/shop")), Some(ME), folder, place)
    }

    #[test]
    fn every_holder_must_be_the_users_and_work_in_the_project() {
        let mine = socket(Some(ME), vec![holder(10, Some(ME))]);
        assert_eq!(judged(&mine), Verdict::Owned);
        // Shared with a parent working in `/`: not the project's, and the parent is named.
        let shared = socket(Some(ME), vec![holder(10, Some(ME)), holder(20, Some(ME))]);
        let v = judged(&shared);
        assert!(
            matches!(&v, Verdict::Foreign(Why::Elsewhere { holder, via: None, .. }) if holder == "pid 20 (p20)"),
            "{v:?}"
        );
        assert_eq!(
            v.why().map(ToString::to_string).as_deref(),
            Some("pid 20 (p20) works in /, not in /shop")
        );
        // Its own folder unseen: the nearest ancestor's decides, and is named.
        let v = judged(&socket(Some(ME), vec![holder(30, Some(ME))]));
        assert_eq!(v, Verdict::Owned);
        let v = judged(&socket(Some(ME), vec![holder(40, Some(ME))]));
        assert!(
            matches!(v, Verdict::Unknown(Why::FolderUnseen { .. })),
            "{v:?}"
        );
        // Inside the project's folder, but in a checkout of its own: not the project's.
        let v = judged(&socket(Some(ME), vec![holder(50, Some(ME))]));
        assert_eq!(
            v.why().map(ToString::to_string).as_deref(),
            Some(
                "pid 50 (p50) works in /shop/wt/src, which belongs to the checkout or project /shop/wt (a .git or devport.toml of its own), not to /shop"
            )
        );
    }

    #[test]
    fn another_users_socket_is_foreign_even_in_the_project() {
        for s in [
            socket(Some(65534), vec![holder(10, Some(65534))]),
            // Opened by root, handed to the user's process.
            socket(Some(0), vec![holder(10, Some(ME))]),
            // No holder visible, the socket's user known.
            socket(Some(0), vec![]),
            // A holder of another user beside the user's own.
            socket(Some(ME), vec![holder(10, Some(ME)), holder(11, Some(0))]),
        ] {
            let v = judged(&s);
            assert!(
                matches!(v, Verdict::Foreign(Why::OtherUser { .. })),
                "{s:?}: {v:?}"
            );
        }
        let v = judged(&socket(Some(65534), vec![holder(10, Some(65534))]));
        assert_eq!(
            v.why().map(ToString::to_string).as_deref(),
            Some("pid 10 (p10) runs as user uid 65534, not as you")
        );
        // Root is a user like any other.
        let v = judge_as(
            &socket(Some(65534), vec![holder(10, Some(65534))]),
            Some(Path::new("/shop")),
            Some(0),
            folder,
            place,
        );
        assert!(
            matches!(v, Verdict::Foreign(Why::OtherUser { .. })),
            "{v:?}"
        );
    }

    #[test]
    fn what_cannot_be_seen_is_unknown_and_foreign_wins() {
        let v = judged(&socket(Some(ME), vec![]));
        assert!(matches!(v, Verdict::Unknown(Why::Unseen { .. })), "{v:?}");
        let v = judged(&socket(Some(ME), vec![holder(10, None)]));
        assert!(
            matches!(v, Verdict::Unknown(Why::UserUnseen { .. })),
            "{v:?}"
        );
        let v = judged(&socket(
            Some(ME),
            vec![holder(40, Some(ME)), holder(20, Some(ME))],
        ));
        assert!(
            matches!(v, Verdict::Foreign(Why::Elsewhere { .. })),
            "{v:?}"
        );
        // Without a folder, only the user is judged.
        let v = judge_as(
            &socket(Some(ME), vec![holder(20, Some(ME))]),
            None,
            Some(ME),
            folder,
            place,
        );
        assert_eq!(v, Verdict::Owned);
    }

    /// This test process, working in the crate's folder, is that folder's own server and no
    /// other folder's; a socket with no visible holder, or judged without a project, is none.
    #[cfg(target_os = "linux")]
    #[test]
    fn running_is_a_projects_own_server_and_nothing_else() {
        let me = std::process::id();
        let mine = Socket {
            uid: process::current_uid(),
            ..socket(None, vec![holder(me, process::current_uid())])
        };
        let here = std::fs::canonicalize(env!("CARGO_MANIFEST_DIR")).expect("crate folder");
        let running = Running::of([&mine], Some(&here)).expect("its own server");
        assert_eq!(running.holders, [format!("pid {me} (p{me})")]);
        assert!(running.since.is_some_and(|t| t <= jiff::Timestamp::now()));
        assert_eq!(
            Running::of([&mine], Some(Path::new("/nonexistent/shop"))),
            None
        );
        assert_eq!(Running::of([&mine], None), None);
        assert_eq!(
            Running::of([&socket(process::current_uid(), vec![])], Some(&here)),
            None
        );
        assert_eq!(Running::of(std::iter::empty(), Some(&here)), None);
    }

    #[test]
    fn a_containers_port_is_judged_by_its_compose_folder() {
        let container = |working_dir: Option<&str>| Container {
            ip: [172, 17, 0, 2].into(),
            port: 5432,
            name: None,
            working_dir: working_dir.map(PathBuf::from),
            forwarder: Some(20),
        };
        let with = |c| Socket {
            container: Some(c),
            ..socket(Some(0), vec![holder(20, Some(0))])
        };
        // Another holder of the forwarder's socket is judged as any process: by its user, then
        // by its folder (red team 2, finding 2).
        let shared = |c, h| Socket {
            container: Some(c),
            ..socket(Some(0), vec![holder(20, Some(0)), h])
        };
        let v = judged(&shared(
            container(Some("/shop/db")),
            holder(10, Some(65534)),
        ));
        assert!(
            matches!(v, Verdict::Foreign(Why::OtherUser { .. })),
            "{v:?}"
        );
        let v = judged(&shared(container(Some("/shop/db")), holder(40, Some(ME))));
        assert!(
            matches!(v, Verdict::Unknown(Why::FolderUnseen { .. })),
            "{v:?}"
        );
        assert_eq!(judged(&with(container(Some("/shop/db")))), Verdict::Owned);
        let v = judged(&with(container(Some("/blog"))));
        assert!(
            matches!(
                v,
                Verdict::Foreign(Why::ContainerElsewhere { nested: None, .. })
            ),
            "{v:?}"
        );
        let v = judged(&with(container(Some("/shop/wt/db"))));
        assert!(
            matches!(&v, Verdict::Foreign(Why::ContainerElsewhere { nested: Some(n), .. }) if n == Path::new("/shop/wt")),
            "{v:?}"
        );
        let v = judged(&with(container(None)));
        assert!(
            matches!(v, Verdict::Unknown(Why::ContainerUnknown { .. })),
            "{v:?}"
        );
    }
}
