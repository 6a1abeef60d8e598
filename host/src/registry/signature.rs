//! Minisign (Ed25519) signatures over a component's digest.
//!
//! The signed message is the digest as text, `sha256:<64 hex>`, so a signature binds the exact
//! bytes of the component wherever they are stored. Make one with Debian's `minisign`:
//! `printf sha256:<hex> > digest && minisign -S -s key.sec -m digest -x check.wasm.minisig`.

use std::path::Path;

use base64::Engine;
use minisign_verify::{PublicKey, Signature};
use sha2::{Digest, Sha256};

/// Why a component's signature is not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    /// No signature was found.
    #[error("no signature for {digest}")]
    Missing {
        /// The component's digest.
        digest: String,
    },
    /// The signature text is not a minisign signature.
    #[error("the signature is not a minisign signature: {0}")]
    Malformed(String),
    /// The signature is by a key that is not trusted.
    #[error("signed by key {key_id}, which is not a trusted key (trusted: {trusted})")]
    UntrustedKey {
        /// The key id the signature names.
        key_id: String,
        /// The trusted key ids.
        trusted: String,
    },
    /// The signature is by a trusted key but not over this digest (or was altered).
    #[error("the signature by key {key_id} is not over {digest}")]
    NotOverDigest {
        /// The signer's key id.
        key_id: String,
        /// The component's digest.
        digest: String,
    },
}

/// A public key the operator trusts, with minisign's id for it.
#[derive(Clone)]
pub struct TrustedKey {
    key: PublicKey,
    /// The key id as `minisign` prints it (upper-case hex, no leading zeros).
    pub id: String,
}

/// Why a trusted key cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{given}: not a minisign public key (a `RW…` line or a `.pub` file): {reason}")]
pub struct KeyError {
    given: String,
    reason: String,
}

impl TrustedKey {
    /// A key given inline (`RW…`) or as the path of a minisign `.pub` file.
    pub fn parse(given: &str) -> Result<Self, KeyError> {
        let fail = |reason: String| KeyError {
            given: given.to_string(),
            reason,
        };
        let line = if given.starts_with("RW") && !Path::new(given).exists() {
            given.to_string()
        } else {
            let text = std::fs::read_to_string(given).map_err(|e| fail(e.to_string()))?;
            text.lines()
                .find(|l| !l.trim().is_empty() && !l.starts_with("untrusted comment:"))
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let key = PublicKey::from_base64(&line).map_err(|e| fail(e.to_string()))?;
        let id = key_id(&line, 2).ok_or_else(|| fail("too short".into()))?;
        Ok(Self { key, id })
    }
}

/// The keys a component may be signed by.
#[derive(Clone, Default)]
pub struct TrustedKeys(pub Vec<TrustedKey>);

impl TrustedKeys {
    /// Checks `signature` (a minisign signature file's text) over `digest`; gives the signer's
    /// key id.
    pub fn verify(&self, digest: &str, signature: &str) -> Result<String, SignatureError> {
        let sig =
            Signature::decode(signature).map_err(|e| SignatureError::Malformed(e.to_string()))?;
        let signed_by = signature
            .lines()
            .find(|l| !l.starts_with("untrusted comment:"))
            .and_then(|l| key_id(l.trim(), 2))
            .ok_or_else(|| SignatureError::Malformed("no signature line".into()))?;
        let Some(key) = self.0.iter().find(|k| k.id == signed_by) else {
            return Err(SignatureError::UntrustedKey {
                key_id: signed_by,
                trusted: self.ids(),
            });
        };
        key.key
            .verify(digest.as_bytes(), &sig, false)
            .map(|()| key.id.clone())
            .map_err(|_| SignatureError::NotOverDigest {
                key_id: key.id.clone(),
                digest: digest.to_string(),
            })
    }

