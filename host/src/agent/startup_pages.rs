//! Code and read-only data the agent touches only while it starts (the CLI, config parsing,
//! linking checks) stay resident until the kernel wants the memory, so a settled agent looked a
//! third larger than what it runs on. Once settled, it lets go of the resident pages of the
//! read-only mappings of its executable and the libraries it was started with: the page cache
//! keeps them, and the pages still in use come back at a minor fault. The heap it freed goes
//! back too.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The files mapped when the agent started.
static AT_START: OnceLock<Vec<PathBuf>> = OnceLock::new();

/// Notes the files mapped before the agent could load more: its executable, the libraries it
/// needs and the loader, which stay mapped as long as it runs. Called first thing.
pub fn note_files_at_start() {
    AT_START.get_or_init(|| {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        let mut files: Vec<PathBuf> = (maps.lines())
            .filter_map(mapping_header)
            .flatten()
            .map(|(_, _, path)| PathBuf::from(path))
            .filter(|path| path.is_absolute())
            .collect();
        files.sort();
        files.dedup();
        files
    });
}

/// Lets go of the pages of the read-only, never-written mappings of the agent's executable and
/// of the libraries it started with, and of the heap it freed; the bytes that were resident in
/// those mappings.
pub fn release() -> usize {
    release_freed_heap();
    // The executable is among the files noted at start; nothing noted, nothing let go of.
    let (Ok(smaps), Some(files)) = (std::fs::read_to_string("/proc/self/smaps"), AT_START.get())
    else {
        return 0;
    };
    let mut released = 0;
    for (range, resident) in releasable(&smaps, files) {
        // SAFETY: the range is a whole mapping of the executable or a library mapped when it
        // started (never unmapped while the agent runs), read-only and without a written page
        // in memory or in swap, so dropping its pages loses nothing: the next access maps the
        // same file page again.
        let done = unsafe {
            libc::madvise(
                range.start as *mut libc::c_void,
                range.len(),
                libc::MADV_DONTNEED,
            )
        };
        if done == 0 {
            released += resident;
        }
    }
    released
}

/// Gives the allocator's free pages back to the kernel, so that resident memory is what the
/// agent uses (a compile, for one, frees megabytes into the allocator's pools).
pub fn release_freed_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap memory to the kernel; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The mappings in `smaps` that may be let go of, with their resident bytes: mappings of one of
/// `files`, not writable, with no written page (resident or swapped out). A library loaded
/// later (NSS, say) is left alone: it may be unloaded, and its range reused, meanwhile.
fn releasable(smaps: &str, files: &[PathBuf]) -> Vec<(Range<usize>, usize)> {
    let mut found = Vec::new();
    let mut current: Option<(Range<usize>, usize, bool)> = None;
    let mut finish = |mapping: Option<(Range<usize>, usize, bool)>| {
        if let Some((range, resident, clean)) = mapping
            && clean
            && resident > 0
        {
            found.push((range, resident));
        }
    };
    for line in smaps.lines() {
        if let Some(header) = mapping_header(line) {
            finish(current.take());
            current = header.and_then(|(range, perms, path)| {
                let ours = files.iter().any(|f| f == Path::new(path));
                (ours && !perms.contains('w')).then_some((range, 0, true))
            });
            continue;
        }
        let Some((_, resident, clean)) = current.as_mut() else {
            continue;
        };
        let kib = |field: &str| {
            line.strip_prefix(field)
                .and_then(|rest| rest.trim().strip_suffix("kB"))
                .and_then(|n| n.trim().parse::<usize>().ok())
        };
        if let Some(n) = kib("Rss:") {
            *resident = n * 1024;
        } else if let Some(n) = kib("Anonymous:").or_else(|| kib("Swap:")) {
            // Written (copied) pages, in memory or swapped out. `Private_Dirty` is no sign:
            // it counts a freshly written file's page-cache pages too.
            *clean &= n == 0;
        }
    }
    finish(current);
    found
}

