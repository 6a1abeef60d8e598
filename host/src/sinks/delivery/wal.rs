//! A sink's disk buffer: a write-ahead log of batches in numbered segment files under the
//! agent's data folder. Every batch is appended before it is sent and acknowledged after, so
//! what was accepted survives `kill -9`. Records carry their length and a CRC32; a torn or
//! corrupt tail of the last segment (the last write of a killed agent) is cut off on recovery.
//! Damage anywhere else is skipped by resynchronising on the next valid record, logged and
//! counted ([`Wal::corrupt_records`]). Past the disk budget the oldest segments are deleted and
//! their series counted as dropped.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Largest segment; smaller budgets get segments of a quarter of the budget, so dropping the
/// oldest segment frees a quarter at most.
const MAX_SEGMENT_BYTES: u64 = 4 << 20;
const HEADER: usize = 8;
/// A record longer than this is corruption, not data.
const MAX_RECORD: u32 = 64 << 20;

/// Where a valid record lies in its segment (header included), and its series count.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Extent {
    start: u64,
    end: u64,
    series: u32,
}

/// One segment: its number, size on disk, and its valid records. Records need not be back to
/// back: recovery may have skipped damaged bytes between them.
#[derive(Debug)]
struct Segment {
    seq: u64,
    bytes: u64,
    /// The valid records, in order.
    records: Vec<Extent>,
}

impl Segment {
    /// The records that end after `offset`: those not yet delivered.
    fn after(&self, offset: u64) -> impl Iterator<Item = &Extent> {
        self.records.iter().filter(move |r| r.end > offset)
    }

    /// Series in the records that end after `offset`.
    fn series_after(&self, offset: u64) -> u64 {
        self.after(offset).map(|r| u64::from(r.series)).sum()
    }
}

/// What recovery found in a segment.
#[derive(Debug)]
struct Scan {
    records: Vec<Extent>,
    /// Length to keep: the file's, or shorter by a torn tail.
    valid: u64,
    /// Damaged regions skipped.
    skipped: u64,
}

/// Where reading resumes: segment number and byte offset. Every record of that segment ending
/// at or before the offset is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Position {
    seq: u64,
    offset: u64,
}

/// The log of one sink.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    budget: u64,
    segment_bytes: u64,
    segments: VecDeque<Segment>,
    writer: File,
    /// The first unacknowledged record.
    acked: Position,
    /// Damaged regions skipped on recovery.
    corrupt: u64,
}

/// A record read for sending, with where the log stands after it.
#[derive(Debug)]
pub struct Record {
    /// The batch as appended.
    pub data: Vec<u8>,
    next: Position,
}

/// What [`Wal::append`] had to drop to stay within budget.
#[derive(Debug, Default, PartialEq)]
pub struct Dropped {
    /// Series in the dropped records.
    pub series: u64,
}

