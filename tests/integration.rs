//! Every integration test in one binary, run against the real `wasmon` binary: each file
//! under `tests/` is a module here (a test in xtask fails when one is not), so the agent and
//! its dependencies are linked into one test program rather than one per file.

mod common;

mod bad_input;
mod check_interface;
mod cli;
mod cluster;
mod containment;
mod forwarding;
mod hot_drop;
mod intake;
mod limits;
mod mysql_check;
mod operator;
mod parity;
mod registry;
mod service;
mod shell_check;
mod system_check;
mod writing_checks;
