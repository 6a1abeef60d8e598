//! Project tasks: `cargo xtask run|test|build-checks|package`.
//!
//! Each installs what it needs first (the `wasm32-wasip2` target) and builds the guest checks,
//! so that a fresh clone runs with one command.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Guest packages: the shipped checks and the guests built only for tests.
const GUESTS: [&str; 14] = [
    "wasmon-check-system",
    "wasmon-check-shell",
    "wasmon-check-mysql",
    "wasmon-test-guest-emit",
    "wasmon-test-guest-emit-v2",
    "wasmon-test-guest-trap",
    "wasmon-test-guest-spin",
    "wasmon-test-guest-hog",
    "wasmon-test-guest-escape",
    "wasmon-test-guest-wrong-world",
    "wasmon-test-guest-flood",
    "wasmon-test-guest-slow-start",
    "wasmon-test-guest-slow-init",
    "wasmon-test-guest-legacy",
];

const WASM_TARGET: &str = "wasm32-wasip2";

/// Debian packages the tests use, with a file each installs.
const TEST_PACKAGES: &[(&str, &str)] = &[
    (
        "monitoring-plugins-basic",
        "/usr/lib/nagios/plugins/check_load",
    ),
    ("mariadb-server", "/usr/sbin/mariadbd"),
    ("victoria-metrics", "/usr/bin/victoria-metrics"),
    ("systemd", "/usr/bin/systemd-analyze"),
    ("etcd-server", "/usr/bin/etcd"),
    ("minisign", "/usr/bin/minisign"),
    ("docker-registry", "/usr/bin/docker-registry"),
    ("apache2-utils", "/usr/bin/htpasswd"),
    ("collectd-core", "/usr/sbin/collectd"),
];

/// What the packaging check installs, beside cargo-deb from crates.io.
const PACKAGE_TOOLS: &[(&str, &str)] = &[
    ("dpkg-dev", "/usr/bin/dpkg-deb"),
    ("adduser", "/usr/sbin/adduser"),
];

/// Files the package must hold.
const PACKAGED: [&str; 7] = [
    "./usr/bin/wasmon",
    "./usr/lib/wasmon/checks/system.wasm",
    "./usr/lib/wasmon/checks/mysql.wasm",
    "./etc/wasmon/wasmon.yaml",
    "./etc/wasmon/conf.d/system.yaml",
    "./usr/lib/systemd/system/wasmon.service",
    "./usr/share/doc/wasmon/README.md",
];

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("build-checks") => build_checks(),
        Some("run") => build_checks().and_then(|()| run_agent(&args[1..])),
        Some("test") => build_checks()
            .and_then(|()| ensure_packages(TEST_PACKAGES))
            .and_then(|()| test()),
        Some("package") => build_checks()
            .and_then(|()| ensure_packages(PACKAGE_TOOLS))
            .and_then(|()| package(&args[1..])),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n  run [ARGS]     build the checks and run the agent \
                 (`wasmon run` on ./wasmon.yaml, or `wasmon ARGS`)\n  test           build the \
                 checks, check formatting and lints, run every test\n  build-checks   install \
                 the wasm target and build the guest checks\n  package [--dev] [--install]\n        \
                 the Debian package (release build; --dev: the dev profile), its contents checked; \
                 --install: install, upgrade and purge it on this machine (root)"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn cargo() -> Command {
    let mut cmd = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

fn run(mut cmd: Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    eprintln!("xtask: running {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed: {status}"))
    }
}

/// Adds the wasm target through rustup when it is missing.
fn ensure_wasm_target() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("cannot run rustup (needed to add {WASM_TARGET}): {e}"))?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    let mut add = Command::new("rustup");
    add.args(["target", "add", WASM_TARGET]);
    run(add)
}

/// Installs the missing Debian packages with apt-get (as root), or says which command does.
fn ensure_packages(packages: &[(&str, &str)]) -> Result<(), String> {
    let missing: Vec<&str> = packages
        .iter()
        .filter(|(_, file)| !Path::new(file).exists())
        .map(|(name, _)| *name)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !is_root {
        return Err(format!(
            "the tests need {}: run `sudo apt-get install -y {}`",
            missing.join(", "),
            missing.join(" ")
        ));
    }
    let mut update = Command::new("apt-get");
    update.args(["update", "-q"]);
    run(update)?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive");
    run(install)
}

fn build_checks() -> Result<(), String> {
    ensure_wasm_target()?;
    let mut cmd = cargo();
    cmd.args(["build", "--profile", "guest", "--target", WASM_TARGET]);
    for guest in GUESTS {
        cmd.args(["-p", guest]);
    }
    run(cmd)
}

fn run_agent(args: &[String]) -> Result<(), String> {
    let mut cmd = cargo();
    cmd.args(["run", "-p", "wasmon", "--"]);
    if args.is_empty() {
        cmd.arg("run");
    } else {
        cmd.args(args);
    }
    run(cmd)
}