impl Wal {
    /// Opens (or creates) the log in `dir`, cutting off a torn tail and skipping damaged bytes.
    pub fn open(dir: &Path, budget: u64) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let mut seqs: Vec<u64> = fs::read_dir(dir)?
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".wal")?.parse().ok()
            })
            .collect();
        seqs.sort_unstable();
        let acked = read_ack(dir).unwrap_or_default();
        let newest = seqs.last().copied();
        let mut segments = VecDeque::new();
        let mut corrupt = 0;
        for seq in seqs {
            let path = segment_path(dir, seq);
            if seq < acked.seq {
                fs::remove_file(&path)?;
                continue;
            }
            let found = scan(&path, Some(seq) == newest)?;
            let file = OpenOptions::new().write(true).open(&path)?;
            file.set_len(found.valid)?;
            corrupt += found.skipped;
            segments.push_back(Segment {
                seq,
                bytes: found.valid,
                records: found.records,
            });
        }
        if segments.is_empty() {
            let seq = acked.seq.max(1);
            File::create(segment_path(dir, seq))?;
            segments.push_back(Segment {
                seq,
                bytes: 0,
                records: Vec::new(),
            });
        }
        let mut acked = acked;
        if acked.seq != segments[0].seq {
            acked = Position {
                seq: segments[0].seq,
                offset: 0,
            };
        }
        let last = segments.back().map(|s| s.seq).unwrap_or(1);
        let writer = OpenOptions::new()
            .append(true)
            .open(segment_path(dir, last))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            budget,
            segment_bytes: (budget / 4).clamp(64 << 10, MAX_SEGMENT_BYTES),
            segments,
            writer,
            acked,
            corrupt,
        })
    }

    /// Damaged regions skipped on recovery since the log was opened (each also logged).
    pub fn corrupt_records(&self) -> u64 {
        self.corrupt
    }

    /// Appends a batch of `series` series; past the budget, the oldest segments go. An empty
    /// batch is not written (recovery would take it for damage).
    pub fn append(&mut self, data: &[u8], series: u32) -> io::Result<Dropped> {
        if data.is_empty() {
            return Ok(Dropped::default());
        }
        let last = self.segments.back().map_or(0, |s| s.bytes);
        if last >= self.segment_bytes {
            self.rotate()?;
        }
        let mut record = Vec::with_capacity(HEADER + data.len());
        record.extend_from_slice(&(data.len() as u32).to_le_bytes());
        record.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
        record.extend_from_slice(data);
        let start = self.segments.back().map_or(0, |s| s.bytes);
        if let Err(e) = self.writer.write_all(&record) {
            // A partial write would shift every later record: cut it off if possible.
            let _ = self.writer.set_len(start);
            return Err(e);
        }
        if let Some(segment) = self.segments.back_mut() {
            segment.bytes += record.len() as u64;
            segment.records.push(Extent {
                start,
                end: segment.bytes,
                series,
            });
        }
        self.enforce_budget()
    }

    /// Bytes on disk not yet acknowledged (roughly: whole segments count).
    pub fn disk_bytes(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| s.bytes)
            .sum::<u64>()
            .saturating_sub(self.acked.offset)
    }

    /// Series appended and not yet acknowledged.
    pub fn pending_series(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| s.series_after(self.acked_in(s)))
            .sum()
    }

    /// The acknowledged offset within `segment` (0 past the acknowledged segment).
    fn acked_in(&self, segment: &Segment) -> u64 {
        if segment.seq == self.acked.seq {
            self.acked.offset
        } else {
            0
        }
    }

    /// Reads the records after the acknowledged position that together hold at most
    /// `max_series` series (at least one record), without acknowledging them.
    pub fn peek_series(&self, max_series: u64) -> io::Result<Vec<Record>> {
        let mut records = 0;
        let mut series = 0u64;
        'count: for segment in &self.segments {
            if segment.seq < self.acked.seq {
                continue;
            }
            for record in segment.after(self.acked_in(segment)) {
                let n = u64::from(record.series);
                if records > 0 && series + n > max_series {
                    break 'count;
                }
                records += 1;
                series += n;
            }
        }
        self.peek(records)
    }

    /// Reads up to `max` records after the acknowledged position, without acknowledging them.
    /// A record whose bytes no longer check out (damaged since recovery) comes back with empty
    /// `data`, for the caller to skip as corrupt and acknowledge past.
    pub fn peek(&self, max: usize) -> io::Result<Vec<Record>> {
        let mut out = Vec::new();
        for segment in &self.segments {
            if out.len() >= max {
                break;
            }
            if segment.seq < self.acked.seq {
                continue;
            }
            let mut pending = segment
                .after(self.acked_in(segment))
                .take(max - out.len())
                .peekable();
            if pending.peek().is_none() {
                continue;
            }
            let path = segment_path(&self.dir, segment.seq);
            let mut file = File::open(&path)?;
            for extent in pending {
                let data = read_extent(&mut file, extent)?.unwrap_or_else(|| {
                    tracing::warn!(
                        segment = %path.display(),
                        offset = extent.start,
                        "a disk buffer record no longer matches its checksum and is skipped"
                    );
                    Vec::new()
                });
                out.push(Record {
                    data,
                    next: Position {
                        seq: segment.seq,
                        offset: extent.end,
                    },
                });
            }
        }
        Ok(out)
    }

    /// Marks everything up to and including `record` as delivered; emptied segments go.
    pub fn ack(&mut self, record: &Record) -> io::Result<()> {
        while self.segments.len() > 1 && self.segments[0].seq < record.next.seq {
            self.remove_oldest()?;
        }
        self.acked = record.next;
        // Every record of the oldest segment delivered (damaged bytes may follow the last).
        let oldest = &self.segments[0];
        if self.segments.len() > 1
            && oldest.seq == self.acked.seq
            && oldest.after(self.acked.offset).next().is_none()
        {
            self.remove_oldest()?;
        }
        write_ack(&self.dir, self.acked)
    }

    fn rotate(&mut self) -> io::Result<()> {
        let seq = self.segments.back().map_or(1, |s| s.seq + 1);
        self.writer = OpenOptions::new()
            .create(true)
            .append(true)
            .open(segment_path(&self.dir, seq))?;
        self.segments.push_back(Segment {
            seq,
            bytes: 0,
            records: Vec::new(),
        });
        Ok(())
    }

    fn remove_oldest(&mut self) -> io::Result<Dropped> {
        let Some(segment) = self.segments.pop_front() else {
            return Ok(Dropped::default());
        };
        let from = if segment.seq == self.acked.seq {
            self.acked.offset
        } else {
            0
        };
        let series = segment.series_after(from);
        fs::remove_file(segment_path(&self.dir, segment.seq))?;
        if let Some(next) = self.segments.front() {
            self.acked = Position {
                seq: next.seq,
                offset: 0,
            };
        }
        Ok(Dropped { series })
    }

    fn enforce_budget(&mut self) -> io::Result<Dropped> {
        let mut dropped = Dropped::default();
        while self.segments.len() > 1 && self.disk_bytes() > self.budget {
            dropped.series += self.remove_oldest()?.series;
            write_ack(&self.dir, self.acked)?;
        }
        Ok(dropped)
    }
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016}.wal"))
}

