//! Reads every /proc file of a run in one host call and parses them.

use wasmon_sdk::{CheckError, files};

use crate::connections::{self, Connections};
use crate::{
    cpu, disk_io, file_handles, filesystems, kernel, load, memory, net_protocols, network, uptime,
    vmstat,
};

/// The files read on every run, in this order; a run fails without them.
const FILES: [&str; 9] = [
    "/proc/stat",
    "/proc/loadavg",
    "/proc/meminfo",
    "/proc/uptime",
    "/proc/sys/fs/file-nr",
    "/proc/net/dev",
    "/proc/diskstats",
    "/proc/mounts",
    "/proc/filesystems",
];

/// Files read when present and granted: a container or an older config may lack them, and
/// their families are then left out.
const OPTIONAL: [&str; 5] = [
    "/proc/vmstat",
    "/proc/net/snmp",
    "/proc/net/netstat",
    "/proc/sys/kernel/random/entropy_avail",
    "/proc/sys/fs/inode-nr",
];

/// Everything one run reads, parsed.
pub struct Snapshot {
    pub timestamp_ms: i64,
    pub cpu: cpu::CpuStat,
    pub load: load::Load,
    pub memory: memory::MemInfo,
    pub uptime: f64,
    pub file_handles: file_handles::FileHandles,
    pub network: Vec<network::Interface>,
    pub disks: Vec<disk_io::DiskStat>,
    pub mounts: Vec<filesystems::Mount>,
    pub vmstat: Option<vmstat::VmStat>,
    pub protocols: net_protocols::Counters,
    pub kernel: kernel::Kernel,
    /// With `collect_connection_state`.
    pub connections: Option<Connections>,
}

impl Snapshot {
    /// Reads and parses every file in one host call. A required file that cannot be read
    /// fails the run.
    pub fn read(timestamp_ms: i64, connection_state: bool) -> Result<Self, CheckError> {
        let mut paths: Vec<String> = FILES
            .iter()
            .chain(&OPTIONAL)
            .map(|p| p.to_string())
            .collect();
        if connection_state {
            paths.extend(connections::FILES.map(String::from));
        }
        let mut answers = files::read(&paths)
            .into_iter()
            .zip(&paths)
            .map(|(result, path)| {
                result
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                    .map_err(|e| format!("{path}: {e}"))
            });
        let mut required = || {
            answers
                .next()
                .ok_or_else(|| CheckError::Permanent("host answered too few files".into()))?
                .map_err(CheckError::Transient)
        };
        let [
            stat,
            loadavg,
            meminfo,
            uptime,
            file_nr,
            net_dev,
            diskstats,
            mounts,
            fs_types,
        ] = [
            required()?,
            required()?,
            required()?,
            required()?,
            required()?,
            required()?,
            required()?,
            required()?,
            required()?,
        ];
        let mut optional = || answers.next().and_then(Result::ok);
        let [vmstat, snmp, netstat, entropy, inode_nr] =
            [optional(), optional(), optional(), optional(), optional()];
        let connections = connection_state.then(|| {
            let [tcp, tcp6, udp, udp6] =
                [optional(), optional(), optional(), optional()].map(Option::unwrap_or_default);
            Connections::parse(&tcp, &tcp6, &udp, &udp6)
        });
        let parse_err = |path: &str, e: String| CheckError::Transient(format!("{path}: {e}"));
        Ok(Self {
            timestamp_ms,
            cpu: cpu::parse(&stat).map_err(|e| parse_err("/proc/stat", e))?,
            load: load::parse(&loadavg).map_err(|e| parse_err("/proc/loadavg", e))?,
            memory: memory::parse(&meminfo),
            uptime: uptime::parse(&uptime).map_err(|e| parse_err("/proc/uptime", e))?,
            file_handles: file_handles::parse(&file_nr)
                .map_err(|e| parse_err("/proc/sys/fs/file-nr", e))?,
            network: network::parse(&net_dev),
            disks: disk_io::parse(&diskstats),
            mounts: filesystems::real_mounts(&mounts, &fs_types),
            vmstat: vmstat.as_deref().map(vmstat::parse),
            protocols: net_protocols::parse(snmp.iter().chain(&netstat).map(String::as_str)),
            kernel: kernel::parse(entropy.as_deref(), inode_nr.as_deref()),
            connections,
        })
    }
}
