//! The store: the per-user registry of claims and leases (file lock, atomic replace), the
//! user's configuration, and the records of trusted manifests.

pub mod config;
pub mod registry;
pub mod trust;
