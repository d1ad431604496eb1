//! Integration tests: they run the real `devport` binary, each against its own temporary
//! registry, config and project folders. One file per command or feature.

// Process groups, bash and the recipes' servers: Unix by nature.
#[cfg(unix)]
mod agents;
mod audit;
mod check;
// Real git worktrees and clones.
#[cfg(unix)]
mod checkouts;
mod claim;
mod computed;
mod config;
// Container ends are read from /proc/PID/cmdline: Linux only.
#[cfg(target_os = "linux")]
mod containers;
mod docs;
mod doctor;
mod durations;
mod env;
mod examples;
mod exec;
mod export;
mod faults;
mod gc;
mod help;
mod init;
mod json;
mod kill;
mod lease;
mod list;
mod output;
// Holders and folders are read from /proc: Linux only.
#[cfg(target_os = "linux")]
mod owners;
mod project;
mod registry;
mod release;
mod support;
mod trust;
mod up;
mod wait;
mod windows;
