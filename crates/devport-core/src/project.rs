//! Finding the project a command runs in, and reading its `devport.toml` manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::env::computed::Template;
use crate::error::{Error, Result, position, toml_message};
use crate::model::toml_value::toml_table;
use crate::model::types::Proto;
use crate::store::registry::{Claim, Registry};

/// The manifest file name.
pub const MANIFEST: &str = "devport.toml";

/// A project: the unit that owns claims.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Project {
    /// Display name: `name` from `devport.toml`, else the folder name (a linked worktree's:
    /// its main worktree's folder name, see [`Checkout`]).
    pub name: String,
    /// The canonical folder, the key of its claims; `None` for global claims.
    pub path: Option<PathBuf>,
    #[doc(hidden)]
    /// The parsed manifest, if the project has one.
    pub manifest: Option<Manifest>,
    /// Which checkout of its repository the folder is (see [`Checkout`]).
    pub checkout: Checkout,
}

/// Which checkout of a repository a project folder is: users run many checkouts of one
/// project at once (git worktrees, a second clone), and a port the manifest pins belongs to
/// one of them only.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Checkout {
    /// Not a linked git worktree: a repository's main worktree, a clone, a folder outside git,
    /// or global claims.
    #[default]
    Main,
    /// A linked git worktree: its `.git` is a file `gitdir: <common>/worktrees/<id>`.
    Linked {
        /// The worktree's id, `<id>` (unique within its repository: git makes it so).
        id: String,
        /// The project's folder in the main worktree (the main checkout), as the system
        /// resolves it.
        main: PathBuf,
    },
}

impl Checkout {
    /// The checkout of the project folder `root` (canonical): the first `.git` at or above it
    /// that this user owns decides. Only a `.git` file naming `<common>/worktrees/<id>`, a
    /// folder with git's `commondir` file, of a repository that is not bare and that this user
    /// owns, makes a linked worktree; anything unreadable or unusual is the main checkout, so a folder never loses
    /// its pinned ports to a guess.
    pub fn of(root: &Path) -> Checkout {
        root.ancestors()
            .map(|dir| (dir, dir.join(".git")))
            .find(|(_, git)| std::fs::symlink_metadata(git).is_ok())
            .filter(|(_, git)| crate::os::fsutil::untrusted(git).is_none())
            .and_then(|(dir, git)| Checkout::linked(root, dir, &git))
            .unwrap_or_default()
    }

    /// A linked worktree whose top folder is `top` (holding the `.git` file `git`), for the
    /// project folder `root` inside it.
    fn linked(root: &Path, top: &Path, git: &Path) -> Option<Checkout> {
        if !std::fs::symlink_metadata(git).ok()?.is_file() {
            return None;
        }
        let bytes = crate::os::fsutil::read_regular(git, "git file").ok()??;
        let text = String::from_utf8(bytes).ok()?;
        // Read as git reads it: `gitdir: ` and the path up to the line breaks at the end (so
        // a folder name may hold a line break or end in a space).
        let target = text
            .strip_prefix("gitdir: ")?
            .trim_end_matches(['\n', '\r']);
        let target = top.join(target);
        let worktrees = target.parent()?;
        // Git's own mark of a linked worktree's folder is its `commondir` file (a clone made
        // with `--separate-git-dir` into a folder named `worktrees` has none).
        if worktrees.file_name()? != "worktrees"
            || !std::fs::symlink_metadata(target.join("commondir")).is_ok_and(|m| m.is_file())
        {
            return None;
        }
        let id = target.file_name()?.to_str()?.to_string();
        let common = worktrees.parent()?;
        // A worktree of a bare repository (`app.git/worktrees/<id>`, or one cloned bare into
        // `app/.git`) has no main worktree to leave a pinned port to: it counts as a checkout
        // of its own, as a clone does. So does a worktree of another user's repository (git
        // refuses those too, "dubious ownership"): their folder names nothing of this user's.
        if common.file_name()? != ".git"
            || is_bare(common)
            || crate::os::fsutil::untrusted(common).is_some()
        {
            return None;
        }
        // Named and shown as the system resolves it (the `.git` file may name it through a
        // link or with `..`); a main worktree that is gone leaves no one to yield to.
        let main = dunce::canonicalize(common.parent()?).ok()?;
        let inside = root.strip_prefix(top).ok()?;
        // `join("")` would add a trailing separator.
        let main = if inside.as_os_str().is_empty() {
            main
        } else {
            main.join(inside)
        };
        Some(Checkout::Linked { id, main })
    }

    /// The worktree id of a linked worktree; `None` for the main checkout.
    pub fn id(&self) -> Option<&str> {
        match self {
            Checkout::Main => None,
            Checkout::Linked { id, .. } => Some(id),
        }
    }
}

impl Project {
    /// Appends to `vars` (the `*_PORT` variables, which they must not meet: exit 2) the computed
    /// variables of the manifest's `[env]` table (see [`crate::env::computed`]), after `prefix`, with
    /// the ports of the project's claims in `reg`.
    /// A value that reads a port no claim holds (the service is not claimed yet, or its block is
    /// smaller) is left out; the returned list gives each one's name and a note with the fix
    /// (a `.env` being written drops its old line: an old port is worse than none).
    pub fn computed_vars(
        &self,
        reg: &Registry,
        prefix: &str,
        vars: &mut Vec<(String, String)>,
    ) -> Result<Vec<(String, String)>> {
        let Some(manifest) = &self.manifest else {
            return Ok(Vec::new());
        };
        let claims: Vec<&Claim> = reg
            .claims
            .iter()
            .filter(|c| c.project_path == self.path)
            .collect();
        let checkout = self.checkout_name(reg);
        let mut notes = Vec::new();
        let mut out = Vec::with_capacity(manifest.computed.len());
        for (name, template) in &manifest.computed {
            let name = format!("{prefix}{name}");
            if let Some(why) = crate::env::names::name_problem(&name) {
                return Err(Error::invalid(
                    crate::error::Input::Variable,
                    format!(
                        "--prefix {prefix} makes the [env] variable {name}, which cannot be used: {why}; choose another --prefix"
                    ),
                ));
            }
            if let Some((theirs, _)) = vars.iter().find(|(k, _)| k.eq_ignore_ascii_case(&name)) {
                return Err(Error::invalid(
                    crate::error::Input::Variable,
                    crate::env::computed::collision(&name, theirs),
                ));
            }
            match template.render(&self.name, &checkout, &claims) {
                Ok(value) => {
                    if let Some(why) = crate::env::dotenv::dotenv_problem(&value) {
                        return Err(Error::invalid(
                            crate::error::Input::Variable,
                            format!(
                                "[env] {name} becomes {value:?} with the project name {:?}, which cannot be written to .env files: {why}; give the project another name (name = \"...\" in {})",
                                self.name,
                                MANIFEST
                            ),
                        ));
                    }
                    out.push((name, value));
                }
                Err((service, index)) => notes.push((name.clone(), match claims.iter().find(|c| c.service == service) {
                    Some(claim) => format!(
                        "{name} is not set: it reads port {index} of {service}, whose block has {} port(s) (places 0-{}); run 'devport up --move' to apply the manifest's count",
                        claim.block.count,
                        claim.block.count.saturating_sub(1)
                    ),
                    None => format!(
                        "{name} is not set: it reads the port of {service}, which is not claimed yet; run 'devport up'"
                    ),
                })),
            }
        }
        vars.extend(out);
        Ok(notes)
    }

