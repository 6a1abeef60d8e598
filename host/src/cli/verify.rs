//! `wasmon verify FILE --key PUB`: whether a component is signed by a trusted key, as the
//! agent would check it before compiling.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::registry::{SignatureError, TrustedKey, TrustedKeys, digest_of};

/// Verifies `file` against its signature (`signature`, else `FILE.minisig`) and `keys`.
pub fn verify(file: &Path, signature: Option<&Path>, keys: &[String]) -> anyhow::Result<ExitCode> {
    let trusted = TrustedKeys(
        keys.iter()
            .map(|k| TrustedKey::parse(k))
            .collect::<Result<_, _>>()?,
    );
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
fn sidecar(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".minisig");
    PathBuf::from(name)
}
