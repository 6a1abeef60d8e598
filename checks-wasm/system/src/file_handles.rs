//! Open file handles from /proc/sys/fs/file-nr.

use wasmon_sdk::Output;

/// Allocated, allocated-but-unused and maximum file handles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FileHandles {
    pub allocated: f64,
    pub unused: f64,
    pub max: f64,
}

/// Parses /proc/sys/fs/file-nr.
pub fn parse(text: &str) -> Result<FileHandles, String> {
    let v: Vec<f64> = text
        .split_ascii_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    match v[..] {
        [allocated, unused, max] => Ok(FileHandles {
            allocated,
            unused,
            max,
        }),
        _ => Err(format!("expected three numbers, got {text:?}")),
    }
}

/// Emits `system.fs.file_handles.*`.
pub fn emit(h: &FileHandles, out: &mut Output) {
    let used = h.allocated - h.unused;
    out.gauge("system.fs.file_handles.allocated", h.allocated, &[]);
    out.gauge("system.fs.file_handles.allocated_unused", h.unused, &[]);
    out.gauge("system.fs.file_handles.used", used, &[]);
    out.gauge("system.fs.file_handles.max", h.max, &[]);
    if h.max > 0.0 {
        out.gauge("system.fs.file_handles.in_use", used / h.max, &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_three_numbers() {
        let h = parse("96\t0\t2466174\n").unwrap();
        assert_eq!(
            h,
            FileHandles {
                allocated: 96.0,
                unused: 0.0,
                max: 2466174.0
            }
        );
        assert!(parse("1 2").is_err());
    }
}