    /// The `*_PORT` variables of this project's claims in `reg` (or only of `services`, when
    /// given), after `prefix`, named as `names` says (service → name; see
    /// [`Project::env_names`]), in the order of the services' names: a moved port does not
    /// reorder the lines of a `.env` file.
    pub fn port_vars(
        &self,
        reg: &Registry,
        services: Option<&[&str]>,
        prefix: &str,
        names: &BTreeMap<String, String>,
    ) -> Result<Vec<(String, String)>> {
        let mut claims: Vec<&Claim> = reg
            .claims
            .iter()
            .filter(|c| {
                c.project_path == self.path
                    && services.is_none_or(|s| s.contains(&c.service.as_str()))
            })
            .collect();
        claims.sort_by(|a, b| a.service.cmp(&b.service));
        crate::env::names::vars(&claims, names, prefix)
    }

    /// The folder that is the project only because nothing above it made one: no manifest
    /// and no `.git` in it (the last resort of [`Project::detect`]), such as a home folder or
    /// `/tmp`; `None` for a project found by its manifest or repository, and for `--global`.
    pub fn bare_folder(&self) -> Option<&Path> {
        let path = self.path.as_deref()?;
        (self.manifest.is_none() && std::fs::symlink_metadata(path.join(".git")).is_err())
            .then_some(path)
    }

    /// The pseudo-project of claims made with `--global`.
    pub fn global() -> Project {
        Project {
            name: "global".to_string(),
            path: None,
            manifest: None,
            checkout: Checkout::Main,
        }
    }

    /// Finds the project of `start` (a folder), as the command line does: going up from
    /// `start`, the first folder with a `devport.toml` this user can trust, or the first with
    /// a `.git`, whichever comes first; else `start` itself. A manifest another user owns, or
    /// one in a folder every user may write, is skipped. The top of the file system is never a
    /// project.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let shop = dir.path().join("shop");
    /// # std::fs::create_dir_all(shop.join(".git"))?;
    /// # std::fs::create_dir_all(shop.join("src"))?;
    /// use devport_core::Project;
    ///
    /// // In a git checkout `shop` with no devport.toml, a subfolder belongs to `shop`.
    /// let project = Project::detect(&shop.join("src"))?;
    /// assert_eq!(project.name, "shop");
    /// # assert_eq!(project.path, Some(dunce::canonicalize(&shop)?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn detect(start: &Path) -> Result<Project> {
        Project::detect_with_warnings(start).map(|(project, _)| project)
    }

    /// Finds the project of `start` (a folder: a file is refused, exit 2): going up from
    /// `start`, the first folder with a
    /// `devport.toml` this user can trust, or the first with a `.git` (a folder, or a
    /// worktree's file), whichever comes first; else `start` itself. A manifest above the git
    /// root belongs to something else and is never read. A manifest another user owns, or one
    /// in a folder every user may write, is skipped (see [`crate::os::fsutil::untrusted`]): the project behaves as
    /// if it were not there, and the returned warnings say so, as git does for an unsafe
    /// repository. The top of the file system (`/`) is never a project (exit 2): claims there
    /// belong with `--global`. A home folder is a project like any other folder.
    pub fn detect_with_warnings(start: &Path) -> Result<(Project, Vec<String>)> {
        let start = dunce::canonicalize(start).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::invalid(
                crate::error::Input::Folder,
                format!(
                    "project folder {} does not exist; check --project or the current folder",
                    start.display()
                ),
            ),
            _ => Error::io("cannot open project folder", start, e),
        })?;
        if !start.is_dir() {
            return Err(Error::invalid(
                crate::error::Input::Folder,
                format!(
                    "{} is a file, not a project folder; give a folder (--project DIR)",
                    start.display()
                ),
            ));
        }
        let mut warnings = Vec::new();
        let mut found = None;
        for dir in start.ancestors() {
            match root_mark(dir, &mut warnings) {
                Some(Mark::Manifest(path)) => {
                    found = Some((dir.to_path_buf(), Manifest::load(&path)?));
                    break;
                }
                Some(Mark::Git) => {
                    found = Some((dir.to_path_buf(), None));
                    break;
                }
                None => {}
            }
        }
        let (root, manifest) = found.unwrap_or((start, None));
        check_utf8(&root)?;
        if root.parent().is_none() {
            return Err(Error::invalid(
                crate::error::Input::Folder,
                format!(
                    "{} is the top of the file system, not a project folder; run devport inside a project's folder (or give it with --project DIR), or use --global for claims that belong to no project",
                    root.display()
                ),
            ));
        }
        let checkout = Checkout::of(&root);
        // A linked worktree is a checkout of its main worktree's project: without a `name` in
        // the manifest it goes by that folder's name, not its own (`../shop-login` is `shop`).
        let folder = match &checkout {
            Checkout::Linked { main, .. } => main.as_path(),
            Checkout::Main => root.as_path(),
        };
        let name = manifest
            .as_ref()
            .and_then(|m| m.name.clone())
            .or_else(|| {
                let name = folder.file_name().or_else(|| root.file_name())?;
                Some(name.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| root.display().to_string());
        // `{project}` puts the folder's name into `[env]` values: checked now, before anything
        // is claimed, as the manifest's own text was when it was read.
        if let Some(m) = &manifest {
            for (var, template) in &m.computed {
                if let Some(why) = template.problem(&name) {
                    return Err(Error::manifest(
                        &root.join(MANIFEST),
                        format!(
                            "[env] {var} puts the project name {name:?} into a value that cannot be written to .env files: {why}; give the project a plain name (name = \"...\")"
                        ),
                    ));
                }
            }
        }
        let project = Project {
            name,
            checkout,
            path: Some(root),
            manifest,
        };
        Ok((project, warnings))
    }
}

