//! The agent's own log: standard error until the config is read, then as `log:` says (level,
//! text or JSON, standard error or a file rotated by size). `RUST_LOG` wins over `log.level`.

use std::io::IsTerminal;
use std::sync::Mutex;

use anyhow::Context;
use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

use crate::config::{LogConfig, LogFormat};

type Output = Box<dyn Layer<Registry> + Send + Sync>;
/// The subscriber the filter sits on: the registry with the output.
type WithOutput = Layered<reload::Layer<Output, Registry>, Registry>;

/// Where the log goes now, and how to change it once the config is known.
pub struct Logging {
    filter: reload::Handle<EnvFilter, WithOutput>,
    output: reload::Handle<Output, Registry>,
}

/// Logs text to standard error at `RUST_LOG` (default `info`).
pub fn init() -> Logging {
    let (filter, filter_handle) = reload::Layer::new(filter_for("info"));
    let (output, output_handle) = reload::Layer::new(stderr_text());
    // A second init (tests that call in twice) keeps the first; nothing else sets one.
    let _ = tracing_subscriber::registry()
        .with(output)
        .with(filter)
        .try_init();
    Logging {
        filter: filter_handle,
        output: output_handle,
    }
}

impl Logging {
    /// Logs as `config` says from now on.
    pub fn apply(&self, config: &LogConfig) -> anyhow::Result<()> {
        let writer = match &config.file {
            None => BoxMakeWriter::new(std::io::stderr),
            Some(file) => {
                let path = &file.path;
                if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(folder).with_context(|| {
                        format!("log.file.path: cannot create {}", folder.display())
                    })?;
                }
                // Opened once here, so that a path that cannot be written is an error, not a
                // panic of the rotating writer.
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("log.file.path: cannot write {}", path.display()))?;
                let bytes = file.max_size_kib as usize * 1024;
                BoxMakeWriter::new(Mutex::new(FileRotate::new(
                    path,
                    AppendCount::new(file.keep),
                    ContentLimit::BytesSurpassed(bytes),
                    Compression::None,
                    None,
                )))
            }
        };
        let ansi = config.file.is_none() && std::io::stderr().is_terminal();
        let output: Output = match config.format {
            LogFormat::Text => tracing_subscriber::fmt::layer()
                .with_ansi(ansi)
                .with_writer(writer)
                .boxed(),
            LogFormat::Json => tracing_subscriber::fmt::layer()
                .json()
                .with_writer(writer)
                .boxed(),
        };
        self.output
            .reload(output)
            .context("cannot switch the log's output")?;
        self.filter
            .reload(filter_for(&config.level))
            .context("cannot set the log level")
    }
}

fn stderr_text() -> Output {
    tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .boxed()
}

/// `RUST_LOG` when set, else `level` (validated with the config).
fn filter_for(level: &str) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level))
}
