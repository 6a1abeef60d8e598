//! The system check: host statistics from /proc and statvfs, with Datadog's metric names so
//! that existing dashboards carry over.
//!
//! Each concern is a module that parses its /proc file into a plain struct and emits samples
//! from it (and from the previous run's struct where a delta is needed). All of it is plain
//! Rust and unit-tested natively against fixtures.

mod config;
mod connections;
mod conntrack;
mod cpu;
mod disk_io;
mod file_handles;
mod filesystems;
mod kernel;
mod listed;
mod load;
mod memory;
mod net_interfaces;
mod net_protocols;
mod network;
mod processes;
mod sources;
mod uptime;
mod vmstat;

use wasmon_sdk::{Check, CheckError, Descriptor, NoConfig, Output};

pub use config::Instance;
use listed::Listed;
use sources::Snapshot;

/// The system check: keeps the previous snapshot to derive percentages and latencies.
pub struct System {
    config: Instance,
    previous: Option<Snapshot>,
    runs: u64,
    /// The interfaces' queue folders, listed once a minute.
    queues: Listed,
    /// The conntrack settings' files, listed once a minute.
    conntrack: Listed,
}

impl Check for System {
    type InitConfig = NoConfig;
    type Instance = Instance;

    fn describe() -> Descriptor {
        Descriptor::new(
            "system",
            env!("CARGO_PKG_VERSION"),
            15,
            "cpu, load, memory, swap, disk I/O, filesystems, network, processes, uptime, kernel",
        )
    }

    fn init(_: NoConfig, config: Instance) -> Result<Self, CheckError> {
        Ok(Self {
            config,
            previous: None,
            runs: 0,
            queues: Listed::default(),
            conntrack: Listed::default(),
        })
    }

    fn run(&mut self, out: &mut Output) -> Result<(), CheckError> {
        let snapshot = Snapshot::read(out.timestamp_ms(), self.config.collect_connection_state)?;
        let previous = self.previous.as_ref();

        cpu::emit(
            &snapshot.cpu,
            previous.map(|p| &p.cpu),
            self.config.report_total_percpu,
            out,
        );
        load::emit(&snapshot.load, snapshot.cpu.cores(), out);
        memory::emit(&snapshot.memory, out);
        uptime::emit(snapshot.uptime, out);
        file_handles::emit(&snapshot.file_handles, out);
        network::emit(&snapshot.network, &self.config, out);
        let interfaces: Vec<&str> = snapshot
            .network
            .iter()
            .map(|i| i.name.as_str())
            .filter(|i| self.config.wants_interface(i))
            .collect();
        let now_ms = snapshot.timestamp_ms;
        net_interfaces::emit(
            &net_interfaces::read(&interfaces, &mut self.queues, now_ms),
            out,
        );
        net_protocols::emit(&snapshot.protocols, out);
        conntrack::emit(&conntrack::read(&mut self.conntrack, now_ms), out);
        if let Some(c) = &snapshot.connections {
            connections::emit(c, out);
        }
        if let Some(v) = &snapshot.vmstat {
            vmstat::emit(v, out);
        }
        kernel::emit(&snapshot.kernel, out);
        disk_io::emit(
            &snapshot.disks,
            previous.map(|p| (&p.disks, p.timestamp_ms)),
            snapshot.timestamp_ms,
            &self.config,
            out,
        );
        filesystems::emit(&snapshot.mounts, &self.config, out);

        let every = u64::from(self.config.process_states_every.max(1));
        if self.runs.is_multiple_of(every) {
            processes::emit(&processes::read()?, out);
        }
        self.runs += 1;
        self.previous = Some(snapshot);
        Ok(())
    }
}

wasmon_sdk::export_check!(System);

#[cfg(test)]
mod tests;