/// Whether the git folder `common` is a bare repository's: its `config` says `bare = true` in
/// `[core]` (git's own rule; the last setting wins). Unreadable is not bare.
fn is_bare(common: &Path) -> bool {
    let Ok(Some(bytes)) = crate::os::fsutil::read_regular(&common.join("config"), "git config")
    else {
        return false;
    };
    let mut core = false;
    let mut bare = false;
    for line in String::from_utf8_lossy(&bytes).lines() {
        let line = line.split(['#', ';']).next().unwrap_or_default().trim();
        if let Some(section) = line.strip_prefix('[') {
            core = section
                .trim_end_matches(']')
                .trim()
                .eq_ignore_ascii_case("core");
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .map_or((line, "true"), |(k, v)| (k.trim(), v.trim()));
        if core && key.eq_ignore_ascii_case("bare") {
            bare = ["true", "yes", "on", "1"]
                .iter()
                .any(|t| value.eq_ignore_ascii_case(t));
        }
    }
    bare
}

/// What makes a folder a project root (see [`root_mark`]).
enum Mark {
    /// Its `devport.toml`, at this path.
    Manifest(PathBuf),
    /// Its `.git`: a folder, or a worktree's or submodule's file.
    Git,
}

/// What makes the folder `dir` a project root for [`Project::detect`]: a `devport.toml`, else
/// a `.git`, that this user can trust. Both are only looked at (`stat`), never read or
/// followed. One another user owns, or one in a folder every user may write, is skipped (see
/// [`crate::os::fsutil::untrusted`]): someone else's `.git` (say in /tmp) would merge
/// unrelated folders into one project. `skipped` gets why, in a line.
fn root_mark(dir: &Path, skipped: &mut Vec<String>) -> Option<Mark> {
    let path = dir.join(MANIFEST);
    if let Some(why) = crate::os::fsutil::untrusted(&path) {
        skipped.push(format!("skipped manifest {}: {why}", path.display()));
    } else if std::fs::symlink_metadata(&path).is_ok() {
        return Some(Mark::Manifest(path));
    }
    let git = dir.join(".git");
    std::fs::symlink_metadata(&git).ok()?;
    if let Some(why) = crate::os::fsutil::untrusted(&git) {
        skipped.push(format!(
            "skipped {} as a project root: {why}",
            git.display()
        ));
        return None;
    }
    Some(Mark::Git)
}

/// The project root of its own that the folder `folder` (canonical) is in, between it and
/// the project root `root` that holds it: the nearest folder at or above `folder`, and below
/// `root`, that [`Project::detect`] would take for a root (a nested checkout such as
/// `.worktrees/feat`, a submodule, a sub-project with its own `devport.toml`). `None` when
/// there is none, so that `folder` is `root`'s own, and when `folder` is not inside `root`.
/// A few `stat` calls per folder between the two; nothing is read.
pub fn nested_root<'a>(folder: &'a Path, root: &Path) -> Option<&'a Path> {
    let depth = folder.strip_prefix(root).ok()?.components().count();
    folder
        .ancestors()
        .take(depth)
        .find(|dir| root_mark(dir, &mut Vec::new()).is_some())
}

/// The name the main checkout of a project goes by (`{checkout}`, `list`, `check`); no other
/// checkout is given it.
pub const MAIN_CHECKOUT: &str = "main";

/// The names of the checkouts of one project (see [`Checkout`]), in the order of `folders`
/// (its distinct folders, each with when its oldest claim was made and the name its claims
/// keep, if any). Every name is a DNS label (see [`crate::model::input::dns_label`]) and they
/// are all different:
///
/// - a name a folder's claims keep (from when it first claimed) stays its name, so names do
///   not move as other checkouts come and go (a `gc`, a `release --all` and `up` elsewhere);
/// - the main checkout is [`MAIN_CHECKOUT`]: the folder that keeps that name, else, of the
///   folders that are not linked worktrees and keep no name, the one with the oldest claim
///   (then the smallest path); when every folder is a linked worktree, none is;
/// - a linked worktree is named by its worktree id, any other checkout (a second clone) by its
///   folder's name;
/// - when names meet (two clones both called `shop`, a worktree called `main`), a kept name
///   comes first, then the oldest; the others take `-2`, `-3` … (the first free).
pub fn checkout_names(folders: &[(&Path, jiff::Timestamp, Option<&str>)]) -> Vec<String> {
    use crate::model::input::{dns_label, unique_labels};
    // Each folder that keeps no name is looked at once (a few `stat`s, a worktree's `.git`).
    let checkouts: Vec<Option<Checkout>> = folders
        .iter()
        .map(|(path, _, kept)| kept.is_none().then(|| Checkout::of(path)))
        .collect();
    let kept_main = folders
        .iter()
        .position(|(_, _, kept)| *kept == Some(MAIN_CHECKOUT));
    let main = kept_main.or_else(|| {
        (0..folders.len())
            .filter(|&i| checkouts[i] == Some(Checkout::Main))
            .min_by(|&a, &b| (folders[a].1, folders[a].0).cmp(&(folders[b].1, folders[b].0)))
    });
    let plain: Vec<String> = folders
        .iter()
        .zip(&checkouts)
        .map(
            |((path, _, kept), checkout)| match (kept, checkout.as_ref().and_then(Checkout::id)) {
                (Some(name), _) => (*name).to_string(),
                (None, Some(id)) => dns_label(id),
                (None, None) => dns_label(&path.file_name().unwrap_or_default().to_string_lossy()),
            },
        )
        .collect();
    let others: Vec<usize> = (0..folders.len()).filter(|&i| Some(i) != main).collect();
    let given = unique_labels(
        &others.iter().map(|&i| plain[i].clone()).collect::<Vec<_>>(),
        &others
            .iter()
            .map(|&i| (folders[i].2.is_none(), folders[i].1, folders[i].0))
            .collect::<Vec<_>>(),
        MAIN_CHECKOUT,
    );
    let mut names = vec![MAIN_CHECKOUT.to_string(); folders.len()];
    for (i, name) in others.into_iter().zip(given) {
        names[i] = name;
    }
    names
}

/// The checkout name of every folder of `claims` (global claims have none), the checkouts of
/// one project being the folders whose claims have the same `group` key (the project's name,
/// or what a host name makes of it): see [`checkout_names`].
pub fn claim_checkouts<'c, K: Ord>(
    claims: impl IntoIterator<Item = &'c Claim>,
    group: impl Fn(&Claim) -> K,
) -> std::collections::HashMap<&'c Path, String> {
    let mut groups: BTreeMap<K, Vec<&'c Claim>> = BTreeMap::new();
    for claim in claims {
        groups.entry(group(claim)).or_default().push(claim);
    }
    groups
        .into_values()
        .flat_map(|claims| {
            let folders = folders_of(claims);
            let names = checkout_names(&folders);
            folders.into_iter().map(|(p, ..)| p).zip(names)
        })
        .collect()
}

