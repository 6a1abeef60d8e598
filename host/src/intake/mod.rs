//! Metrics that applications push: the DogStatsD server (UDP and a Unix datagram socket,
//! aggregated over flush windows) and Open-Falcon's HTTP push API. Both feed the sinks as the
//! checks do, through the same aggregation engine ([`crate::aggregate`]).

mod config;
pub mod dogstatsd;
mod push;
mod stats;

use std::sync::Arc;

pub use config::{DogstatsdConfig, PushConfig};
use dogstatsd::Dogstatsd;
use push::Push;
pub use stats::{IntakeReport, IntakeStats};

use crate::aggregate::Stage;
use crate::config::AgentConfig;

/// The running intake.
pub struct Intake {
    dogstatsd: Option<Dogstatsd>,
    push: Option<Push>,
    stats: Arc<IntakeStats>,
}

impl Intake {
    /// Starts what `config` enables, sending through `stage`. An address that cannot be
    /// listened on fails the start, naming its key.
    pub async fn start(config: &AgentConfig, stage: &Stage) -> anyhow::Result<Self> {
        let stats = Arc::new(IntakeStats::default());
        let tags = stage.base_tags().to_vec();
        let mut own_tags = tags.clone();
        own_tags.sort();
        let dogstatsd = match config.dogstatsd.enabled() {
            true => Some(Dogstatsd::start(
                &config.dogstatsd,
                tags,
                own_tags,
                stats.clone(),
                stage.sinks().clone(),
            )?),
            false => None,
        };
        let push = match config.push.listen.is_empty() {
            true => None,
            false => Some(Push::start(&config.push, stage, stats.clone()).await?),
        };
        Ok(Self {
            dogstatsd,
            push,
            stats,
        })
    }

    /// Its counters, for `wasmon status`.
    pub fn stats(&self) -> Arc<IntakeStats> {
        self.stats.clone()
    }

    /// Stops listening and flushes what was aggregated.
    pub async fn stop(self) {
        if let Some(push) = self.push {
            push.stop().await;
        }
        if let Some(dogstatsd) = self.dogstatsd {
            dogstatsd.stop().await;
        }
    }
}
