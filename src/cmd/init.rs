//! `devport init`: a commented starter `devport.toml`.

use anyhow::Result;

use super::{Ctx, Outcome};
use crate::output;

const STARTER: &str = r#"# devport.toml: the ports this project needs. Commit it; run `devport up` to claim them.
# Docs: `devport help up`.

{name}

# One table per service. Every key is optional:
#   port   = 5432        exactly this port (fails if another project holds it)
#   prefer = 3000        this port if it is usable, else devport's pick
#   count  = 3           a block of consecutive ports
#   proto  = "tcp"       tcp, udp or both
#   env    = "PORT_WEB"  the variable name (default: <SERVICE>_PORT)

[services.web]

[services.db]

# Values built from the ports, exported beside WEB_PORT and DB_PORT by `env`, `up` and `exec`:
# {port:SERVICE}, {port:SERVICE:N} (the Nth port of a block, from 0), {project}.
# [env]
# API_URL = "http://localhost:{port:web}"
# DATABASE_URL = "postgres://app@localhost:{port:db}/{project}"
"#;

pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let project = ctx.project()?;
    let Some(path) = project.manifest_path() else {
        return Err(devport_core::Error::invalid(
            devport_core::error::Input::Argument,
            "--global claims have no project folder; run 'devport init' inside a project",
        )
        .into());
    };
    if path.exists() {
        return Err(devport_core::Error::invalid(
            devport_core::error::Input::Argument,
            format!("{} already exists; edit it instead", path.display()),
        )
        .into());
    }
    // `name` follows the rules of a service name; a folder name that does not is left to be
    // the default (claims show the folder name), and the line stays a comment to fill in.
    let name = if devport_core::model::input::validate_service(&project.name).is_ok() {
        format!("name = {}", toml::Value::String(project.name.clone()))
    } else {
        "# name = \"my-project\"  (1-64 of A-Z a-z 0-9 . _ -; default: the folder name)".into()
    };
    let text = STARTER.replace("{name}", &name);
    // Written as `--write` writes: never into a folder every user may write, another user's
    // folder or through another user's link.
    let target = devport_core::os::fsutil::open_replaceable(
        &path,
        "manifest",
        devport_core::os::paths::parent_dir(&path),
    )?;
    // The user wrote this file, so it is trusted from the start: recorded before it is written,
    // so a failure leaves no manifest. One in a folder every user may write (through the
    // user's own link) is not: anyone could replace it there.
    if devport_core::os::fsutil::in_open_folder(&path).is_none() {
        devport_core::store::trust::trust(
            &ctx.store,
            &path,
            &devport_core::model::types::sha256(text.as_bytes()),
            ctx.now,
        )?;
    }
    target.write(text.as_bytes())?;
    output::note(&format!("wrote {}", path.display()));
    if ctx.json {
        output::json(&serde_json::json!({ "path": path }))?;
    }
    Ok(Outcome::Success)
}