/// Each folder of `claims` with when its oldest claim was made and the checkout name its
/// claims keep (global claims left out).
fn folders_of<'c>(
    claims: impl IntoIterator<Item = &'c Claim>,
) -> Vec<(&'c Path, jiff::Timestamp, Option<&'c str>)> {
    let mut folders: BTreeMap<&Path, (jiff::Timestamp, Option<&str>)> = BTreeMap::new();
    for claim in claims {
        if let Some(path) = claim.project_path.as_deref() {
            let at = folders.entry(path).or_insert((claim.created, None));
            at.0 = at.0.min(claim.created);
            at.1 = at.1.or(claim.checkout.as_deref());
        }
    }
    folders.into_iter().map(|(p, (t, k))| (p, t, k)).collect()
}

impl Project {
    /// The name of this project's checkout among the project's claims in `reg` (see
    /// [`checkout_names`]; a folder without claims yet counts as the newest);
    /// [`MAIN_CHECKOUT`] for global claims, which have one place only.
    pub fn checkout_name(&self, reg: &Registry) -> String {
        let Some(own) = self.path.as_deref() else {
            return MAIN_CHECKOUT.to_string();
        };
        let mut folders = folders_of(reg.claims.iter().filter(|c| c.project == self.name));
        if !folders.iter().any(|(p, ..)| *p == own) {
            folders.push((own, jiff::Timestamp::MAX, None));
        }
        let at = folders.iter().position(|(p, ..)| *p == own).unwrap_or(0);
        checkout_names(&folders)
            .into_iter()
            .nth(at)
            .unwrap_or_else(|| MAIN_CHECKOUT.to_string())
    }
}

/// The registry is JSON text, so a project folder must have a UTF-8 path to be recorded: one
/// that has not is refused (exit 2) before anything is read or written.
pub fn check_utf8(path: &Path) -> Result<()> {
    if path.to_str().is_some() {
        return Ok(());
    }
    Err(Error::invalid(
        crate::error::Input::Folder,
        format!(
            "the project folder {} has a name that is not valid UTF-8, which the registry cannot record; rename the folder, or use --global",
            path.display()
        ),
    ))
}

/// What can be said about a claim's project folder.
#[derive(Debug)]
pub enum FolderState {
    /// It exists and is a folder.
    Present,
    /// It does not exist: the path, or a folder on the way to it, is missing or is a file.
    Gone,
    /// It cannot be looked at (permission denied, an I/O error): whether it exists is unknown,
    /// so nothing may be removed because of it.
    Unreadable(std::io::Error),
}

/// The one test of whether a claim's folder is still there. Only "does not exist" (`ENOENT`,
/// `ENOTDIR`, or a file in its place) counts as gone; a folder this user merely cannot see
/// is [`FolderState::Unreadable`].
pub fn folder_state(path: &Path) -> FolderState {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => FolderState::Present,
        Ok(_) => FolderState::Gone,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            FolderState::Gone
        }
        Err(e) => FolderState::Unreadable(e),
    }
}

/// `devport.toml`: the services a project needs, committed with the project.
///
/// Values are checked while the file is read, so every error carries the line and column of
/// the offending key or value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    /// The project's name (default: the folder name, or a linked worktree's main worktree's
    /// folder name), under the rules of a service name.
    pub name: Option<String>,
    /// Services by name.
    pub services: BTreeMap<String, ServiceSpec>,
    /// The `[env]` table: computed variables by name (see [`crate::env::computed`]).
    pub computed: BTreeMap<String, Template>,
    /// The SHA-256 of the text it was read from (see [`crate::store::trust`]); empty for a manifest
    /// parsed from a string.
    pub sha256: String,
}

toml_table!(Manifest {
    "name" => name: Option<String> = checked::name,
    "services" => services: BTreeMap<String, ServiceSpec> = checked::services,
    "env" => computed: BTreeMap<String, Template> = checked::computed,
});

/// One `[services.NAME]` table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceSpec {
    /// Exactly this port.
    pub port: Option<u16>,
    /// This port if usable, else the policy's pick.
    pub prefer: Option<u16>,
    /// How many consecutive ports.
    pub count: Option<u16>,
    /// Protocols.
    pub proto: Option<Proto>,
    /// The environment variable name (default: `<SERVICE>_PORT`).
    pub env: Option<String>,
    /// Whether the service speaks HTTP (default: yes); `export` leaves out `http = false`.
    pub http: Option<bool>,
    /// Whether `port` / `prefer` hold in every checkout of the project (default: no, only in
    /// the main checkout; see [`crate::ops::checkout`]): a port that must never move.
    pub strict: Option<bool>,
}

toml_table!(ServiceSpec {
    "port" => port: Option<u16> = checked::port,
    "prefer" => prefer: Option<u16> = checked::prefer,
    "count" => count: Option<u16> = checked::count,
    "proto" => proto: Option<Proto> = checked::proto,
    "env" => env: Option<String> = checked::env,
    "http" => http: Option<bool> = <Option<bool> as serde::Deserialize>::deserialize,
    "strict" => strict: Option<bool> = <Option<bool> as serde::Deserialize>::deserialize,
});

/// The manifest's deserializers, which validate as they read (see [`crate::model::toml_value`]), so
/// TOML reports where a bad value is, and every message says what is wrong in the user's words
/// ("prefer must be a port number 1-65535, not a string").
mod checked {
    use serde::de::{Deserialize, Deserializer, Error as _, IgnoredAny};
    use std::collections::BTreeMap;

    use super::ServiceSpec;
    use crate::env::computed::Template;
    use crate::model::toml_value::{Raw, field, not, string};
    use crate::model::types::Proto;

    /// A port number 1-65535.
    fn port_value<E, M>(raw: Raw<E, M>, key: &str) -> Result<u16, String> {
        match raw {
            Raw::Int(n) if (1..=65535).contains(&n) => Ok(u16::try_from(n).unwrap_or(u16::MAX)),
            other => Err(format!(
                "{key} must be a port number 1-65535, not {}",
                not(&other)
            )),
        }
    }

