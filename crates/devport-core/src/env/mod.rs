//! Environment variables: their names (and the deny-list), the `.env` file codec, rendering
//! in the `sh` / `dotenv` / `json` formats, and the computed `[env]` values of a manifest
//! (templates such as `{port:api}`).

pub mod computed;
pub mod dotenv;
pub mod names;
pub mod render;
