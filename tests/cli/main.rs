//! Integration tests: they run the real `devport` binary, each against its own temporary
//! registry, config and project folders.

// Process groups, bash and the recipes' servers: Unix by nature.
#[cfg(unix)]
mod agents;
mod check;
mod claim;
mod computed;
mod docs;
// Container ends are read from /proc/PID/cmdline: Linux only.
#[cfg(target_os = "linux")]
mod containers;
mod devservers;
mod faults;
mod integrations;
mod json;
// Holders are `sleep` children given a socket as stdin; signals and pids are Unix ones.
#[cfg(unix)]
mod kill;
mod lease_owner;
mod lifecycle;
mod machinery;
mod newcomer;
mod newcomer_cli;
mod newcomer_manifest;
mod newcomer_up;
// strace: Linux only.
#[cfg(target_os = "linux")]
mod orchestrate;
// Holders and folders are read from /proc: Linux only.
#[cfg(target_os = "linux")]
mod owners;
mod support;
mod trust_env;
mod trust_manifest;
// Owners, groups, setpriv and FIFOs: Unix only.
#[cfg(unix)]
mod trust_owners;
mod trust_project;
mod trust_registry;
// Control characters in folder names, and symlinks, need a Unix file system.
#[cfg(unix)]
mod trust_terminal;
mod windows;
mod workflow;
