//! The command line: `run`, `check`, `configcheck`, `inspect`, `status`, `new`, `build`,
//! `push`, `pull`, `verify`.

mod build;
mod check;
mod configcheck;
mod inspect;
mod logging;
mod new;
mod pull;
mod push;
mod reach;
mod run;
mod status;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use reach::RegistryArgs;

use crate::config::{AgentConfig, ConfigOverrides};

/// A host monitoring agent whose checks are sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "wasmon", version, about)]
pub struct Cli {
    #[command(flatten)]
    paths: PathArgs,
    #[command(subcommand)]
    command: Command,
}

/// Where the configuration is.
#[derive(Debug, Args)]
struct PathArgs {
    /// Agent config file [default: ./wasmon.yaml if present, else built-in defaults].
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Folder of check configs (replaces `conf_d`).
    #[arg(long, global = true, value_name = "DIR")]
    conf_d: Option<PathBuf>,
    /// Folder of check modules; repeat for several (replaces `checks_d`).
    #[arg(long = "checks-d", global = true, value_name = "DIR")]
    checks_d: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent in the foreground until SIGTERM or SIGINT.
    Run {
        /// Print series to standard output instead of sending them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Run one check's instances now and print what they produce.
    Check {
        /// The check, as named by its `conf.d/<name>.yaml` (with `--wasm`: the file's name).
        #[arg(required_unless_present = "wasm")]
        name: Option<String>,
        /// Try this component instead of the installed one.
        #[arg(long, value_name = "FILE")]
        wasm: Option<PathBuf>,
        /// Use this config (`init_config` + `instances`) instead of `conf.d/<name>.yaml`.
        #[arg(long, value_name = "FILE")]
        check_config: Option<PathBuf>,
        /// Only this instance (its position in `instances`).
        #[arg(long)]
        instance: Option<usize>,
        /// Run this many times, a second apart, so that rates show.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
        times: u32,
        /// Print one JSON document instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Validate every config and module, and show what would run.
    Configcheck,
    /// Show what the running agent runs: instances, versions, state, last errors.
    Status {
        /// Print the status as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show what a component is: world, imports, exports, `describe`, size and sha256.
    Inspect {
        /// The `.wasm` file.
        file: PathBuf,
    },
    /// Create a check project: source, config example, README, test, the WIT it targets.
    New {
        /// The check's name.
        name: String,
        /// Its language.
        #[arg(long, value_enum)]
        lang: new::Language,
        /// Where to create it [default: ./NAME].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Build a check project into a validated component, `DIR/<name>.wasm`.
    Build {
        /// The project [default: .].
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Check that a component is signed by a trusted key: a minisign signature over its
    /// digest (`sha256:<hex>`), as the agent requires of what it pulls.
    Verify {
        /// The `.wasm` file, or a registry reference (`registry/repository:tag`).
        target: String,
        /// A trusted public key: a `RW…` line or a minisign `.pub` file; repeat for several
        /// [default: the agent's trusted_keys].
        #[arg(long = "key")]
        keys: Vec<String>,
        /// The signature file [default: FILE.minisig].
        #[arg(long)]
        signature: Option<PathBuf>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Sign a check and push it to an OCI registry (CNCF Wasm layout, signature beside it).
    Push {
        /// The check's project folder (built first) or its `.wasm`.
        target: PathBuf,
        /// Where to push: `registry[:port]/repository:tag`.
        reference: String,
        /// The minisign secret key (an encrypted one reads its password from
        /// `WASMON_KEY_PASSWORD`).
        #[arg(long)]
        key: PathBuf,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Pull a check from a registry and verify it as the agent would, writing it and its
    /// signature.
    Pull {
        /// `registry[:port]/repository:tag` or `…@sha256:<hex>`.
        reference: String,
        /// A trusted public key: a `RW…` line or a minisign `.pub` file; repeat for several
        /// [default: the agent's trusted_keys].
        #[arg(long = "key")]
        keys: Vec<String>,
        /// Where to write the component [default: ./<repository>.wasm].
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Compile the component on standard input into the artifact OUT (the agent runs this
    /// itself, so that compiling never grows the daemon's memory).
    #[command(hide = true)]
    CompileArtifact {
        /// Where to write the artifact.
        out: PathBuf,
    },
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    crate::agent::note_files_at_start();
    let cli = Cli::parse();
    if let Command::CompileArtifact { out } = &cli.command {
        return crate::catalog::compile_artifact(out);
    }
    if !matches!(cli.command, Command::Run { .. }) {
        // A one-shot command piped into `head` ends quietly when the pipe closes, as
        // Unix tools do; the daemon keeps ignoring SIGPIPE.
        // SAFETY: called before any thread starts; SIG_DFL is a valid disposition.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    // HTTP clients (`status`, the sinks) use rustls with ring, the one provider built in.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let logging = logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli, &logging)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli, logging: &logging::Logging) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Inspect { file } => return inspect::inspect(file).await,
        Command::New { name, lang, dir } => {
            new::new(name, *lang, dir.clone())?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let overrides = ConfigOverrides {
        config: cli.paths.config,
        conf_d: cli.paths.conf_d,
        checks_d: cli.paths.checks_d,
    };
    // The registry commands read the agent's config only for what their flags leave open.
    let lazy = || AgentConfig::load(&overrides);
    match &cli.command {
        Command::Push {
            target,
            reference,
            key,
            registry,
        } => return push::push(&lazy, target, reference, key, registry).await,
        Command::Verify {
            target,
            keys,
            signature,
            registry,
        } => return verify::verify(target, signature.as_deref(), keys, registry, &lazy).await,
        Command::Pull {
            reference,
            keys,
            output,
            registry,
        } => return pull::pull(reference, keys, output.as_deref(), registry, &lazy).await,
        _ => {}
    }
    let config = AgentConfig::load(&overrides)?;
    match cli.command {
        Command::Run { dry_run } => {
            // The daemon logs as configured; one-shot commands keep standard error.
            logging.apply(&config.log)?;
            run::run(&config, dry_run).await
        }
        Command::Check {
            name,
            wasm,
            check_config,
            instance,
            times,
            json,
        } => {
            let target = check::Target {
                name,
                wasm,
                check_config,
            };
            check::check(&config, &target, instance, times, json).await
        }
        Command::Configcheck => configcheck::configcheck(&config).await,
        Command::Status { json } => status::status(&config, json).await,
        Command::Build { dir } => build::build(&config, &dir).await,
        Command::Inspect { .. }
        | Command::New { .. }
        | Command::Verify { .. }
        | Command::Pull { .. }
        | Command::Push { .. }
        | Command::CompileArtifact { .. } => {
            unreachable!("handled above")
        }
    }
}
