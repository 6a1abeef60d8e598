//! Checks from registries. A component is trusted by its signature, never by where it came
//! from: what the agent runs is signed by a key the operator lists.

mod signature;

pub use signature::{KeyError, SignatureError, TrustedKey, TrustedKeys, digest_of};