fn test() -> Result<(), String> {
    // Python checks are built with componentize-py, from PyPI.
    let found = Command::new("componentize-py")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let mut pip = Command::new("python3");
        pip.args(["-m", "pip", "install", "--quiet", "componentize-py==0.25.1"]);
        run(pip)?;
    }
    // The official DogStatsD client, which the intake tests send with.
    let client = Command::new("python3")
        .args(["-c", "import datadog"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !client {
        let mut pip = Command::new("python3");
        pip.args(["-m", "pip", "install", "--quiet", "datadog==0.56.0"]);
        run(pip)?;
    }
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run(fmt)?;
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run(clippy)?;
    let mut test = cargo();
    test.args(["test", "--workspace"]);
    run(test)
}

/// Builds the Debian package with cargo-deb and checks what it holds; with `--install`,
/// installs it, checks the agent it installed, installs it again (an upgrade) and purges it.
fn package(args: &[String]) -> Result<(), String> {
    let answers = cargo()
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !answers {
        let mut install = cargo();
        install.args(["install", "--locked", "cargo-deb@3.8.0"]);
        run(install)?;
    }
    let mut deb = cargo();
    deb.args(["deb", "-p", "wasmon"]);
    if args.iter().any(|a| a == "--dev") {
        deb.args(["--profile", "dev"]);
    }
    let shown = format!("{deb:?}");
    eprintln!("xtask: running {shown}");
    let out = deb
        .output()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{shown} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let file = stdout
        .lines()
        .rev()
        .find(|l| l.trim_end().ends_with(".deb"))
        .map(|l| PathBuf::from(l.trim()))
        .ok_or_else(|| format!("cargo deb named no .deb: {stdout}"))?;
    let contents = output("dpkg-deb", &["-c", &file.to_string_lossy()])?;
    for wanted in PACKAGED {
        if !contents.lines().any(|l| l.ends_with(wanted)) {
            return Err(format!(
                "{}: {wanted} is missing:\n{contents}",
                file.display()
            ));
        }
    }
    let conffiles = output("dpkg-deb", &["-I", &file.to_string_lossy(), "conffiles"])?;
    for conffile in ["/etc/wasmon/wasmon.yaml", "/etc/wasmon/conf.d/system.yaml"] {
        if !conffiles.lines().any(|l| l.trim() == conffile) {
            return Err(format!("{conffile} is not a conffile:\n{conffiles}"));
        }
    }
    eprintln!("xtask: {} holds what it should", file.display());
    if args.iter().any(|a| a == "--install") {
        install_round_trip(&file)?;
    }
    Ok(())
}

/// Installs the package, checks it, upgrades over it (the buffers stay) and purges it.
fn install_round_trip(file: &Path) -> Result<(), String> {
    let deb = file.to_string_lossy();
    let install = || output("dpkg", &["-i", &deb]).map(drop);
    install()?;
    output("getent", &["passwd", "wasmon"])?;
    let check = output(
        "/usr/bin/wasmon",
        &["--config", "/etc/wasmon/wasmon.yaml", "configcheck"],
    )?;
    if !check.contains("system") {
        return Err(format!("configcheck of the installed agent:\n{check}"));
    }
    let kept = Path::new("/var/lib/wasmon/buffer/kept-by-upgrade");
    std::fs::create_dir_all(kept).map_err(|e| format!("{}: {e}", kept.display()))?;
    install()?;
    if !kept.is_dir() {
        return Err("an upgrade removed /var/lib/wasmon/buffer".into());
    }
    output("dpkg", &["--purge", "wasmon"])?;
    for gone in [
        "/usr/bin/wasmon",
        "/etc/wasmon/wasmon.yaml",
        "/var/lib/wasmon",
    ] {
        if Path::new(gone).exists() {
            return Err(format!("{gone} is left after a purge"));
        }
    }
    if output("getent", &["passwd", "wasmon"]).is_ok() {
        return Err("the wasmon user is left after a purge".into());
    }
    eprintln!("xtask: installed, checked, upgraded and purged {deb}");
    Ok(())
}

/// What `program ARGS` prints, or why it failed.
fn output(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// The integration tests are one binary (`tests/integration.rs`, listed in
    /// `host/Cargo.toml`) whose modules are the other files of `tests/`: one left out would
    /// never run.
    #[test]
    fn every_integration_test_is_a_module_of_the_one_binary() {
        let manifest = std::fs::read_to_string(root().join("host/Cargo.toml")).unwrap();
        assert!(manifest.contains("path = \"../tests/integration.rs\""));
        let binary = std::fs::read_to_string(root().join("tests/integration.rs")).unwrap();
        for entry in std::fs::read_dir(root().join("tests")).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            match name.strip_suffix(".rs") {
                Some("integration") | None => {}
                Some(stem) => assert!(
                    binary.lines().any(|l| l == format!("mod {stem};")),
                    "tests/{name} is not a module of tests/integration.rs"
                ),
            }
        }
    }

    /// Every test guest is built by `build-checks`, which the tests need.
    #[test]
    fn every_guest_is_built() {
        for entry in std::fs::read_dir(root().join("checks-wasm/test-guests")).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let package = format!("wasmon-test-guest-{name}");
            assert!(
                GUESTS.contains(&package.as_str()),
                "{package} is not in GUESTS"
            );
        }
    }
}
