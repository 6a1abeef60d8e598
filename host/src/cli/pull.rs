//! `wasmon pull REFERENCE [--key PUB]`: what a fleet would get, pulled and verified exactly as
//! the agent does it (by default with its trusted keys and its source's settings), and
//! written out with its signature.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;

use super::reach::{LazyConfig, RegistryArgs, trusted};
use crate::registry::{Verified, pull_verified};

/// Largest component the command line pulls, as the agent's default.
const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Pulls and verifies `reference`, writing it to `output` (default `<repository>.wasm`) and
/// its signature beside it.
pub async fn pull(
    reference: &str,
    keys: &[String],
    output: Option<&Path>,
    registry: &RegistryArgs,
    config: LazyConfig<'_>,
) -> anyhow::Result<ExitCode> {
    let Some(verified) = fetch(reference, keys, registry, config).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let output = output.map_or_else(
        || {
            let name = reference
                .split(['@', ':'])
                .next()
                .and_then(|r| r.rsplit('/').next())
                .unwrap_or("pulled");
            PathBuf::from(format!("{name}.wasm"))
        },
        Path::to_path_buf,
    );
    std::fs::write(&output, &verified.bytes).with_context(|| format!("{}", output.display()))?;
    let mut signature = output.clone().into_os_string();
    signature.push(".minisig");
    std::fs::write(&signature, &verified.signature)
        .with_context(|| format!("{}", signature.to_string_lossy()))?;
    println!("wrote {}", output.display());
    Ok(ExitCode::SUCCESS)
}

/// Resolves, pulls and verifies `reference`, printing what it found; `None` when refused.
pub async fn fetch(
    reference: &str,
    keys: &[String],
    registry: &RegistryArgs,
    config: LazyConfig<'_>,
) -> anyhow::Result<Option<Verified>> {
    let trusted = trusted(keys, config)?;
    let (parsed, client) = registry.connect(reference, config)?;
    let started = Instant::now();
    let result = async {
        let manifest = client.resolve(&parsed).await?;
        pull_verified(&client, &parsed, &manifest, &trusted, MAX_BYTES, |_| None).await
    }
    .await;
    match result {
        Ok(verified) => {
            println!(
                "{reference}: {} signed by key {}, {} bytes pulled and verified in {:.1?}",
                verified.digest,
                verified.key_id,
                verified.bytes.len(),
                started.elapsed()
            );
            Ok(Some(verified))
        }
        Err(e) if e.is_refusal() => {
            eprintln!("{reference}: refused: {e}");
            Ok(None)
        }
        Err(e) => Err(e).with_context(|| format!("pulling {reference}")),
    }
}
