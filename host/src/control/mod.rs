//! The control API, on loopback TCP and a Unix socket, every request authenticated by the token
//! the agent writes to `<data_dir>/auth_token` (readable only by its user): status, reload, and
//! instances added or removed at run time (persisted to conf.d).

mod conf_edit;
mod routes;
mod token;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tokio::net::{TcpListener, UnixListener};

use crate::agent::AgentHandle;
use crate::config::AgentConfig;
pub use token::{read_token, token_path};

/// File holding the address the API listens on (useful with port 0).
pub fn address_path(data_dir: &Path) -> PathBuf {
    data_dir.join("control.addr")
}

/// Starts the API; it serves until the process ends.
pub async fn start(config: &AgentConfig, agent: AgentHandle) -> anyhow::Result<()> {
    let token = token::create(&config.data_dir)?;
    let router = routes::router(routes::ApiState {
        agent,
        token,
        conf_d: config.conf_d.clone(),
    });
    if !config.control.listen.is_empty() {
        let addr: SocketAddr = config.control.listen.parse().map_err(|e| {
            anyhow::anyhow!(
                "control.listen {:?}: expected an address like 127.0.0.1:5790: {e}",
                config.control.listen
            )
        })?;
        anyhow::ensure!(
            addr.ip().is_loopback(),
            "control.listen {addr}: the control API listens on loopback only"
        );
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("control API on {addr}: {e}"))?;
        let bound = listener.local_addr()?;
        std::fs::write(address_path(&config.data_dir), bound.to_string())?;
        tracing::info!(address = %bound, "control API listening");
        let router = router.clone();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!("control API stopped: {e}");
            }
        });
    }
    let socket = config.data_dir.join("wasmon.sock");
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)
        .map_err(|e| anyhow::anyhow!("control socket {}: {e}", socket.display()))?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!("control socket stopped: {e}");
        }
    });
    Ok(())
}