/// The payload length of a valid record at `at` in `bytes`: a length in `1..=MAX_RECORD`
/// that fits in what follows, and a matching checksum.
fn record_at(bytes: &[u8], at: usize) -> Option<usize> {
    let header = bytes.get(at..at.checked_add(HEADER)?)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?);
    let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
    if len == 0 || len > MAX_RECORD {
        return None;
    }
    let start = at + HEADER;
    let payload = bytes.get(start..start.checked_add(len as usize)?)?;
    (crc32fast::hash(payload) == crc).then_some(len as usize)
}

/// Reads the payload of the record at `extent` again; `None` if it no longer checks out.
fn read_extent(file: &mut File, extent: &Extent) -> io::Result<Option<Vec<u8>>> {
    // Extents come from records checked against the file, so the length is bounded by it.
    let mut bytes = vec![0u8; extent.end.saturating_sub(extent.start) as usize];
    file.seek(SeekFrom::Start(extent.start))?;
    match file.read_exact(&mut bytes) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    if record_at(&bytes, 0).is_none_or(|len| HEADER + len != bytes.len()) {
        return Ok(None);
    }
    bytes.drain(..HEADER);
    Ok(Some(bytes))
}

/// Finds a segment's valid records. Where a record does not check out, the scan resynchronises
/// on the next offset holding a valid record and logs and counts the skipped bytes; with none
/// left in the `last` segment, the rest is a torn tail, cut off without counting.
fn scan(path: &Path, last: bool) -> io::Result<Scan> {
    let bytes = fs::read(path)?;
    let mut records = Vec::new();
    let mut skipped = 0;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(len) = record_at(&bytes, at) {
            let end = at + HEADER + len;
            records.push(Extent {
                start: at as u64,
                end: end as u64,
                series: series_in(&bytes[at + HEADER..end]),
            });
            at = end;
            continue;
        }
        let next = (at + 1..bytes.len()).find(|&i| record_at(&bytes, i).is_some());
        if next.is_none() && last {
            return Ok(Scan {
                records,
                valid: at as u64,
                skipped,
            });
        }
        let to = next.unwrap_or(bytes.len());
        tracing::warn!(
            segment = %path.display(),
            offset = at,
            bytes = to - at,
            "damaged bytes in the disk buffer are skipped"
        );
        skipped += 1;
        at = to;
    }
    Ok(Scan {
        records,
        valid: bytes.len() as u64,
        skipped,
    })
}

/// Series in a record (a JSON array of series).
fn series_in(data: &[u8]) -> u32 {
    serde_json::from_slice::<Vec<serde::de::IgnoredAny>>(data).map_or(0, |v| v.len() as u32)
}

fn read_ack(dir: &Path) -> Option<Position> {
    let text = fs::read_to_string(dir.join("ack")).ok()?;
    let (seq, offset) = text.trim().split_once(' ')?;
    Some(Position {
        seq: seq.parse().ok()?,
        offset: offset.parse().ok()?,
    })
}

