//! Typed helpers over the host's capabilities, one module each. In a component each call
//! goes to the host; natively (in a check's unit tests) it is answered by that module's
//! `fake`, set up through [`crate::testing`].

pub mod exec;
pub mod files;
pub mod fs_usage;
pub mod mysql;
