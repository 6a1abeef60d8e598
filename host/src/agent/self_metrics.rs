//! The agent's own metrics, sent like any other series: what each sink did since the last
//! report (`wasmon.sink.*`), the agent's resident memory and CPU (`wasmon.agent.*`), and its
//! cluster group (`wasmon.cluster.*` and the `wasmon.cluster.etcd` service check), and its
//! registry sources (`wasmon.registry.*`: pulls, verify failures, poll errors, bytes pulled).
//! Per-instance runs, failures, timeouts and run times go out with each run.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::aggregate::Stage;
use crate::cluster::ClusterState;
use crate::registry::SourcesState;

use crate::model::{Payload, Series, SeriesKind};
use crate::scheduler::now_ms;
use crate::sinks::{SinkHandle, StatsSnapshot};

/// Reports every `every` until `stop`, tagged with the stage's host name and global tags.
pub async fn run(
    sinks: Vec<SinkHandle>,
    stage: Stage,
    cluster: Option<Arc<ClusterState>>,
    sources: Arc<SourcesState>,
    every: Duration,
    stop: CancellationToken,
) {
    let mut previous: Vec<StatsSnapshot> = sinks.iter().map(|s| s.stats.snapshot()).collect();
    let mut cpu_before = process_cpu_seconds();
    let mut rebalanced = 0;
    let mut pulled = [0; 4];
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = stop.cancelled() => return,
        }
        let timestamp_ms = now_ms();
        let mut tags = stage.base_tags().to_vec();
        tags.sort();
        let mut series = Vec::new();
        for (sink, before) in sinks.iter().zip(&mut previous) {
            let now = sink.stats.snapshot();
            series.extend(now.series(before, &sink.name, &tags, timestamp_ms));
            *before = now;
        }
        let point = |name: &str, value: f64| Series {
            name: name.into(),
            kind: SeriesKind::Gauge,
            value,
            timestamp_ms,
            tags: tags.clone(),
        };
        if let Some(rss) = resident_bytes() {
            series.push(point("wasmon.agent.rss_bytes", rss));
        }
        if let (Some(now), Some(before)) = (process_cpu_seconds(), cpu_before) {
            series.push(point(
                "wasmon.agent.cpu_percent",
                (now - before) / every.as_secs_f64() * 100.0,
            ));
        }
        cpu_before = process_cpu_seconds();
        if !sources.is_empty() {
            series.extend(sources.series(&mut pulled, &tags, timestamp_ms));
        }
        let mut service_checks = Vec::new();
        if let Some(cluster) = &cluster {
            let (more, check) = cluster.metrics(&tags, timestamp_ms, &mut rebalanced);
            series.extend(more);
            service_checks.push(check);
        }
        stage
            .sinks()
            .send(Payload {
                series,
                service_checks,
                ..Payload::default()
            })
            .await;
    }
}

/// Resident set size from `/proc/self/statm`.
pub fn resident_bytes() -> Option<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * rustix::param::page_size() as f64)
}

/// User + system CPU seconds from `/proc/self/stat`.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / rustix::param::clock_ticks_per_second() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_memory_and_cpu_are_read() {
        assert!(resident_bytes().is_some_and(|b| b > 1e6));
        // Spend some CPU first, so that the count cannot be an untouched zero.
        let started = std::time::Instant::now();
        let mut n: u64 = 0;
        while started.elapsed() < std::time::Duration::from_millis(50) {
            n = std::hint::black_box(n.wrapping_add(1));
        }
        assert!(process_cpu_seconds().is_some_and(|s| s > 0.0));
    }
}
