//! Where payloads go. Every sink runs as its own task behind its own bounded queue, so a slow
//! sink never holds up another.

mod console;

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::SinkConfig;
use crate::model::Payload;

pub use console::{format_series, format_service_check};

/// Payloads a sink's queue holds before senders wait.
const QUEUE_PAYLOADS: usize = 1024;

/// Hands payloads to every sink.
#[derive(Clone)]
pub struct PayloadSender {
    queues: Arc<Vec<mpsc::Sender<Arc<Payload>>>>,
}

impl PayloadSender {
    /// Queues a payload for every sink, waiting while a queue is full.
    pub async fn send(&self, payload: Payload) {
        let payload = Arc::new(payload);
        for queue in self.queues.iter() {
            // A sink whose task has ended drops what it is sent.
            let _ = queue.send(payload.clone()).await;
        }
    }
}

/// The running sinks.
pub struct Sinks {
    sender: PayloadSender,
    tasks: Vec<JoinHandle<()>>,
}

impl Sinks {
    /// Starts one task per configured sink.
    pub fn start(configs: &[SinkConfig]) -> Self {
        let mut queues = Vec::new();
        let mut tasks = Vec::new();
        for config in configs {
            let (tx, rx) = mpsc::channel(QUEUE_PAYLOADS);
            queues.push(tx);
            tasks.push(match config {
                SinkConfig::Console {} => tokio::spawn(console::run(rx)),
            });
        }
        Self {
            sender: PayloadSender {
                queues: Arc::new(queues),
            },
            tasks,
        }
    }

    /// A handle that sends to every sink.
    pub fn sender(&self) -> PayloadSender {
        self.sender.clone()
    }

    /// Closes the queues once every sender is gone and waits for the sinks to finish.
    pub async fn close(self) {
        drop(self.sender);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
