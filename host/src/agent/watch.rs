//! Watches conf.d and the checks folders (inotify through `notify`) and asks for a reload on
//! any change. The periodic rescan covers what a watcher can miss.

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::Request;
use crate::config::AgentConfig;

/// Starts watching; the watcher stops when dropped.
pub(super) fn watch(
    config: &AgentConfig,
    requests: mpsc::Sender<Request>,
) -> notify::Result<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            // A full queue already holds a change to handle.
            let _ = requests.try_send(Request::Changed);
        }
    })?;
    watcher.watch(&config.conf_d, RecursiveMode::NonRecursive)?;
    for dir in config.checks_d.iter().filter(|d| d.is_dir()) {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    Ok(watcher)
}
