//! `wasmon build [DIR]`: builds a check project into a validated component, installing the
//! toolchain pieces it needs (the `wasm32-wasip2` target, componentize-py, componentize-js)
//! or saying which command does.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, bail};

use super::new::{COMPONENTIZE_JS, Language, manifest};
use crate::catalog::ModuleCache;
use crate::config::AgentConfig;
use crate::runtime::{Runtime, describe};

/// The componentize-py release the Python SDK is written against.
pub const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

/// Builds `dir` into `dir/<name>.wasm` and checks that the agent can run it; the compiled
/// code goes into the agent's cache, so trying it next (`wasmon check --wasm`) is quick.
pub async fn build(config: &AgentConfig, dir: &Path) -> anyhow::Result<ExitCode> {
    build_component(config, dir).await?;
    Ok(ExitCode::SUCCESS)
}

/// Builds and validates `dir`'s component; answers with its path.
pub async fn build_component(config: &AgentConfig, dir: &Path) -> anyhow::Result<PathBuf> {
    let manifest = manifest(dir)?;
    let output = dir.join(format!("{}.wasm", manifest.name));
    let started = Instant::now();
    match manifest.language {
        Language::Rust => build_rust(dir, &manifest.name, &output)?,
        Language::Python => build_python(dir, &manifest.world, &output)?,
        Language::Js => build_js(dir, &manifest.world, &output)?,
    }
    step(&format!("validating {}", output.display()));
    let runtime = Runtime::new()?;
    let cache = ModuleCache::new(runtime.engine(), &config.data_dir);
    let (module, _) = (cache.load_off_thread(runtime.engine(), output.clone()))
        .await
        .map_err(anyhow::Error::msg)?;
    let descriptor = describe(&runtime, &module).await?;
    println!(
        "built {} in {:.1?}: check `{}` {}, {} bytes, compiled in {:.1?}",
        output.display(),
        started.elapsed(),
        descriptor.name,
        descriptor.version,
        module.size,
        module.compile_time
    );
    Ok(output)
}

fn step(what: &str) {
    eprintln!("==> {what}");
}

/// Whether `program --version` runs and succeeds, i.e. the tool is installed.
fn answers(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `command` with its output shown; an error names the command.
fn run(mut command: Command) -> anyhow::Result<()> {
    let shown = format!("{command:?}");
    let status = command
        .status()
        .with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

fn build_rust(dir: &Path, name: &str, output: &Path) -> anyhow::Result<()> {
    let has_target = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("wasm32-wasip2"));
    if !has_target {
        step("installing the wasm32-wasip2 target (rustup target add wasm32-wasip2)");
        let mut add = Command::new("rustup");
        add.args(["target", "add", "wasm32-wasip2"]);
        run(add).context("install it with `rustup target add wasm32-wasip2`")?;
    }
    step("building with cargo (the first build compiles the dependencies)");
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"));
    run(cargo)?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("target"));
    let built = target
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::copy(&built, output)
        .with_context(|| format!("cannot copy {} to {}", built.display(), output.display()))?;
    Ok(())
}

fn build_python(dir: &Path, world: &str, output: &Path) -> anyhow::Result<()> {
    if !answers("componentize-py") {
        step(&format!(
            "installing {COMPONENTIZE_PY} (pip install {COMPONENTIZE_PY})"
        ));
        let mut pip = Command::new("python3");
        pip.args(["-m", "pip", "install", "--quiet", COMPONENTIZE_PY]);
        run(pip).with_context(|| format!("install it with `pip install {COMPONENTIZE_PY}`"))?;
    }
    step("building with componentize-py (bundles CPython: about 18 MB)");
    let mut componentize = Command::new("componentize-py");
    componentize
        .current_dir(dir)
        .args(["-d", "wit", "-w", world, "componentize", "app", "-o"])
        .arg(output.file_name().unwrap_or_default());
    run(componentize)
}

fn build_js(dir: &Path, world: &str, output: &Path) -> anyhow::Result<()> {
    if !answers("npm") {
        bail!(
            "JavaScript checks are built with componentize-js, which needs Node.js 18 or newer and npm: install them (Debian: `apt-get install nodejs npm`)"
        );
    }
    let componentize = std::path::absolute(dir.join("node_modules/.bin/componentize-js"))?;
    if !componentize.exists() {
        step(&format!(
            "installing componentize-js {COMPONENTIZE_JS} (npm install, as package.json says)"
        ));
        let mut npm = Command::new("npm");
        npm.current_dir(dir)
            .args(["install", "--no-audit", "--no-fund"]);
        run(npm).context("install it with `npm install` in the project")?;
    }
    step("building with componentize-js (bundles SpiderMonkey: about 12 MB)");
    let mut build = Command::new(componentize);
    build
        .current_dir(dir)
        .args(["app.js", "--wit", "wit", "--world-name", world, "--out"])
        .arg(output.file_name().unwrap_or_default());
    run(build)
}