    pub fn port<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
        field(d, "port", port_value::<IgnoredAny, IgnoredAny>).map(Some)
    }

    pub fn prefer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
        field(d, "prefer", port_value::<IgnoredAny, IgnoredAny>).map(Some)
    }

    pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
        field(d, "count", |raw: Raw, key| {
            let max = crate::model::types::MAX_COUNT;
            match raw {
                Raw::Int(n) if (1..=i128::from(max)).contains(&n) => {
                    Ok(Some(u16::try_from(n).unwrap_or(max)))
                }
                other => Err(format!(
                    "{key} must be a number of ports from 1 to {max}, not {}",
                    not(&other)
                )),
            }
        })
    }

    pub fn proto<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Proto>, D::Error> {
        field(d, "proto", |raw: Raw, key| {
            let found = match raw {
                Raw::Str(s) => match s.parse() {
                    Ok(proto) => return Ok(Some(proto)),
                    Err(_) => format!("{s:?}"),
                },
                other => other.kind().to_string(),
            };
            Err(format!(
                "{key} must be \"tcp\", \"udp\" or \"both\", not {found}"
            ))
        })
    }

    pub fn env<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let name = string(d, "env", "a variable name like \"WEB_PORT\"")?;
        crate::env::names::validate_var(&name).map_err(D::Error::custom)?;
        Ok(Some(name))
    }

    /// The project's name: the rules of a service name, as it names the project in every
    /// message and label.
    pub fn name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let name = string(d, "name", "a project name like \"shop\"")?;
        match crate::model::input::service_name_problem(&name, "project name", "name is empty") {
            None => Ok(Some(name)),
            Some(why) => Err(D::Error::custom(why)),
        }
    }

    /// A service name, checked when read as a table key; ordered as its text, as a map key.
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    struct Name(String);

    impl<'de> Deserialize<'de> for Name {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let name = String::deserialize(d)?;
            crate::model::input::validate_service(&name).map_err(D::Error::custom)?;
            Ok(Name(name))
        }
    }

    /// One service's table; anything else is refused in the user's words.
    struct Spec(ServiceSpec);

    impl<'de> Deserialize<'de> for Spec {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            field(
                d,
                "a service",
                |raw: Raw<IgnoredAny, ServiceSpec>, _| match raw {
                    Raw::Table(spec) => Ok(Spec(spec)),
                    other => Err(format!(
                        "a service must be a table such as [services.web], not {}",
                        other.kind()
                    )),
                },
            )
        }
    }

    pub fn services<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, ServiceSpec>, D::Error> {
        field(
            d,
            "services",
            |raw: Raw<IgnoredAny, BTreeMap<Name, Spec>>, key| match raw {
                Raw::Table(map) => Ok(map.into_iter().map(|(k, v)| (k.0, v.0)).collect()),
                other => Err(format!(
                    "{key} must be tables such as [services.web], not {}",
                    other.kind()
                )),
            },
        )
    }

    /// A variable name of the `[env]` table, checked when read as a table key; ordered as its
    /// text, as a map key.
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    struct Var(String);

    impl<'de> Deserialize<'de> for Var {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let name = String::deserialize(d)?;
            crate::env::names::validate_var_like(&name, "API_URL").map_err(D::Error::custom)?;
            Ok(Var(name))
        }
    }

    /// One value of the `[env]` table: a string whose placeholders parse.
    struct Value(Template);

    impl<'de> Deserialize<'de> for Value {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let what = "a string such as \"http://localhost:{port:api}\"";
            let text = string(d, "an [env] value", what)?;
            Template::parse(&text).map(Value).map_err(D::Error::custom)
        }
    }

    /// The `[env]` table: variable names and the values computed from the ports.
    pub fn computed<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Template>, D::Error> {
        field(
            d,
            "env",
            |raw: Raw<IgnoredAny, BTreeMap<Var, Value>>, key| match raw {
                Raw::Table(map) => Ok(map.into_iter().map(|(k, v)| (k.0, v.0)).collect()),
                other => Err(format!(
                    "{key} must be a table such as [env] with API_URL = \"http://localhost:{{port:api}}\", not {}",
                    other.kind()
                )),
            },
        )
    }
}

impl Manifest {
    /// Reads and validates a manifest (`None` when there is none); errors carry the file, line
    /// and column (exit 2).
    pub fn load(path: &Path) -> Result<Option<Manifest>> {
        match crate::os::fsutil::read_text(path, "manifest", Error::manifest)? {
            Some(text) => Manifest::parse(&text, path).map(|manifest| {
                Some(Manifest {
                    sha256: crate::model::types::sha256(text.as_bytes()),
                    ..manifest
                })
            }),
            None => Ok(None),
        }
    }

    /// Parses manifest text; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| Error::manifest(path, toml_message(text, &e)))?;
        if let Some(name) = manifest
            .services
            .iter()
            .find(|(_, s)| s.port.is_some() && s.prefer.is_some())
            .map(|(n, _)| n)
        {
            let at = key_span(text, &["services", name, "prefer"])
                .map_or_else(String::new, |span| {
                    format!("{}: ", position(text, span.start))
                });
            return Err(Error::manifest(
                path,
                format!("{at}[services.{name}] gives both `port` and `prefer`; keep one"),
            ));
        }
        manifest.check_computed(text, path)?;
        Ok(manifest)
    }

    /// Variable names the manifest gives its services (`env = "..."`).
    pub fn env_names(&self) -> BTreeMap<String, String> {
        self.services
            .iter()
            .filter_map(|(service, spec)| Some((service.clone(), spec.env.clone()?)))
            .collect()
    }

    /// Checks the `[env]` table against the services (exit 2, at the offending value or
    /// name): every `{port:SERVICE:N}` names a service of the manifest and a place inside its
    /// block, and no name meets a variable devport sets for a port (`*_PORT`, a block's
    /// `*_PORT_N`, or `exec`'s `PORT`), compared ignoring case.
    fn check_computed(&self, text: &str, path: &Path) -> Result<()> {
        let fail = |key: &str, value: bool, message: String| {
            let at = entry_span(text, &["env", key]).map_or_else(String::new, |(k, v)| {
                format!("{}: ", position(text, if value { v } else { k }.start))
            });
            Error::manifest(path, format!("{at}{message}"))
        };
        for (name, template) in &self.computed {
            for (service, index) in template.ports() {
                let Some(spec) = self.services.get(service) else {
                    let known: Vec<&str> = self.services.keys().map(String::as_str).collect();
                    let known = if known.is_empty() {
                        "it has none".to_string()
                    } else {
                        format!("it has {}", known.join(", "))
                    };
                    return Err(fail(
                        name,
                        true,
                        format!(
                            "[env] {name} reads the port of {service}, which is not a service of {MANIFEST} ({known}); fix the name, or add [services.{service}]"
                        ),
                    ));
                };
                let count = spec.count.unwrap_or(1);
                if index >= count {
                    return Err(fail(
                        name,
                        true,
                        format!(
                            "[env] {name} reads {{port:{service}:{index}}}, but {service} has {count} port(s), numbered from 0 to {}; use a place in that range, or raise count under [services.{service}]",
                            count - 1
                        ),
                    ));
                }
            }
        }
        let keys: Vec<&String> = self.computed.keys().collect();
        if let Some((first, second)) = keys.iter().enumerate().find_map(|(i, a)| {
            keys[i + 1..]
                .iter()
                .find(|b| a.eq_ignore_ascii_case(b))
                .map(|b| (*a, *b))
        }) {
            return Err(fail(
                second,
                false,
                format!(
                    "[env] sets {first} and {second}, one variable where names ignore case (Windows); keep one"
                ),
            ));
        }
        let names = self.env_names();
        let mut taken = vec!["PORT".to_string()];
        for (service, spec) in &self.services {
            taken.extend(crate::env::names::service_vars(
                service,
                spec.count.unwrap_or(1),
                &names,
                "",
            ));
        }
        match crate::env::computed::clash(&self.computed, taken.iter().map(String::as_str)) {
            Some((mine, theirs)) => Err(fail(
                &mine,
                false,
                crate::env::computed::collision(&mine, &theirs),
            )),
            None => Ok(()),
        }
    }
}