/// `Some(Some((range, perms, path)))` for a mapping's header line with a file path (which may
/// hold spaces; a deleted file's ` (deleted)` is taken off), `Some(None)` for one without,
/// `None` for a field line.
#[allow(clippy::type_complexity)]
fn mapping_header(line: &str) -> Option<Option<(Range<usize>, &str, &str)>> {
    let mut fields = line.splitn(6, ' ');
    let (start, end) = fields.next()?.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    let perms = fields.next()?;
    // Offset, device and inode, then the path, if any, after the padding.
    let path = fields.nth(3).map(str::trim).filter(|p| !p.is_empty());
    Some(path.map(|path| {
        let path = path.strip_suffix(" (deleted)").unwrap_or(path);
        (start..end, perms, path)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
556466793000-556466f4c000 r--p 00000000 00:2a 123 /usr/bin/wasmon
Rss:                2740 kB
Anonymous:             0 kB
556466f4c000-5564685a4000 r-xp 007b9000 00:2a 123 /usr/bin/wasmon
Rss:                7040 kB
Anonymous:             0 kB
5564685a4000-55646869a000 r--p 01e11000 00:2a 123 /usr/bin/wasmon
Rss:                 984 kB
Anonymous:           984 kB
55646869a000-5564686a0000 rw-p 01f07000 00:2a 123 /usr/bin/wasmon
Rss:                  24 kB
Anonymous:            24 kB
55647fbb0000-55647fbee000 rw-p 00000000 00:00 0 [heap]
Rss:                 212 kB
Anonymous:           212 kB
7f1df82a3000-7f1df8325000 r-xp 00000000 00:2a 9 /var/lib/wasmon/cache/abc.cwasm
Rss:                 520 kB
Anonymous:             0 kB
7f1df8c02000-7f1df8d58000 r-xp 00028000 08:01 77 /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                1016 kB
Anonymous:             0 kB
7f1df8d58000-7f1df8d5a000 r--p 00028000 00:2a 123 /usr/bin/wasmon
Rss:                   8 kB
Anonymous:             0 kB
Swap:                  4 kB
7f1df8d5a000-7f1df8d5c000 r--p 00000000 00:2a 124                    /usr/bin/wasmon copy
Rss:                   8 kB
Anonymous:             0 kB
7f1df8d60000-7f1df8d62000 r--p 00000000 08:01 78 /usr/lib/x86_64-linux-gnu/libnss_dns.so.2
Rss:                 120 kB
Anonymous:             0 kB
7ffcd795f000-7ffcd7981000 rw-p 00000000 00:00 0
Rss:                 136 kB
Anonymous:           136 kB
";

    #[test]
    fn only_unwritten_read_only_mappings_of_the_files_mapped_at_start_go() {
        let at_start =
            ["/usr/bin/wasmon", "/usr/lib/x86_64-linux-gnu/libc.so.6"].map(PathBuf::from);
        let found = releasable(SMAPS, &at_start);
        let starts: Vec<(usize, usize)> = found.iter().map(|(r, n)| (r.start, *n)).collect();
        assert_eq!(
            starts,
            [
                // The executable's read-only data and code and the C library's code; not the
                // executable's relocated data (written), one with a written page swapped out,
                // its writable data, the heap, a compiled check (unmapped when dropped), a
                // library loaded later, another file, an empty mapping or the stack.
                (0x556466793000, 2740 * 1024),
                (0x556466f4c000, 7040 * 1024),
                (0x7f1df8c02000, 1016 * 1024),
            ]
        );
    }

    #[test]
    fn released_pages_come_back_as_they_were() {
        note_files_at_start();
        let before = releasable_here();
        assert!(before > 0, "nothing resident to release");
        assert!(release() > 0);
        // The code and constants this runs on fault back in, unchanged.
        let text: String = ["still", "here"].join(" ");
        assert_eq!(text, "still here");
        assert!(releasable_here() < before);
    }

    fn releasable_here() -> usize {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        releasable(&smaps, &[exe]).iter().map(|(_, n)| n).sum()
    }
}
