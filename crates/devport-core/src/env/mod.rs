//! Environment variables: the `.env` file codec and the computed `[env]` values of a
//! manifest (templates such as `{port:api}`).

pub mod computed;
pub mod envfile;