/// Writes the acknowledged position atomically (a temporary, then a rename).
fn write_ack(dir: &Path, pos: Position) -> io::Result<()> {
    let tmp = dir.join("ack.tmp");
    fs::write(&tmp, format!("{} {}\n", pos.seq, pos.offset))?;
    fs::rename(tmp, dir.join("ack"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize, tag: &str) -> Vec<u8> {
        let v: Vec<String> = (0..n).map(|i| format!("{tag}{i}")).collect();
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn appended_records_are_read_back_until_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path(), 1 << 30).unwrap();
        wal.append(&batch(2, "a"), 2).unwrap();
        wal.append(&batch(3, "b"), 3).unwrap();
        assert_eq!(wal.pending_series(), 5);
        let records = wal.peek(10).unwrap();
        assert_eq!(records.len(), 2);
        // Batches are cut at whole records: 4 series fit only the first.
        assert_eq!(wal.peek_series(4).unwrap().len(), 1);
        assert_eq!(wal.peek_series(5).unwrap().len(), 2);
        assert_eq!(wal.peek_series(1).unwrap().len(), 1);
        wal.ack(&records[0]).unwrap();
        assert_eq!(wal.pending_series(), 3);
        // Reopened (a restart), only the unacknowledged record is left.
        drop(wal);
        let wal = Wal::open(dir.path(), 1 << 30).unwrap();
        let records = wal.peek(10).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].data, batch(3, "b"));
        assert_eq!(wal.pending_series(), 3);
    }

    #[test]
    fn a_torn_tail_is_cut_off_on_recovery() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path(), 1 << 30).unwrap();
        wal.append(&batch(1, "ok"), 1).unwrap();
        drop(wal);
        // A killed agent's half-written record: a header promising more than was written.
        let path = segment_path(dir.path(), 1);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&100u32.to_le_bytes()).unwrap();
        file.write_all(&[1, 2, 3, 4, 5, 6]).unwrap();
        drop(file);
        let mut wal = Wal::open(dir.path(), 1 << 30).unwrap();
        assert_eq!(data_of(&wal.peek(10).unwrap()), vec![batch(1, "ok")]);
        assert_eq!(wal.corrupt_records(), 0);
        // Appending after recovery starts at the cut, so the new record reads back too.
        wal.append(&batch(1, "new"), 1).unwrap();
        let records = wal.peek(10).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].data, batch(1, "new"));
    }

    #[test]
    fn a_corrupt_last_record_is_cut_like_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path(), 1 << 30).unwrap();
        wal.append(&batch(1, "a"), 1).unwrap();
        wal.append(&batch(1, "b"), 1).unwrap();
        drop(wal);
        let path = segment_path(dir.path(), 1);
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 2;
        bytes[last] ^= 0xff;
        fs::write(&path, bytes).unwrap();
        let wal = Wal::open(dir.path(), 1 << 30).unwrap();
        assert_eq!(data_of(&wal.peek(10).unwrap()), vec![batch(1, "a")]);
        assert_eq!(wal.corrupt_records(), 0);
    }

    /// Flips one byte of a segment file.
    fn flip(dir: &Path, seq: u64, offset: u64) {
        let path = segment_path(dir, seq);
        let mut bytes = fs::read(&path).unwrap();
        bytes[offset as usize] ^= 0xff;
        fs::write(&path, bytes).unwrap();
    }

    fn data_of(records: &[Record]) -> Vec<Vec<u8>> {
        records.iter().map(|r| r.data.clone()).collect()
    }

    #[test]
    fn damage_inside_an_older_segment_is_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        // 64 KB segments: the ~9 KB batches fill several.
        let mut wal = Wal::open(dir.path(), 256 << 10).unwrap();
        let batches: Vec<Vec<u8>> = (0..12).map(|i| batch(1000, &format!("r{i:02}"))).collect();
        for b in &batches {
            assert_eq!(wal.append(b, 1000).unwrap(), Dropped::default());
        }
        assert!(wal.segments.len() >= 2, "{} segments", wal.segments.len());
        assert!(wal.segments[0].records.len() >= 3);
        let seq = wal.segments[0].seq;
        let damaged = wal.segments[0].records[1];
        drop(wal);
        flip(dir.path(), seq, damaged.start + HEADER as u64 + 100);
        let mut wal = Wal::open(dir.path(), 256 << 10).unwrap();
        assert_eq!(wal.corrupt_records(), 1);
        let mut expected = batches.clone();
        expected.remove(1);
        assert_eq!(data_of(&wal.peek(100).unwrap()), expected);
        assert_eq!(wal.pending_series(), 11 * 1000);
        // Delivering everything deletes the damaged segment too.
        loop {
            let records = wal.peek(3).unwrap();
            let Some(last) = records.last() else { break };
            wal.ack(last).unwrap();
        }
        assert_eq!(wal.pending_series(), 0);
        assert!(!segment_path(dir.path(), seq).exists());
    }

    #[test]
    fn damage_inside_the_last_segment_before_valid_records_is_skipped() {
        // A flipped length, then a flipped payload byte.
        for (case, into) in [0, HEADER as u64 + 2].into_iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let mut wal = Wal::open(dir.path(), 1 << 30).unwrap();
            for tag in ["a", "b", "c"] {
                wal.append(&batch(1, tag), 1).unwrap();
            }
            let damaged = wal.segments[0].records[1];
            drop(wal);
            flip(dir.path(), 1, damaged.start + into);
            let mut wal = Wal::open(dir.path(), 1 << 30).unwrap();
            assert_eq!(wal.corrupt_records(), 1, "case {case}");
            let expected = vec![batch(1, "a"), batch(1, "c")];
            assert_eq!(data_of(&wal.peek(10).unwrap()), expected, "case {case}");
            assert_eq!(wal.pending_series(), 2, "case {case}");
            // The damaged bytes stay; appending goes after them.
            wal.append(&batch(1, "d"), 1).unwrap();
            let records = wal.peek(10).unwrap();
            assert_eq!(records.len(), 3, "case {case}");
            assert_eq!(records[2].data, batch(1, "d"), "case {case}");
        }
    }

    #[test]
    fn acks_past_a_skipped_region_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path(), 1 << 30).unwrap();
        for tag in ["a", "b", "c", "d"] {
            wal.append(&batch(2, tag), 2).unwrap();
        }
        let damaged = wal.segments[0].records[1];
        drop(wal);
        flip(dir.path(), 1, damaged.start + HEADER as u64 + 3);
        let mut wal = Wal::open(dir.path(), 1 << 30).unwrap();
        let records = wal.peek(10).unwrap();
        let expected = vec![batch(2, "a"), batch(2, "c"), batch(2, "d")];
        assert_eq!(data_of(&records), expected);
        // Acknowledged before the damage: the records after it are all left.
        wal.ack(&records[0]).unwrap();
        drop(wal);
        let mut wal = Wal::open(dir.path(), 1 << 30).unwrap();
        assert_eq!(wal.corrupt_records(), 1);
        let records = wal.peek(10).unwrap();
        assert_eq!(data_of(&records), vec![batch(2, "c"), batch(2, "d")]);
        assert_eq!(wal.pending_series(), 4);
        // Acknowledged past the damage: only the last is left, once.
        wal.ack(&records[0]).unwrap();
        drop(wal);
        let wal = Wal::open(dir.path(), 1 << 30).unwrap();
        assert_eq!(data_of(&wal.peek(10).unwrap()), vec![batch(2, "d")]);
        assert_eq!(wal.pending_series(), 2);
        assert_eq!(wal.corrupt_records(), 1);
    }

    #[test]
    fn past_the_budget_the_oldest_segments_go_and_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path(), 10 << 20).unwrap();
        // ~ 280 KB and 40 000 series each, every batch tagged with its number.
        let batches: Vec<Vec<u8>> = (0..60).map(|i| batch(40_000, &format!("b{i}-"))).collect();
        let mut dropped = 0;
        for big in &batches {
            dropped += wal.append(big, 40_000).unwrap().series;
        }
        assert!(wal.disk_bytes() <= 10 << 20, "{}", wal.disk_bytes());
        assert!(dropped > 0);
        assert_eq!(dropped + wal.pending_series(), 60 * 40_000);
        // The oldest went, and only they: what is left is the newest batches, in order.
        drop(wal);
        let wal = Wal::open(dir.path(), 10 << 20).unwrap();
        assert_eq!(dropped + wal.pending_series(), 60 * 40_000);
        let kept = wal.peek(60).unwrap();
        let first = 60 - kept.len();
        assert_eq!(dropped, first as u64 * 40_000, "whole batches dropped");
        let kept: Vec<&[u8]> = kept.iter().map(|r| r.data.as_slice()).collect();
        let newest: Vec<&[u8]> = batches[first..].iter().map(Vec::as_slice).collect();
        assert_eq!(kept, newest);
    }

    #[test]
    fn reading_crosses_segments_and_acks_delete_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path(), 1 << 30).unwrap();
        let big = batch(200_000, "y"); // > 1 MB
        for _ in 0..6 {
            wal.append(&big, 200_000).unwrap();
        }
        let segments = fs::read_dir(dir.path()).unwrap().count();
        assert!(segments >= 2, "{segments} files");
        loop {
            let records = wal.peek(2).unwrap();
            let Some(last) = records.last() else { break };
            wal.ack(last).unwrap();
        }
        assert_eq!(wal.pending_series(), 0);
        let wal_files = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "wal")
            })
            .count();
        assert_eq!(wal_files, 1);
    }
}
