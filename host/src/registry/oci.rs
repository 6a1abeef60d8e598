//! Talking to an OCI registry: resolving a tag, reading manifests and blobs with a bound on
//! every body, finding a component's signature, and pushing both. The transport, the token
//! dance and the chunked uploads are `oci-client`'s; what is read is bounded here, because a
//! registry's answers are untrusted input.

use std::time::Duration;

use base64::Engine;
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap};
use tokio::sync::Mutex;

use super::config::{SourceAuth, SourceConfig};
use super::signature::digest_of;

/// The CNCF Wasm OCI artifact's config.
pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
/// The CNCF Wasm OCI artifact's one layer.
pub const WASM_LAYER: &str = "application/wasm";
/// A signature artifact's type, and its one layer's: a minisign signature file.
pub const SIGNATURE: &str = "application/vnd.wasmon.signature.v1+minisign";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// Largest manifest or index read.
const MAX_MANIFEST: usize = 256 * 1024;
/// Largest signature read.
const MAX_SIGNATURE: usize = 8 * 1024;
/// Longest a request may wait for the registry.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Why a pull or push failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry could not be reached or answered with an error.
    #[error("{0}")]
    Transport(String),
    /// The registry has no such manifest.
    #[error("{0}: not found in the registry")]
    NotFound(String),
    /// A body past its bound.
    #[error("the {what} is larger than the {limit} bytes accepted")]
    TooLarge {
        /// What was read.
        what: &'static str,
        /// The bound.
        limit: u64,
    },
    /// What the registry holds is not what it should be.
    #[error("{0}")]
    Invalid(String),
    /// Bytes that do not hash to the digest they were asked for by.
    #[error("the {what} does not match its digest: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was read.
        what: &'static str,
        /// The digest asked for.
        expected: String,
        /// The digest of what came.
        actual: String,
    },
}

/// A component's manifest, read and checked for the Wasm artifact layout.
pub struct ComponentManifest {
    /// The manifest's own digest.
    pub digest: String,
    /// The component layer.
    pub layer: OciDescriptor,
}

/// A component manifest pushed.
pub struct Pushed {
    /// Its digest.
    pub digest: String,
    /// Its size in bytes.
    pub size: i64,
}

/// One registry, as one source reaches it.
pub struct Registry {
    client: Client,
    http: reqwest::Client,
    auth: RegistryAuth,
    scheme: &'static str,
    /// The `Authorization` header once the registry has told how it wants it.
    header: Mutex<Option<Option<String>>>,
}

impl Registry {
    /// A client for `source`'s registry, with its credentials.
    pub fn new(source: &SourceConfig, reference: &Reference) -> Result<Self, RegistryError> {
        let auth = registry_auth(&source.auth, reference.resolve_registry())?;
        let insecure = source.insecure;
        let client = Client::new(ClientConfig {
            protocol: if insecure {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            read_timeout: Some(TIMEOUT),
            connect_timeout: Some(Duration::from_secs(10)),
            ..ClientConfig::default()
        });
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| RegistryError::Transport(format!("cannot make an HTTP client: {e}")))?;
        Ok(Self {
            client,
            http,
            auth,
            scheme: if insecure { "http" } else { "https" },
            header: Mutex::new(None),
        })
    }

    /// The digest of the manifest `reference` names now: its own digest when pinned, else
    /// one HEAD request.
    pub async fn resolve(&self, reference: &Reference) -> Result<String, RegistryError> {
        if let Some(digest) = reference.digest() {
            return Ok(digest.to_string());
        }
        let tag = reference.tag().unwrap_or("latest");
        let url = self.url(reference, "manifests", tag);
        let response = self
            .send(reference, reqwest::Method::HEAD, &url, MANIFESTS)
            .await?;
        match response.headers().get("docker-content-digest") {
            Some(digest) => valid_digest(digest.to_str().unwrap_or_default()),
            None => {
                // The registry does not say: read the manifest and hash it.
                let body = self
                    .get(reference, "manifests", tag, MANIFESTS, MAX_MANIFEST)
                    .await?;
                let body = body.ok_or_else(|| RegistryError::NotFound(reference.whole()))?;
                Ok(digest_of(&body))
            }
        }
    }

