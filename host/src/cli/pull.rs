//! `wasmon pull REFERENCE [--key PUB]`: what a fleet would get, pulled and verified exactly as
//! the agent does it (by default with its trusted keys and its source's settings), and
//! written out with its signature.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;

use super::reach::{LazyConfig, RegistryArgs, trusted};
use super::verify::sidecar;
use crate::registry::{DEFAULT_MAX_SIZE_MIB, Verified, pull_verified};

/// Largest component the command line pulls: the agent's default.
const MAX_BYTES: u64 = DEFAULT_MAX_SIZE_MIB * 1024 * 1024;

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
    let output = output.map_or_else(|| default_output(reference), Path::to_path_buf);
    std::fs::write(&output, &verified.bytes).with_context(|| format!("{}", output.display()))?;
    let signature = sidecar(&output);
    std::fs::write(&signature, &verified.signature)
        .with_context(|| format!("{}", signature.display()))?;
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

/// `./<last part of the repository>.wasm`: `emit.wasm` for `127.0.0.1:5000/checks/emit:1`.
fn default_output(reference: &str) -> PathBuf {
    let name = reference
        .parse::<oci_client::Reference>()
        .ok()
        .and_then(|r| r.repository().rsplit('/').next().map(str::to_string))
        .unwrap_or_else(|| "pulled".into());
    PathBuf::from(format!("{name}.wasm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_output_is_named_by_the_repository() {
        let pinned = format!("r.io/checks/emit@sha256:{}", "ab".repeat(32));
        for reference in ["127.0.0.1:5000/checks/emit:1", pinned.as_str()] {
            assert_eq!(
                default_output(reference),
                PathBuf::from("emit.wasm"),
                "{reference}"
            );
        }
    }
}
