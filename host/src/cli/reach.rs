//! How the command line reaches a registry and which keys it trusts: its flags, else what the
//! agent's `wasmon.yaml` says, so that `pull` and `verify` check what the fleet would get.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use oci_client::Reference;

use crate::config::{AgentConfig, ConfigErrors};
use crate::registry::{Registry, SourceAuth, SourceConfig, TrustedKey, TrustedKeys, connect};

/// The agent's config, read only when a flag leaves something to it.
pub type LazyConfig<'a> = &'a dyn Fn() -> Result<AgentConfig, ConfigErrors>;

/// How the command line reaches a registry.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Plain HTTP, for a registry on loopback [default: as the agent's source on the same
    /// registry].
    #[arg(long)]
    insecure: bool,
    /// Credentials from a Docker-style `config.json` [default: the agent's source's on the
    /// same registry].
    #[arg(long, value_name = "FILE")]
    docker_config: Option<PathBuf>,
}

impl RegistryArgs {
    /// A client for `reference`'s registry: these flags, else the settings of the agent's
    /// source on the same registry, else anonymous HTTPS.
    pub fn connect(
        &self,
        reference: &str,
        config: LazyConfig,
    ) -> anyhow::Result<(Reference, Registry)> {
        let mut insecure = self.insecure;
        let mut auth = self.docker_config.clone().map(SourceAuth::DockerConfig);
        if let Some(source) = same_registry(reference, config) {
            insecure |= source.insecure;
            auth = auth.or(Some(source.auth));
        }
        connect(reference, insecure, auth.unwrap_or_default()).map_err(anyhow::Error::msg)
    }
}

/// The keys to verify with: `keys`, else the agent's `trusted_keys`.
pub fn trusted(keys: &[String], config: LazyConfig) -> anyhow::Result<TrustedKeys> {
    let keys = if keys.is_empty() {
        config()?.trusted_keys
    } else {
        keys.to_vec()
    };
    if keys.is_empty() {
        bail!("no key to verify with: give --key PUB, or list trusted_keys in wasmon.yaml");
    }
    Ok(TrustedKeys(
        keys.iter()
            .map(|k| TrustedKey::parse(k))
            .collect::<Result<_, _>>()?,
    ))
}

/// The agent's source on the registry `reference` names, if it has one (a config that does
/// not read leaves the flags alone).
fn same_registry(reference: &str, config: LazyConfig) -> Option<SourceConfig> {
    let registry = |r: &str| {
        r.parse::<Reference>()
            .ok()
            .map(|r| r.resolve_registry().to_string())
    };
    let wanted = registry(reference)?;
    config()
        .ok()?
        .sources
        .into_iter()
        .find(|s| registry(&s.reference).as_deref() == Some(wanted.as_str()))
}