    /// The component manifest of `digest`, checked for the Wasm artifact layout.
    pub async fn component_manifest(
        &self,
        reference: &Reference,
        digest: &str,
    ) -> Result<ComponentManifest, RegistryError> {
        let manifest = self
            .manifest_if_any(reference, digest)
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("manifest {digest}")))?;
        if manifest.config.media_type != WASM_CONFIG {
            return Err(RegistryError::Invalid(format!(
                "{digest} is not a Wasm component artifact: its config is {:?}, not {WASM_CONFIG:?}",
                manifest.config.media_type
            )));
        }
        match manifest.layers.as_slice() {
            [layer] if layer.media_type == WASM_LAYER => Ok(ComponentManifest {
                digest: digest.to_string(),
                layer: OciDescriptor {
                    digest: valid_digest(&layer.digest)?,
                    ..layer.clone()
                },
            }),
            layers => Err(RegistryError::Invalid(format!(
                "{digest} is not a Wasm component artifact: it has {} layer(s) ({}), not one \
                 {WASM_LAYER:?}",
                layers.len(),
                layers
                    .iter()
                    .map(|l| l.media_type.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// The signature of the component whose manifest is `manifest_digest`: found through the
    /// referrers API, else the tag `sha256-<hex>.sig`. `None` when there is none.
    pub async fn signature(
        &self,
        reference: &Reference,
        manifest_digest: &str,
    ) -> Result<Option<String>, RegistryError> {
        let path = format!("{manifest_digest}?artifactType={}", urlencode(SIGNATURE));
        let listed = self
            .get(reference, "referrers", &path, &[OCI_INDEX], MAX_MANIFEST)
            .await;
        let mut candidates = Vec::new();
        if let Ok(Some(body)) = listed
            && let Ok(index) = serde_json::from_slice::<Index>(&body)
        {
            candidates.extend(
                index
                    .manifests
                    .into_iter()
                    .filter(|m| m.artifact_type.as_deref() == Some(SIGNATURE))
                    .filter_map(|m| valid_digest(&m.digest).ok()),
            );
        }
        if candidates.is_empty() {
            candidates.push(signature_tag(manifest_digest));
        }
        for candidate in candidates {
            let Some(manifest) = self.manifest_if_any(reference, &candidate).await? else {
                continue;
            };
            let Some(layer) = manifest.layers.iter().find(|l| l.media_type == SIGNATURE) else {
                continue;
            };
            let bytes = self.blob(reference, layer, MAX_SIGNATURE as u64).await?;
            return String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| RegistryError::Invalid("the signature is not text".into()));
        }
        Ok(None)
    }

    /// The blob `layer` describes, at most `limit` bytes, checked against its digest.
    pub async fn blob(
        &self,
        reference: &Reference,
        layer: &OciDescriptor,
        limit: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        if layer.size < 0 || layer.size as u64 > limit {
            return Err(RegistryError::TooLarge {
                what: "component",
                limit,
            });
        }
        let body = self
            .get(reference, "blobs", &layer.digest, &["*/*"], limit as usize)
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("blob {}", layer.digest)))?;
        let actual = digest_of(&body);
        if actual != layer.digest {
            return Err(RegistryError::DigestMismatch {
                what: "layer",
                expected: layer.digest.clone(),
                actual,
            });
        }
        Ok(body)
    }

    /// Pushes `component` in the Wasm artifact layout and `signature` beside it, then points
    /// `reference`'s tag at it: the tag never names a manifest whose signature is not there
    /// yet.
    pub async fn push_signed(
        &self,
        reference: &Reference,
        component: Vec<u8>,
        signature: Option<&str>,
    ) -> Result<Pushed, RegistryError> {
        self.client
            .auth(reference, &self.auth, RegistryOperation::Push)
            .await
            .map_err(transport)?;
        let config = serde_json::json!({
            "architecture": "wasm",
            "os": "wasip2",
            "layerDigests": [digest_of(&component)],
        });
        let config = Config::new(config.to_string().into_bytes(), WASM_CONFIG.into(), None);
        let layer = ImageLayer::new(component, WASM_LAYER.into(), None);
        let manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config, None);
        for (bytes, digest) in [
            (layer.data, &manifest.layers[0].digest),
            (config.data, &manifest.config.digest),
        ] {
            self.client
                .push_blob(reference, bytes, digest)
                .await
                .map_err(transport)?;
        }
        let body =
            serde_json::to_vec(&manifest).map_err(|e| RegistryError::Invalid(e.to_string()))?;
        let digest = digest_of(&body);
        let by_digest = reference.clone_with_digest(digest.clone());
        self.push_manifest_body(&by_digest, &body).await?;
        if let Some(signature) = signature {
            self.push_signature(reference, &digest, body.len() as i64, signature)
                .await?;
        }
        if let Some(tag) = reference.tag().filter(|_| reference.digest().is_none()) {
            let tagged = Reference::with_tag(
                reference.registry().to_string(),
                reference.repository().to_string(),
                tag.to_string(),
            );
            self.push_manifest_body(&tagged, &body).await?;
        }
        Ok(Pushed {
            digest,
            size: body.len() as i64,
        })
    }

    /// Pushes `signature` as an artifact whose subject is the manifest `manifest_digest` (of
    /// `manifest_size` bytes), tagged `sha256-<hex>.sig` for registries without the
    /// referrers API.
    pub async fn push_signature(
        &self,
        reference: &Reference,
        manifest_digest: &str,
        manifest_size: i64,
        signature: &str,
    ) -> Result<(), RegistryError> {
        let tagged = Reference::with_tag(
            reference.registry().to_string(),
            reference.repository().to_string(),
            signature_tag(manifest_digest),
        );
        let empty = b"{}".to_vec();
        let sig = signature.as_bytes().to_vec();
        let descriptor = |media_type: &str, bytes: &[u8]| OciDescriptor {
            media_type: media_type.into(),
            digest: digest_of(bytes),
            size: bytes.len() as i64,
            ..OciDescriptor::default()
        };
        let manifest = OciImageManifest {
            media_type: Some(OCI_MANIFEST.into()),
            artifact_type: Some(SIGNATURE.into()),
            config: descriptor(OCI_EMPTY, &empty),
            layers: vec![descriptor(SIGNATURE, &sig)],
            subject: Some(OciDescriptor {
                media_type: OCI_MANIFEST.into(),
                digest: manifest_digest.into(),
                size: manifest_size,
                ..OciDescriptor::default()
            }),
            ..OciImageManifest::default()
        };
        for bytes in [empty, sig] {
            let digest = digest_of(&bytes);
            self.client
                .push_blob(&tagged, bytes, &digest)
                .await
                .map_err(transport)?;
        }
        let body =
            serde_json::to_vec(&manifest).map_err(|e| RegistryError::Invalid(e.to_string()))?;
        self.push_manifest_body(&tagged, &body).await
    }

    /// PUTs an OCI image manifest.
    async fn push_manifest_body(
        &self,
        reference: &Reference,
        body: &[u8],
    ) -> Result<(), RegistryError> {
        let content_type = reqwest::header::HeaderValue::from_static(OCI_MANIFEST);
        self.client
            .push_manifest_raw(reference, body.to_vec(), content_type)
            .await
            .map_err(transport)?;
        Ok(())
    }

    /// The image manifest `digest_or_tag`, checked against its digest when it is one; `None`
    /// when the registry has none.
    async fn manifest_if_any(
        &self,
        reference: &Reference,
        digest_or_tag: &str,
    ) -> Result<Option<OciImageManifest>, RegistryError> {
        let Some(body) = self
            .get(
                reference,
                "manifests",
                digest_or_tag,
                MANIFESTS,
                MAX_MANIFEST,
            )
            .await?
        else {
            return Ok(None);
        };
        if digest_or_tag.starts_with("sha256:") && digest_of(&body) != digest_or_tag {
            return Err(RegistryError::DigestMismatch {
                what: "manifest",
                expected: digest_or_tag.into(),
                actual: digest_of(&body),
            });
        }
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| RegistryError::Invalid(format!("manifest {digest_or_tag}: {e}")))
    }

    /// GETs `/v2/<repository>/<kind>/<name>`, reading at most `limit` bytes; `None` on 404.
    async fn get(
        &self,
        reference: &Reference,
        kind: &str,
        name: &str,
        accept: &[&str],
        limit: usize,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let url = self.url(reference, kind, name);
        let mut response = match self
            .send(reference, reqwest::Method::GET, &url, accept)
            .await
        {
            Err(RegistryError::NotFound(_)) => return Ok(None),
            other => other?,
        };
        let too_large = || RegistryError::TooLarge {
            what: if kind == "blobs" {
                "component"
            } else {
                "manifest"
            },
            limit: limit as u64,
        };
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body))
    }

    /// Sends one request with the registry's authorization, authenticating again once when
    /// a token has expired.
    async fn send(
        &self,
        reference: &Reference,
        method: reqwest::Method,
        url: &str,
        accept: &[&str],
    ) -> Result<reqwest::Response, RegistryError> {
        for attempt in 0..2 {
            let mut headers = HeaderMap::new();
            if let Ok(value) = accept.join(", ").parse() {
                headers.insert(ACCEPT, value);
            }
            if let Some(value) = self.authorization(reference, attempt > 0).await?
                && let Ok(value) = value.parse()
            {
                headers.insert(AUTHORIZATION, value);
            }
            let response = self
                .http
                .request(method.clone(), url)
                .headers(headers)
                .send()
                .await
                .map_err(transport)?;
            match response.status() {
                StatusCode::UNAUTHORIZED if attempt == 0 => continue,
                StatusCode::NOT_FOUND => return Err(RegistryError::NotFound(url.to_string())),
                status if status.is_success() => return Ok(response),
                status => {
                    return Err(RegistryError::Transport(format!(
                        "{url}: the registry answered {status}"
                    )));
                }
            }
        }
        Err(RegistryError::Transport(format!(
            "{url}: the registry refused the credentials (401)"
        )))
    }

    /// The `Authorization` header, asking the registry how it wants it the first time (and
    /// again when `renew`).
    async fn authorization(
        &self,
        reference: &Reference,
        renew: bool,
    ) -> Result<Option<String>, RegistryError> {
        let mut cached = self.header.lock().await;
        if let (Some(header), false) = (&*cached, renew) {
            return Ok(header.clone());
        }
        let token = self
            .client
            .auth(reference, &self.auth, RegistryOperation::Pull)
            .await
            .map_err(transport)?;
        let header = match (token.as_ref(), &self.auth) {
            (Some(token), _) | (None, RegistryAuth::Bearer(token)) => {
                Some(format!("Bearer {token}"))
            }
            (None, RegistryAuth::Basic(user, password)) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
            (None, RegistryAuth::Anonymous) => None,
        };
        *cached = Some(header.clone());
        Ok(header)
    }

    fn url(&self, reference: &Reference, kind: &str, name: &str) -> String {
        format!(
            "{}://{}/v2/{}/{kind}/{name}",
            self.scheme,
            reference.resolve_registry(),
            reference.repository()
        )
    }
}

