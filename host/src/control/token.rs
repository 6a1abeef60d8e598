//! The API token: 32 random bytes, hex, written at each start to a file only the agent's user
//! can read, as the Datadog agent's auth_token.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Where the token is.
pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join("auth_token")
}

/// Makes a new token and writes it with mode 0600.
pub fn create(data_dir: &Path) -> anyhow::Result<String> {
    let token = hex::encode(rand::random::<[u8; 32]>());
    let path = token_path(data_dir);
    let _ = std::fs::remove_file(&path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    file.write_all(token.as_bytes())?;
    Ok(token)
}

/// Reads the token of the agent using `data_dir`.
pub fn read_token(data_dir: &Path) -> anyhow::Result<String> {
    let path = token_path(data_dir);
    std::fs::read_to_string(&path)
        .map(|t| t.trim().to_string())
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot read {} (is the agent running with this data folder?): {e}",
                path.display()
            )
        })
}
