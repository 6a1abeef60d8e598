//! A sink's disk buffer: a write-ahead log of batches in numbered segment files under the
//! agent's data folder. Every batch is appended before it is sent and acknowledged after, so
//! what was accepted survives `kill -9`. Records carry their length and a CRC32; a torn or
//! corrupt tail (the last write of a killed agent) is cut off on recovery. Past the disk budget
//! the oldest segments are deleted and their series counted as dropped.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Largest segment; smaller budgets get segments of a quarter of the budget, so dropping the
/// oldest segment frees a quarter at most.
const MAX_SEGMENT_BYTES: u64 = 4 << 20;
const HEADER: usize = 8;
/// A record longer than this is corruption, not data.
const MAX_RECORD: u32 = 64 << 20;

/// One segment: its number, size on disk, and where each record ends with its series count.
#[derive(Debug)]
struct Segment {
    seq: u64,
    bytes: u64,
    /// `(end offset, series)` of each record, in order.
    records: Vec<(u64, u32)>,
}

impl Segment {
    /// Series in the records that end after `offset`.
    fn series_after(&self, offset: u64) -> u64 {
        self.records
            .iter()
            .filter(|(end, _)| *end > offset)
            .map(|(_, n)| u64::from(*n))
            .sum()
    }
}

/// Where reading resumes: segment number and byte offset.
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
    /// Opens (or creates) the log in `dir`, cutting off a torn tail.
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
        let mut segments = VecDeque::new();
        for seq in seqs {
            let path = segment_path(dir, seq);
            if seq < acked.seq {
                fs::remove_file(&path)?;
                continue;
            }
            let (records, valid) = scan(&path)?;
            let file = OpenOptions::new().write(true).open(&path)?;
            file.set_len(valid)?;
            segments.push_back(Segment {
                seq,
                bytes: valid,
                records,
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
        })
    }

    /// Appends a batch of `series` series; past the budget, the oldest segments go.
    pub fn append(&mut self, data: &[u8], series: u32) -> io::Result<Dropped> {
        let last = self.segments.back().map_or(0, |s| s.bytes);
        if last >= self.segment_bytes {
            self.rotate()?;
        }
        let mut record = Vec::with_capacity(HEADER + data.len());
        record.extend_from_slice(&(data.len() as u32).to_le_bytes());
        record.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
        record.extend_from_slice(data);
        self.writer.write_all(&record)?;
        if let Some(segment) = self.segments.back_mut() {
            segment.bytes += record.len() as u64;
            segment.records.push((segment.bytes, series));
        }
        self.enforce_budget()
    }

    /// Bytes on disk not yet acknowledged (roughly: whole segments count).
    pub fn disk_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum::<u64>() - self.acked.offset
    }

    /// Series appended and not yet acknowledged.
    pub fn pending_series(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| {
                s.series_after(if s.seq == self.acked.seq {
                    self.acked.offset
                } else {
                    0
                })
            })
            .sum()
    }

    /// Reads the records after the acknowledged position that together hold at most
    /// `max_series` series (at least one record), without acknowledging them.
    pub fn peek_series(&self, max_series: u64) -> io::Result<Vec<Record>> {
        let mut records = 0;
        let mut series = 0u64;
        'count: for segment in &self.segments {
            let from = if segment.seq == self.acked.seq {
                self.acked.offset
            } else {
                0
            };
            for (end, n) in &segment.records {
                if *end <= from {
                    continue;
                }
                if records > 0 && series + u64::from(*n) > max_series {
                    break 'count;
                }
                records += 1;
                series += u64::from(*n);
            }
        }
        self.peek(records)
    }

    /// Reads up to `max` records after the acknowledged position, without acknowledging them.
    pub fn peek(&self, max: usize) -> io::Result<Vec<Record>> {
        let mut out = Vec::new();
        let mut pos = self.acked;
        for segment in &self.segments {
            if segment.seq < pos.seq {
                continue;
            }
            if segment.seq > pos.seq {
                pos = Position {
                    seq: segment.seq,
                    offset: 0,
                };
            }
            if pos.offset >= segment.bytes {
                continue;
            }
            let mut file = BufReader::new(File::open(segment_path(&self.dir, segment.seq))?);
            file.seek(SeekFrom::Start(pos.offset))?;
            while pos.offset < segment.bytes && out.len() < max {
                let Some(data) = read_record(&mut file)? else {
                    break;
                };
                pos.offset += (HEADER + data.len()) as u64;
                out.push(Record { data, next: pos });
            }
            if out.len() >= max {
                break;
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
        if self.segments.len() > 1 && self.acked.offset >= self.segments[0].bytes {
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

/// Reads one record; `None` at a clean end, a torn record or a bad checksum.
fn read_record(reader: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; HEADER];
    match reader.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len > MAX_RECORD {
        return Ok(None);
    }
    let mut data = vec![0u8; len as usize];
    match reader.read_exact(&mut data) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    Ok((crc32fast::hash(&data) == crc).then_some(data))
}

/// The end offsets and series counts of a segment's valid records, and the length of its
/// valid prefix.
fn scan(path: &Path) -> io::Result<(Vec<(u64, u32)>, u64)> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut records = Vec::new();
    let mut valid = 0u64;
    while let Some(data) = read_record(&mut reader)? {
        valid += (HEADER + data.len()) as u64;
        records.push((valid, series_in(&data)));
    }
    Ok((records, valid))
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
        assert_eq!(wal.peek(10).unwrap().len(), 1);
        // Appending after recovery starts at the cut, so the new record reads back too.
        wal.append(&batch(1, "new"), 1).unwrap();
        let records = wal.peek(10).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].data, batch(1, "new"));
    }

    #[test]
    fn a_corrupt_record_ends_the_segment() {
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
        assert_eq!(wal.peek(10).unwrap().len(), 1);
    }

    #[test]
    fn past_the_budget_the_oldest_segments_go_and_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path(), 10 << 20).unwrap();
        let big = batch(40_000, "x"); // ~ 280 KB, 40 000 series
        let mut dropped = 0;
        for _ in 0..60 {
            dropped += wal.append(&big, 40_000).unwrap().series;
        }
        assert!(wal.disk_bytes() <= 10 << 20, "{}", wal.disk_bytes());
        assert!(dropped > 0);
        assert_eq!(dropped + wal.pending_series(), 60 * 40_000);
        // The oldest went: the first record left is not the first appended.
        drop(wal);
        let wal = Wal::open(dir.path(), 10 << 20).unwrap();
        assert_eq!(dropped + wal.pending_series(), 60 * 40_000);
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