    /// The key ids, comma-separated.
    pub fn ids(&self) -> String {
        let ids: Vec<&str> = self.0.iter().map(|k| k.id.as_str()).collect();
        if ids.is_empty() {
            "none".into()
        } else {
            ids.join(", ")
        }
    }
}

/// `sha256:<hex>` of `bytes`, as OCI registries name blobs.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Minisign's key id from a base64 key or signature line: the 8 bytes after the algorithm,
/// read as a little-endian number.
fn key_id(line: &str, at: usize) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(line)
        .ok()?;
    let id: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(format!("{:X}", u64::from_le_bytes(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_written_as_minisign_writes_them() {
        // Debian's minisign named a key `8663301DB3CA5FF` in its `.pub` file: no leading zero.
        let mut bytes = b"Ed".to_vec();
        bytes.extend_from_slice(&0x0866_3301_DB3C_A5FF_u64.to_le_bytes());
        bytes.extend_from_slice(&[0; 32]);
        let line = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert_eq!(key_id(&line, 2).as_deref(), Some("8663301DB3CA5FF"));
    }

    // Made by Debian's minisign 0.11: `minisign -G -W`, then `minisign -S -m digest`.
    const KEY_A: &str = "RWS7dpy4tBHCS4WIdTDCjmysmRABE43fC8vF2FwBKjIts8sVbVgFq9rV";
    const KEY_B: &str = "RWRdhs4o3PmscaFsqI1hAYGFIewj+U224bGYfr3rP+642HVXDQvqbH6C";
    const SIG_A: &str = "untrusted comment: signature from minisign secret key
RUS7dpy4tBHCS3gr6ZECd569XlU3sfppJuhl0NTBus88OWvhfd90qgfFJhFOP4KrYoZN+0hNAXhmoA9P9ogFhyWhG19JePYErAg=
trusted comment: wasmon test
tm3FKmVz6VwMrLxN6mP1ouWbepi8Xu7WkvhI2MWzyo4jZKF/oDthtBUprnrr8APWVj8tMswDQ9abwMyB5SC7Dw==
";

    fn trusting(keys: &[&str]) -> TrustedKeys {
        TrustedKeys(keys.iter().map(|k| TrustedKey::parse(k).unwrap()).collect())
    }

    #[test]
    fn a_signature_by_a_trusted_key_over_the_digest_is_accepted() {
        let digest = digest_of(b"component");
        assert_eq!(
            trusting(&[KEY_B, KEY_A]).verify(&digest, SIG_A),
            Ok("4BC211B4B89C76BB".to_string())
        );
    }

    #[test]
    fn each_refusal_says_why() {
        let digest = digest_of(b"component");
        assert_eq!(
            trusting(&[KEY_B]).verify(&digest, SIG_A),
            Err(SignatureError::UntrustedKey {
                key_id: "4BC211B4B89C76BB".into(),
                trusted: "71ACF9DC28CE865D".into()
            })
        );
        let other = digest_of(b"another component");
        assert_eq!(
            trusting(&[KEY_A]).verify(&other, SIG_A),
            Err(SignatureError::NotOverDigest {
                key_id: "4BC211B4B89C76BB".into(),
                digest: other
            })
        );
        let altered = SIG_A.replace("wasmon test", "wasmon tests");
        assert!(matches!(
            trusting(&[KEY_A]).verify(&digest, &altered),
            Err(SignatureError::NotOverDigest { .. })
        ));
        assert!(matches!(
            trusting(&[KEY_A]).verify(&digest, "not a signature"),
            Err(SignatureError::Malformed(_))
        ));
    }

    #[test]
    fn keys_are_read_inline_or_from_a_pub_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.pub");
        std::fs::write(
            &file,
            format!("untrusted comment: minisign public key 4BC211B4B89C76BB\n{KEY_A}\n"),
        )
        .unwrap();
        let from_file = TrustedKey::parse(file.to_str().unwrap()).unwrap();
        assert_eq!(from_file.id, TrustedKey::parse(KEY_A).unwrap().id);
        let err = TrustedKey::parse("RWnope").err().unwrap().to_string();
        assert!(
            err.starts_with("RWnope: not a minisign public key"),
            "{err}"
        );
    }
}
