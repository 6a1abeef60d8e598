//! Reads every /proc file of a run in one host call and parses them.

use wasmon_sdk::{CheckError, files};

use crate::{cpu, disk_io, file_handles, filesystems, load, memory, network, uptime};

/// The files read on every run, in this order.
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
}

impl Snapshot {
    /// Reads and parses every file. A file that cannot be read fails the run.
    pub fn read(timestamp_ms: i64) -> Result<Self, CheckError> {
        let texts = files::read(&FILES.map(String::from))
            .into_iter()
            .zip(FILES)
            .map(|(result, path)| {
                result
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                    .map_err(|e| CheckError::Transient(format!("{path}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
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
        ] = <[String; 9]>::try_from(texts)
            .map_err(|_| CheckError::Permanent("host answered the wrong number of files".into()))?;
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
        })
    }
}