/// Where the key at `keys` (a path of table names, then the key) is written in `text`, from
/// the parser's spans (never a substring search, which `[services.webapp]` would fool).
fn key_span(text: &str, keys: &[&str]) -> Option<std::ops::Range<usize>> {
    entry_span(text, keys).map(|(key, _)| key)
}

/// Where the key at `keys` and its value are written in `text`, from the parser's spans.
fn entry_span(
    text: &str,
    keys: &[&str],
) -> Option<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    let doc = toml::de::DeTable::parse(text).ok()?;
    let (last, tables) = keys.split_last()?;
    let mut table = doc.get_ref();
    for key in tables {
        table = table.get(*key)?.get_ref().as_table()?;
    }
    table
        .iter()
        .find(|(k, _)| k.get_ref() == last)
        .map(|(k, v)| (k.span(), v.span()))
}

/// "line L, column C" of the name of the `[services.NAME]` table in manifest `text`, from the
/// parser's spans; `None` when the text does not parse or has no such service.
pub fn service_position(text: &str, service: &str) -> Option<String> {
    key_span(text, &["services", service]).map(|span| position(text, span.start))
}

impl Project {
    /// Variable names the manifest gives its services (`env = "..."`).
    pub fn env_names(&self) -> BTreeMap<String, String> {
        self.manifest
            .as_ref()
            .map(Manifest::env_names)
            .unwrap_or_default()
    }

