//! `wasmon push DIR|FILE REFERENCE --key KEY`: builds the check if given its project, signs
//! the component's digest with a minisign secret key, and pushes both in the CNCF Wasm OCI
//! layout (the signature as an artifact whose subject is the component, also tagged
//! `sha256-<hex>.sig` for registries without the referrers API).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use base64::Engine;

use super::reach::{LazyConfig, RegistryArgs};
use crate::registry::{TrustedKey, digest_of};

/// Where the secret key's password is read from, for an encrypted key.
const PASSWORD_VARIABLE: &str = "WASMON_KEY_PASSWORD";

/// Pushes `target` (a project folder, built with the agent's `config`, or a `.wasm`) to
/// `reference`, signed with `key`.
pub async fn push(
    config: LazyConfig<'_>,
    target: &Path,
    reference: &str,
    key: &Path,
    registry: &RegistryArgs,
) -> anyhow::Result<ExitCode> {
    let file = if target.is_dir() {
        super::build::build_component(&config()?, target).await?
    } else {
        target.to_path_buf()
    };
    let bytes = std::fs::read(&file).with_context(|| format!("{}", file.display()))?;
    if !wasmparser::Parser::is_component(&bytes) {
        bail!("{}: not a WebAssembly component", file.display());
    }
    let digest = digest_of(&bytes);
    let (signature, key_id) = sign(key, &digest, reference)?;
    let (parsed, client) = registry.connect(reference, config)?;
    let manifest = client
        .push_signed(&parsed, bytes, Some(&signature))
        .await
        .with_context(|| format!("pushing to {reference}"))?
        .digest;
    println!(
        "pushed {} to {reference}: {digest} (manifest {manifest}), signed by key {key_id}",
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A minisign signature over `digest` by the secret key in `key`, and the key's id.
fn sign(key: &Path, digest: &str, reference: &str) -> anyhow::Result<(String, String)> {
    let text = std::fs::read_to_string(key).with_context(|| format!("{}", key.display()))?;
    let secret = read_secret_key(&text)
        .with_context(|| format!("{}: cannot read the minisign secret key", key.display()))?;
    let public = minisign::PublicKey::from_secret_key(&secret)
        .with_context(|| format!("{}: cannot derive the public key", key.display()))?;
    let comment = format!("wasmon {reference} {digest}");
    let signature = minisign::sign(
        Some(&public),
        &secret,
        std::io::Cursor::new(digest.as_bytes()),
        Some(&comment),
        None,
    )
    .context("signing")?
    .into_string();
    let key_id = TrustedKey::parse(&public.to_base64())
        .map(|k| k.id)
        .map_err(anyhow::Error::msg)?;
    Ok((signature, key_id))
}

/// A minisign secret key file's key: encrypted ones decrypted with the password in
/// `WASMON_KEY_PASSWORD`; unencrypted ones (`minisign -G -W`) read as they are, since
/// minisign 0.11 writes them without the checksum the crate would check.
fn read_secret_key(text: &str) -> anyhow::Result<minisign::SecretKey> {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with("untrusted comment:"))
        .unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(line.trim())
        .context("not base64")?;
    let key = minisign::SecretKey::from_bytes(&bytes)?;
    if !key.is_encrypted() {
        return Ok(key);
    }
    let password = std::env::var(PASSWORD_VARIABLE).map_err(|_| {
        anyhow::anyhow!("the key is encrypted: put its password in {PASSWORD_VARIABLE}")
    })?;
    Ok(minisign::SecretKeyBox::from_string(text)?.into_secret_key(Some(password))?)
}
