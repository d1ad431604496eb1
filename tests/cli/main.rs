//! Integration tests: they run the real `devport` binary, each against its own temporary
//! registry, config and project folders.

mod check;
mod claim;
mod faults;
mod json;
mod lifecycle;
mod policy_props;
mod support;
mod trust_registry;
mod windows;
mod workflow;
