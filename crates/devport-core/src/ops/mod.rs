//! Operations: what each command does, returning typed reports (claim, up, exec, lease, gc,
//! check, doctor, export, kill, and the ownership rule they share).

pub mod check;
pub mod checkout;
pub mod claim;
pub mod control;
pub mod devserver;
pub mod doctor;
pub mod exec;
pub mod export;
pub mod facade;
pub mod gc;
pub mod lease;
pub mod owner;
pub mod up;