    /// Where `devport init` writes the manifest: the project's folder.
    pub fn manifest_path(&self) -> Option<PathBuf> {
        self.path.as_ref().map(|p| p.join(MANIFEST))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A manifest's project name and `[env]` names are refused in their own words, made where
    /// the check is (no other error's text rewritten).
    #[test]
    fn names_are_refused_in_their_own_words() {
        let message = |text: &str| {
            Manifest::parse(text, Path::new("devport.toml"))
                .expect_err(text)
                .to_string()
        };
        let fix = "use 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit";
        for (text, words) in [
            ("name = \"\"\n", format!("line 1, column 8: name is empty: {fix}")),
            (
                "name = \"a b\"\n",
                format!("invalid character ' ' in project name \"a b\": {fix}"),
            ),
            (
                "name = \"-x\"\n",
                format!("project name \"-x\" must start with a letter or digit: {fix}"),
            ),
            (
                &format!("name = \"{}\"\n", "a".repeat(65)),
                format!("project name is 65 characters long: {fix}"),
            ),
            (
                "[env]\nPATH = \"x\"\n",
                "the variable name \"PATH\" cannot be used: PATH changes how shells and programs run; choose another, such as API_URL".to_string(),
            ),
            (
                "[services.web]\nenv = \"PATH\"\n",
                "the variable name \"PATH\" cannot be used: PATH changes how shells and programs run; choose another, such as WEB_PORT".to_string(),
            ),
        ] {
            let e = message(text);
            assert!(e.contains(&words), "{text}: {e}");
        }
    }

    /// An unknown key is refused in devport's words at the key, with the keys its table has
    /// (both tables of a manifest), and a TOML syntax error of two lines is one line: the whole
    /// message is pinned, as the command line prints it after the file's name.
    #[test]
    fn unknown_keys_and_syntax_errors_are_one_line_in_the_users_words() {
        for (text, whole) in [
            (
                "name = \"shop\"\n[services.web]\nprot = 1\n",
                "devport.toml: line 3, column 1: unknown key `prot`, expected one of `port`, `prefer`, `count`, `proto`, `env`, `http`, `strict`",
            ),
            (
                "[servces.web]\n",
                "devport.toml: line 1, column 2: unknown key `servces`, expected one of `name`, `services`, `env`",
            ),
            (
                "[services.web]\n\"p\u{f6}rt\" = 1\n",
                "devport.toml: line 2, column 1: unknown key `p\u{f6}rt`, expected one of `port`, `prefer`, `count`, `proto`, `env`, `http`, `strict`",
            ),
            (
                // A line break in a key is a space, and nothing else of the key changes (the
                // command line escapes the carriage return when it prints).
                "\"a\\r\\nb\" = 1\n",
                "devport.toml: line 1, column 1: unknown key `a\r b`, expected one of `name`, `services`, `env`",
            ),
            (
                "[services.web]\nhttp = \"x\"\n",
                "devport.toml: line 2, column 8: invalid type: string \"x\", expected a boolean",
            ),
            (
                "[services.web\n",
                "devport.toml: line 1, column 14: unclosed table, expected `]`",
            ),
        ] {
            let e = Manifest::parse(text, Path::new("devport.toml")).expect_err(text);
            assert_eq!(e.to_string(), whole, "{text}");
        }
        let spec = Manifest::parse(
            "[services.web]\nport = 3000\ncount = 2\nproto = \"udp\"\nenv = \"WEB_PORT\"\nhttp = false\n",
            Path::new("devport.toml"),
        )
        .expect("valid")
        .services
        .remove("web")
        .expect("web");
        let want = ServiceSpec {
            port: Some(3000),
            count: Some(2),
            proto: Some(Proto::Udp),
            env: Some("WEB_PORT".to_string()),
            http: Some(false),
            ..ServiceSpec::default()
        };
        assert_eq!(spec, want);
    }

    proptest! {
        #[test]
        fn manifest_parser_never_panics(text in "(?s).{0,200}") {
            let _ = Manifest::parse(&text, Path::new("devport.toml"));
        }

        #[test]
        fn manifest_parser_never_panics_on_near_valid_input(
            name in "[a-z.\\-_ ]{0,10}",
            key in "(port|prefer|count|proto|env|other)",
            value in "(0|1|65535|65536|-1|\"tcp\"|\"x y\"|true|\\[\\])",
        ) {
            let text = format!("[services.\"{name}\"]\n{key} = {value}\n");
            let _ = Manifest::parse(&text, Path::new("devport.toml"));
        }
    }

    #[test]
    fn manifest_errors_have_line_and_column() {
        let e = Manifest::parse(
            "name = \"x\"\n[services.web]\nprot = 1\n",
            Path::new("devport.toml"),
        );
        let text = e.map(|_| ()).unwrap_err().to_string();
        assert!(text.contains("line 3, column 1"), "{text}");
        for (text, at) in [
            ("[services.\"a b\"]\n", "line 1"),
            ("[services.web]\nport = 70000\n", "line 2"),
            ("\n[services.web]\nport = 0\n", "line 3, column 8"),
            ("[services.web]\ncount = 0\n", "line 2"),
            ("[services.web]\nenv = \"9X\"\n", "line 2"),
            (
                "\n\n[services.web]\nport = 1\nprefer = 2\n",
                "line 5, column 1",
            ),
            // A table whose name contains the service's must not be taken for it.
            (
                "[services.webapp]\nport = 1\n[services.web]\nport = 1\nprefer = 2\n",
                "line 5, column 1",
            ),
        ] {
            let e = Manifest::parse(text, Path::new("m"))
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(e.contains(at), "{text:?}: {e}");
        }
        let ok = Manifest::parse(
            "name = \"shop\"\n[services.web]\nprefer = 3000\n",
            Path::new("m"),
        );
        assert_eq!(
            ok.ok()
                .and_then(|m| m.services.get("web").and_then(|s| s.prefer)),
            Some(3000)
        );
    }

    #[test]
    fn env_table_errors_point_at_the_key_or_the_value() {
        let head = "[services.web]\n[services.db]\ncount = 2\n[env]\n";
        for (line, at, says) in [
            (
                "A = \"x{port:web}{port:nope}\"",
                "line 5, column 5",
                "nope, which is not",
            ),
            ("  A =   \"{port:db:2}\"", "line 5, column 9", "from 0 to 1"),
            (
                "A = \"{port:db:1}\"\nWEB_PORT = \"\"",
                "line 6, column 1",
                "WEB_PORT",
            ),
            ("DB_port_0 = \"\"", "line 5, column 1", "DB_PORT_0"),
            ("A_B = \"\"\na_b = \"\"", "line 6, column 1", "A_B and a_b"),
        ] {
            let text = format!("{head}{line}\n");
            let e = Manifest::parse(&text, Path::new("m"))
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(e.contains(at) && e.contains(says), "{line:?}: {e}");
        }
        let ok = Manifest::parse(
            &format!("{head}URL = \"{{{{{{port:db:1}}}}}} {{project}}\"\n"),
            Path::new("m"),
        )
        .expect("parses");
        let ports: Vec<(&str, u16)> = ok.computed["URL"].ports().collect();
        assert_eq!(ports, vec![("db", 1)]);
    }

    /// Writes the `.git` file of a checkout at `folder` whose git folder is `gitdir`.
    fn git_file(folder: &Path, gitdir: &Path) {
        std::fs::write(
            folder.join(".git"),
            format!("gitdir: {}\n", gitdir.display()),
        )
        .expect(".git file");
    }

    /// A linked worktree as git lays it out: the folder `wt` (made), its `.git` file naming
    /// `<git>/worktrees/<id>`, and that folder with git's `commondir` mark; `id` is `wt`'s
    /// name. Returns the worktree's git folder.
    fn worktree(git: &Path, wt: &Path) -> PathBuf {
        let id = wt.file_name().expect("a folder name");
        let gitdir = git.join("worktrees").join(id);
        std::fs::create_dir_all(&gitdir).expect("git folder");
        std::fs::write(gitdir.join("commondir"), "../..\n").expect("mark");
        std::fs::create_dir_all(wt).expect("worktree");
        git_file(wt, &gitdir);
        gitdir
    }

    /// A `.git` file naming `<common>/worktrees/<id>` is a linked worktree, whose main
    /// checkout is the folder holding `<common>`, and a subfolder project keeps its place in
    /// both; a `.git` folder, or a `.git` file that names anything else (a submodule), is the
    /// main checkout.
    #[test]
    fn linked_worktrees_are_told_by_their_git_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dunce::canonicalize(dir.path()).expect("canonical");
        let main = root.join("app");
        std::fs::create_dir_all(main.join("web")).expect("main/web");
        let wt = root.join("feature-x");
        worktree(&main.join(".git"), &wt);
        std::fs::create_dir_all(wt.join("web")).expect("worktree/web");
        let linked = |id: &str, main: PathBuf| Checkout::Linked {
            id: id.into(),
            main,
        };
        assert_eq!(Checkout::of(&main), Checkout::Main);
        assert_eq!(Checkout::of(&wt), linked("feature-x", main.clone()));
        assert_eq!(
            Checkout::of(&wt.join("web")),
            linked("feature-x", main.join("web"))
        );
        let sub = root.join("sub");
        std::fs::create_dir_all(&sub).expect("submodule");
        std::fs::write(sub.join(".git"), "gitdir: ../app/.git/modules/sub\n").expect(".git");
        assert_eq!(Checkout::of(&sub), Checkout::Main);
        // A clone whose git folder was put in a folder named `worktrees` (no `commondir`), and
        // a worktree of a bare repository: checkouts of their own.
        let separate = root.join("separate");
        std::fs::create_dir_all(root.join("gitdirs/worktrees/separate")).expect("git dir");
        std::fs::create_dir_all(&separate).expect("clone");
        git_file(&separate, &root.join("gitdirs/worktrees/separate"));
        assert_eq!(Checkout::of(&separate), Checkout::Main);
        let bare_wt = root.join("bare-wt");
        worktree(&root.join("app.git"), &bare_wt);
        assert_eq!(Checkout::of(&bare_wt), Checkout::Main);
        // A bare repository cloned into `proj/.git` has no main worktree either.
        let proj = root.join("proj");
        let wt_a = proj.join("wt-a");
        worktree(&proj.join(".git"), &wt_a);
        std::fs::write(proj.join(".git/config"), "[core]\n\tbare = true\n").expect("config");
        assert_eq!(Checkout::of(&wt_a), Checkout::Main);
        // A `.git` file that names the repository through a link: the main checkout is the
        // folder the link leads to.
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&main, root.join("link")).expect("link");
            let via = root.join("via-link");
            worktree(&main.join(".git"), &via);
            git_file(&via, &root.join("link/.git/worktrees/via-link"));
            assert_eq!(Checkout::of(&via), linked("via-link", main.clone()));
            // Read as git reads the file: a line break in the main folder's name is part of
            // the path; `gitdir:` without its space is no git file.
            let odd = root.join("line\nbreak");
            let odd_wt = root.join("odd-wt");
            let gitdir = worktree(&odd.join(".git"), &odd_wt);
            assert_eq!(Checkout::of(&odd_wt), linked("odd-wt", odd.clone()));
            std::fs::write(
                odd_wt.join(".git"),
                format!("gitdir:{}\n", gitdir.display()),
            )
            .expect(".git");
            assert_eq!(Checkout::of(&odd_wt), Checkout::Main);
        }
    }

    /// git's rule for `core.bare`: in `[core]`, the last setting wins, `true`/`yes`/`on`/`1` or
    /// the key alone; comments and other sections do not count.
    #[test]
    fn a_bare_repository_is_told_by_its_config() {
        let dir = tempfile::tempdir().expect("temp dir");
        for (config, bare) in [
            ("[core]\n\tbare = true\n", true),
            (
                "[core]\n\trepositoryformatversion = 0\n\tbare = false\n",
                false,
            ),
            ("[Core]\nbare\n", true),
            ("[core]\nbare = yes ; said so\n", true),
            ("[core]\nbare = true\nbare = false\n", false),
            ("[core]\n# bare = true\n", false),
            ("[remote \"origin\"]\nbare = true\n", false),
            ("", false),
        ] {
            std::fs::write(dir.path().join("config"), config).expect("config");
            assert_eq!(is_bare(dir.path()), bare, "{config:?}");
        }
        std::fs::remove_file(dir.path().join("config")).expect("rm");
        assert!(!is_bare(dir.path()));
    }

    /// A worktree of another user's repository is no checkout of theirs: their folder names
    /// nothing of this user's (git refuses such a repository too).
    #[cfg(unix)]
    #[test]
    #[ignore = "needs root: gives a repository to another user (nobody)"]
    fn a_worktree_of_another_users_repository_is_a_checkout_of_its_own() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dunce::canonicalize(dir.path()).expect("canonical");
        let theirs = root.join("theirs");
        let mine = root.join("mine");
        worktree(&theirs.join(".git"), &mine);
        assert!(matches!(Checkout::of(&mine), Checkout::Linked { .. }));
        std::os::unix::fs::chown(theirs.join(".git"), Some(65534), Some(65534)).expect("chown");
        assert_eq!(Checkout::of(&mine), Checkout::Main);
    }

    /// A folder inside a project belongs to the nearest project root at or above it: a
    /// nested `.git` (folder or file) or `devport.toml` makes one, a plain subfolder does not,
    /// and a folder outside the project is no nested one.
    #[test]
    fn nested_roots_are_found_between_a_folder_and_its_project() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dunce::canonicalize(dir.path()).expect("canonical");
        let mall = root.join("mall");
        let deep = mall.join(".worktrees/feat/src/deep");
        std::fs::create_dir_all(&deep).expect("worktree");
        std::fs::create_dir_all(mall.join(".git")).expect("mall");
        std::fs::write(mall.join(".worktrees/feat/.git"), "gitdir: x\n").expect(".git file");
        let admin = mall.join("packages/admin");
        std::fs::create_dir_all(admin.join("src")).expect("admin");
        std::fs::write(admin.join(MANIFEST), "").expect("manifest");
        let sub = mall.join("packages/sub");
        std::fs::create_dir_all(sub.join(".git")).expect("sub");
        let plain = mall.join("packages/plain");
        std::fs::create_dir_all(&plain).expect("plain");
        let feat = mall.join(".worktrees/feat");
        assert_eq!(nested_root(&deep, &mall), Some(feat.as_path()));
        assert_eq!(nested_root(&feat, &mall), Some(feat.as_path()));
        assert_eq!(
            nested_root(&admin.join("src"), &mall),
            Some(admin.as_path())
        );
        assert_eq!(nested_root(&sub, &mall), Some(sub.as_path()));
        assert_eq!(nested_root(&plain, &mall), None);
        assert_eq!(nested_root(&mall, &mall), None);
        assert_eq!(nested_root(&root, &mall), None);
        // The same rule as detect: each of them is a project of its own.
        for (folder, top) in [
            (&deep, &feat),
            (&admin.join("src"), &admin),
            (&plain, &mall),
        ] {
            let project = Project::detect(folder).expect("detect");
            assert_eq!(project.path.as_ref(), Some(top), "{}", folder.display());
        }
    }

    /// Names of checkouts: the oldest folder that is not a linked worktree is `main` (an
    /// older linked worktree never is), a worktree goes by its id, a clone by its folder, and
    /// names that meet are numbered by age; a folder with no claims yet is the newest.
    #[test]
    fn checkouts_are_named_main_by_worktree_id_or_by_folder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dunce::canonicalize(dir.path()).expect("canonical");
        let main = root.join("app");
        std::fs::create_dir_all(main.join(".git/worktrees/login")).expect("main");
        std::fs::write(main.join(".git/worktrees/login/commondir"), "../..\n").expect("mark");
        let wt = root.join("wt-folder");
        std::fs::create_dir_all(&wt).expect("worktree");
        git_file(&wt, &main.join(".git/worktrees/login"));
        let clone = root.join("other/login");
        std::fs::create_dir_all(clone.join(".git")).expect("clone");
        let t = |s| jiff::Timestamp::from_second(s).expect("time");
        let names = checkout_names(&[(&clone, t(3), None), (&wt, t(1), None), (&main, t(2), None)]);
        assert_eq!(names, ["login-2", "login", MAIN_CHECKOUT]);
        // Kept names stay, whoever is older: the clone kept `main` from when it claimed first,
        // and `login-2` stays when the older `login` is gone.
        let names = checkout_names(&[(&clone, t(3), Some("main")), (&main, t(2), None)]);
        assert_eq!(names, [MAIN_CHECKOUT, "app"]);
        let names = checkout_names(&[(&clone, t(3), Some("login-2"))]);
        assert_eq!(names, ["login-2"]);
        let names = checkout_names(&[(&clone, t(3), Some("login")), (&wt, t(1), None)]);
        assert_eq!(names, ["login", "login-2"]);
        // A project whose only claims are a worktree's: a new folder is `main` only if it is
        // not a linked worktree.
        let fresh = Project {
            name: "app".into(),
            path: Some(main.clone()),
            manifest: None,
            checkout: Checkout::Main,
        };
        assert_eq!(fresh.checkout_name(&Registry::default()), MAIN_CHECKOUT);
    }

    #[test]
    fn service_positions_come_from_the_parser_not_from_substrings() {
        let text = "name = \"web\"\n# [services.web] in a comment\n[services.webapp]\nport = 1\n\n  [services.\"web\"]\nprefer = 2\n[services.db.extra]\n";
        let at = |service| service_position(text, service);
        assert_eq!(at("webapp").as_deref(), Some("line 3, column 11"));
        assert_eq!(at("web").as_deref(), Some("line 6, column 13"));
        assert_eq!(at("db").as_deref(), Some("line 8, column 11"));
        assert_eq!(service_position("[services\n", "web"), None);
        assert_eq!(service_position("services = 1\n", "web"), None);
    }
}
