//! `list`: the claims grouped by project.

use crate::support::World;

#[test]
fn list_shows_claims_grouped_by_project() {
    let w = World::new();
    let web = w.ok(&["claim", "web"]);
    let blog = w.project("blog");
    w.cmd_in(&blog, &["claim", "api"]).assert().success();
    let table = w.ok(&["list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("PORT"), "{table}");
    assert!(
        lines[1].contains("blog") && lines[2].contains("shop") && lines[2].contains(&web),
        "{table}"
    );
    let here = w.ok(&["list", "--here"]);
    assert!(!here.contains("blog"), "{here}");
}
