//! Integration tests: they run the real `devport` binary, each against its own temporary
//! registry, config and project folders.

mod check;
mod claim;
mod faults;
mod json;
mod lifecycle;
mod policy_props;
mod support;
// Control characters in folder names, and symlinks, need a Unix file system.
#[cfg(unix)]
mod trust_terminal;
mod workflow;