/// The media types a manifest is asked for by.
const MANIFESTS: &[&str] = &[
    OCI_MANIFEST,
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// `digest` if it is `sha256:` and 64 lower-case hex digits: what names a file or a URL here.
fn valid_digest(digest: &str) -> Result<String, RegistryError> {
    let hex = digest.strip_prefix("sha256:").unwrap_or_default();
    if hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(digest.to_string())
    } else {
        Err(RegistryError::Invalid(format!(
            "{digest:?} is not a sha256 digest (`sha256:` and 64 hex digits)"
        )))
    }
}

/// The referrers tag schema's signature tag: `sha256-<hex>.sig`.
pub fn signature_tag(manifest_digest: &str) -> String {
    format!("{}.sig", manifest_digest.replace(':', "-"))
}

/// An OCI image index, as the referrers API answers.
#[derive(serde::Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<IndexEntry>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexEntry {
    digest: String,
    artifact_type: Option<String>,
}

/// The credentials of `auth` for `registry`.
fn registry_auth(auth: &SourceAuth, registry: &str) -> Result<RegistryAuth, RegistryError> {
    Ok(match auth {
        SourceAuth::Anonymous => RegistryAuth::Anonymous,
        SourceAuth::Basic { username, password } => {
            RegistryAuth::Basic(username.clone(), password.clone())
        }
        SourceAuth::Bearer(token) => RegistryAuth::Bearer(token.clone()),
        SourceAuth::DockerConfig(path) => {
            let fail = |why: String| RegistryError::Invalid(format!("{}: {why}", path.display()));
            let text = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
            let config: DockerConfig =
                serde_json::from_slice(&text).map_err(|e| fail(e.to_string()))?;
            let entry = config
                .auths
                .iter()
                .find(|(host, _)| {
                    host.trim_start_matches("https://")
                        .trim_start_matches("http://")
                        .trim_end_matches('/')
                        == registry
                })
                .map(|(_, entry)| entry)
                .ok_or_else(|| fail(format!("has no `auths` entry for {registry}")))?;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(entry.auth.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    fail(format!(
                        "the entry for {registry} is not base64 `user:password`"
                    ))
                })?;
            let (user, password) = decoded
                .split_once(':')
                .ok_or_else(|| fail(format!("the entry for {registry} is not `user:password`")))?;
            RegistryAuth::Basic(user.into(), password.into())
        }
    })
}

#[derive(serde::Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, DockerAuth>,
}

#[derive(serde::Deserialize)]
struct DockerAuth {
    auth: String,
}

fn transport(e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Transport(e.to_string())
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_docker_config_gives_basic_credentials_for_its_registry() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("ops:secret");
        std::fs::write(
            &path,
            format!(r#"{{"auths": {{"https://registry.example.com": {{"auth": "{auth}"}}}}}}"#),
        )
        .unwrap();
        let given = SourceAuth::DockerConfig(path);
        let found = registry_auth(&given, "registry.example.com").unwrap();
        assert!(matches!(found, RegistryAuth::Basic(u, p) if u == "ops" && p == "secret"));
        let missing = registry_auth(&given, "other.example.com").unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("no `auths` entry for other.example.com")
        );
    }

    #[test]
    fn only_a_sha256_digest_names_a_file_or_a_url() {
        let good = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(valid_digest(&good).unwrap(), good);
        for bad in ["sha256:../../etc/passwd", "sha512:ab", "sha256:AB", ""] {
            assert!(valid_digest(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_signature_tag_follows_the_tag_schema() {
        assert_eq!(signature_tag("sha256:ab12"), "sha256-ab12.sig");
    }
}
