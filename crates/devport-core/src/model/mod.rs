//! Value types and input validation: ports, ranges and protocols, the checks on names and
//! numbers a user types, JSON output helpers and the TOML value reader. No I/O.

pub mod input;
pub mod json;
pub mod toml_value;
pub mod types;
