//! Usage (bytes and inodes) of every real mounted filesystem.
//!
//! "Real" is what psutil's `disk_partitions(all=False)` means, and so Datadog's disk check: a
//! filesystem type listed in /proc/filesystems without `nodev`.

use wasmon_sdk::{LogLevel, Output, fs_usage};

/// One mounted filesystem.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub device: String,
    pub mount_point: String,
    pub fs_type: String,
}

/// Mounts from /proc/mounts whose type needs a device, one per mount point.
pub fn real_mounts(mounts: &str, filesystems: &str) -> Vec<Mount> {
    let real_types: Vec<&str> = filesystems
        .lines()
        .filter(|l| !l.starts_with("nodev"))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let mut found: Vec<Mount> = Vec::new();
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        let [device, mount_point, fs_type, ..] = f[..] else {
            continue;
        };
        if !real_types.contains(&fs_type) {
            continue;
        }
        let mount_point = unescape(mount_point);
        if found.iter().any(|m| m.mount_point == mount_point) {
            continue;
        }
        found.push(Mount {
            device: device.into(),
            mount_point,
            fs_type: fs_type.into(),
        });
    }
    found
}

/// /proc/mounts escapes space, tab, newline and backslash as octal (`\040`).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(c)) => {
                out.push(c);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Emits `system.disk.*` (KiB, as Datadog) and `system.fs.inodes.*` per mount, tagged as
/// Datadog's disk check tags them (`device:`, `device_name:`) and by mount point and type.
pub fn emit(mounts: &[Mount], config: &crate::Instance, out: &mut Output) {
    for mount in mounts
        .iter()
        .filter(|m| config.wants_mount_point(&m.mount_point))
    {
        let usage = match fs_usage::stat(&mount.mount_point) {
            Ok(u) => u,
            Err(e) => {
                wasmon_sdk::log(LogLevel::Debug, &format!("{}: {e}", mount.mount_point));
                continue;
            }
        };
        emit_usage(mount, &usage, out);
    }
}

fn emit_usage(mount: &Mount, u: &fs_usage::Usage, out: &mut Output) {
    let device = format!("device:{}", mount.device);
    let device_name = format!(
        "device_name:{}",
        mount.device.rsplit('/').next().unwrap_or_default()
    );
    let mount_point = format!("mount_point:{}", mount.mount_point);
    let fs_type = format!("filesystem:{}", mount.fs_type);
    let tags = [
        device.as_str(),
        device_name.as_str(),
        mount_point.as_str(),
        fs_type.as_str(),
    ];
    let kib = |b: u64| b as f64 / 1024.0;
    let used = u.total_bytes.saturating_sub(u.free_bytes);
    out.gauge("system.disk.total", kib(u.total_bytes), &tags);
    out.gauge("system.disk.used", kib(used), &tags);
    out.gauge("system.disk.free", kib(u.available_bytes), &tags);
    // As df: used over what an unprivileged user could have.
    let usable = used + u.available_bytes;
    if usable > 0 {
        let in_use = used as f64 / usable as f64;
        out.gauge("system.disk.in_use", in_use, &tags);
        out.gauge("system.disk.utilized", in_use * 100.0, &tags);
    }
    let inodes_used = u.total_inodes.saturating_sub(u.free_inodes);
    out.gauge("system.fs.inodes.total", u.total_inodes as f64, &tags);
    out.gauge("system.fs.inodes.used", inodes_used as f64, &tags);
    out.gauge("system.fs.inodes.free", u.free_inodes as f64, &tags);
    if u.total_inodes > 0 {
        let in_use = inodes_used as f64 / u.total_inodes as f64;
        out.gauge("system.fs.inodes.in_use", in_use, &tags);
        out.gauge("system.fs.inodes.utilized", in_use * 100.0, &tags);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS: &str = "proc /proc proc rw 0 0\n/dev/vda / ext4 rw 0 0\n\
        tmpfs /dev/shm tmpfs rw 0 0\n/dev/vdb /mnt/my\\040data xfs rw 0 0\n/dev/vda / ext4 rw 0 0\n";
    const FILESYSTEMS: &str = "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\n\text4\n\txfs\n";

    #[test]
    fn keeps_device_backed_types_once_per_mount_point() {
        let mounts = real_mounts(MOUNTS, FILESYSTEMS);
        let points: Vec<_> = mounts.iter().map(|m| m.mount_point.as_str()).collect();
        assert_eq!(points, ["/", "/mnt/my data"]);
        assert_eq!(mounts[1].fs_type, "xfs");
    }

    #[test]
    fn usage_in_kib_and_fractions() {
        let mount = Mount {
            device: "/dev/vda".into(),
            mount_point: "/".into(),
            fs_type: "ext4".into(),
        };
        let u = fs_usage::Usage {
            total_bytes: 4096 * 100,
            free_bytes: 4096 * 40,
            available_bytes: 4096 * 30,
            total_inodes: 1000,
            free_inodes: 750,
        };
        let mut out = Output::new(0);
        emit_usage(&mount, &u, &mut out);
        let v = |n: &str| out.samples().iter().find(|s| s.name == n).unwrap().value;
        assert_eq!(v("system.disk.total"), 400.0);
        assert_eq!(v("system.disk.used"), 240.0);
        assert_eq!(v("system.disk.in_use"), 60.0 / 90.0);
        assert_eq!(v("system.fs.inodes.in_use"), 0.25);
        assert_eq!(v("system.fs.inodes.utilized"), 25.0);
        assert!(
            out.samples()[0]
                .tags
                .contains(&"device_name:vda".to_string())
        );
    }
}
