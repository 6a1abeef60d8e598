//! Compiling a component out of the daemon: in a child process of the agent's own executable
//! (`wasmon compile-artifact`), which writes the artifact into the cache and exits, so
//! Cranelift's peak memory is never the daemon's (the daemon only maps the artifact). One-shot
//! commands, tests and benches compile in-process.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::OnceLock;

use wasmtime::Engine;
use wasmtime::component::Component;

/// The executable whose `compile-artifact` compiles, once the daemon has said so.
static CHILD: OnceLock<PathBuf> = OnceLock::new();

/// Compiles in children of `exe` from now on.
pub fn compile_in_children(exe: PathBuf) {
    let _ = CHILD.set(exe);
}

/// `bytes` compiled, its artifact written to `entry` when there is one, and whether a child
/// compiled it. In a child when the daemon asked for that and the artifact can be written; if
/// the child cannot be started or its artifact does not load here, in-process after all.
pub fn compile(
    engine: &Engine,
    bytes: &[u8],
    entry: Option<&Path>,
) -> wasmtime::Result<(Component, bool)> {
    if let (Some(exe), Some(entry)) = (CHILD.get(), entry) {
        match in_child(exe, bytes, entry) {
            Ok(()) => {
                // SAFETY: the child, this executable, has just written the artifact for this
                // engine's configuration into the cache folder only the agent's user can enter.
                match unsafe { Component::deserialize_file(engine, entry) } {
                    Ok(component) => return Ok((component, true)),
                    Err(e) => tracing::warn!("compiled artifact unusable, compiling here: {e}"),
                }
            }
            Err(Failure::Refused(message)) => return Err(wasmtime::Error::msg(message)),
            Err(Failure::NotRun(e)) => {
                tracing::warn!("cannot compile in a child, compiling here: {e}")
            }
        }
    }
    let component = Component::new(engine, bytes)?;
    if let Some(entry) = entry {
        store(entry, &component);
    }
    Ok((component, false))
}

enum Failure {
    /// The child compiled and refused the component: its message.
    Refused(String),
    /// The child did not run to an answer.
    NotRun(String),
}

fn in_child(exe: &Path, bytes: &[u8], entry: &Path) -> Result<(), Failure> {
    let mut child = Command::new(exe)
        .arg("compile-artifact")
        .arg(entry)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Failure::NotRun(format!("{}: {e}", exe.display())))?;
    // The child reads all of its input before it compiles, so writing cannot deadlock.
    let written = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(bytes))
        .transpose();
    let out = child
        .wait_with_output()
        .map_err(|e| Failure::NotRun(e.to_string()))?;
    let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
    match out.status.code() {
        Some(0) => Ok(()),
        Some(REFUSED) => Err(Failure::Refused(said)),
        _ => Err(Failure::NotRun(match written {
            Err(e) => format!("{e}; {said}"),
            Ok(_) => format!("{}; {said}", out.status),
        })),
    }
}

/// What the child exits with when the component does not compile.
const REFUSED: i32 = 3;

/// The child's side: the component on standard input, its artifact written to `out`
/// atomically; the reason on standard error when it does not compile.
pub fn compile_artifact(out: &Path) -> ExitCode {
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut bytes) {
        eprintln!("cannot read the component: {e}");
        return ExitCode::FAILURE;
    }
    let engine = match crate::runtime::engine() {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("cannot make an engine: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match Component::new(&engine, &bytes) {
        Ok(component) => match write(out, &component) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cannot write {}: {e}", out.display());
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::from(REFUSED as u8)
        }
    }
}

/// Writes an artifact, logging what went wrong.
fn store(entry: &Path, component: &Component) {
    let started = std::time::Instant::now();
    match write(entry, component) {
        Ok(()) => tracing::debug!(artifact = %entry.display(), took = ?started.elapsed(), "cached"),
        Err(e) => tracing::warn!("cannot cache {}: {e}", entry.display()),
    }
}

/// Writes an artifact atomically (a temporary file renamed into place).
fn write(entry: &Path, component: &Component) -> Result<(), String> {
    let bytes = component.serialize().map_err(|e| e.to_string())?;
    let tmp = entry.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, entry))
        .map_err(|e| e.to_string())
}
