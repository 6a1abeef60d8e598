//! Pulling one component and proving it: the Wasm artifact layout, a signature by a trusted
//! key over the layer's digest (checked before the layer is downloaded), the digest of every
//! byte received, the size bound, and that the layer is a component. The agent's pollers and
//! `wasmon pull`/`verify` go through this one path.

use oci_client::Reference;

use super::oci::{Registry, RegistryError};
use super::signature::{SignatureError, TrustedKeys, digest_of};

/// Why a pull was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The registry failed or held something wrong.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The signature is missing or not acceptable.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The layer is not a WebAssembly component.
    #[error("the layer {0} is not a WebAssembly component")]
    NotAComponent(String),
    /// The component is signed but the agent cannot run it (its world, its imports).
    #[error("the component does not load: {0}")]
    Unusable(String),
    /// The verified component could not be kept on disk.
    #[error("cannot keep the verified component: {0}")]
    Store(#[from] std::io::Error),
    /// What went wrong with one manifest, naming it.
    #[error("manifest {digest}: {error}")]
    Manifest {
        /// The manifest's digest.
        digest: String,
        /// What went wrong.
        error: Box<PullError>,
    },
}

impl PullError {
    /// Whether the registry answered with something refused (rather than failing to answer).
    pub fn is_refusal(&self) -> bool {
        match self {
            Self::Registry(RegistryError::Transport(_) | RegistryError::NotFound(_))
            | Self::Store(_) => false,
            Self::Registry(_) | Self::Signature(_) | Self::NotAComponent(_) | Self::Unusable(_) => {
                true
            }
            Self::Manifest { error, .. } => error.is_refusal(),
        }
    }
}

/// A component proven to be signed by a trusted key.
pub struct Verified {
    /// The digest of its manifest.
    pub manifest_digest: String,
    /// Its digest, `sha256:<hex>`.
    pub digest: String,
    /// The id of the key that signed it.
    pub key_id: String,
    /// The signature, as minisign writes it.
    pub signature: String,
    /// The component.
    pub bytes: Vec<u8>,
    /// Whether the bytes came from the registry (rather than `kept`).
    pub downloaded: bool,
}

/// Pulls the component of `manifest_digest` and verifies it against `keys`, reading the
/// layer from `kept` instead when it already holds bytes of that digest. An error names the
/// manifest.
pub async fn pull_verified(
    registry: &Registry,
    reference: &Reference,
    manifest_digest: &str,
    keys: &TrustedKeys,
    max_bytes: u64,
    kept: impl FnOnce(&str) -> Option<Vec<u8>>,
) -> Result<Verified, PullError> {
    let verified = async {
        let manifest = registry
            .component_manifest(reference, manifest_digest)
            .await?;
        let digest = manifest.layer.digest.clone();
        let signature = registry
            .signature(reference, manifest_digest)
            .await?
            .ok_or_else(|| SignatureError::Missing {
                digest: digest.clone(),
            })?;
        let key_id = keys.verify(&digest, &signature)?;
        let (bytes, downloaded) = match kept(&digest).filter(|b| digest_of(b) == digest) {
            Some(bytes) => (bytes, false),
            None => (
                registry.blob(reference, &manifest.layer, max_bytes).await?,
                true,
            ),
        };
        if !wasmparser::Parser::is_component(&bytes) {
            return Err(PullError::NotAComponent(digest));
        }
        Ok(Verified {
            manifest_digest: manifest_digest.to_string(),
            digest,
            key_id,
            signature,
            bytes,
            downloaded,
        })
    };
    verified.await.map_err(|error| PullError::Manifest {
        digest: manifest_digest.to_string(),
        error: Box::new(error),
    })
}
