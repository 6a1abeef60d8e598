//! `wasmon verify FILE|REFERENCE --key PUB`: whether a component (a file, or what a registry
//! holds) is signed by a trusted key, as the agent would check it before compiling.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::reach::{LazyConfig, RegistryArgs, trusted};

use crate::registry::{SignatureError, TrustedKeys, digest_of};

/// Verifies `target`: a file against its signature (`signature`, else `FILE.minisig`), or
/// anything else as a registry reference, pulled as the agent pulls it.
pub async fn verify(
    target: &str,
    signature: Option<&Path>,
    keys: &[String],
    registry: &RegistryArgs,
    config: LazyConfig<'_>,
) -> anyhow::Result<ExitCode> {
    let file = Path::new(target);
    if file.exists() {
        return verify_file(file, signature, &trusted(keys, config)?);
    }
    Ok(
        match super::pull::fetch(target, keys, registry, config).await? {
            Some(_) => ExitCode::SUCCESS,
            None => ExitCode::FAILURE,
        },
    )
}

fn verify_file(
    file: &Path,
    signature: Option<&Path>,
    trusted: &TrustedKeys,
) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("{}", file.display()))?;
    let digest = digest_of(&bytes);
    let signature = signature.map_or_else(|| sidecar(file), Path::to_path_buf);
    let verdict = match std::fs::read_to_string(&signature) {
        Ok(text) => trusted.verify(&digest, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(SignatureError::Missing {
            digest: digest.clone(),
        }),
        Err(e) => return Err(e).with_context(|| format!("{}", signature.display())),
    };
    match verdict {
        Ok(key_id) => {
            println!("{}: {digest} signed by key {key_id}", file.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}: refused: {e} ({})", file.display(), signature.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `check.wasm.minisig`, where `minisign` puts a file's signature.
pub(super) fn sidecar(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".minisig");
    PathBuf::from(name)
}
