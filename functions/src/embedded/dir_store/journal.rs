//! The directory store's write-ahead journal: what makes a batch of puts durable.
//!
//! A group of batches is appended to the journal as one record and the journal is flushed
//! (`fdatasync`) before any of their files appear; the files themselves are written without
//! flushes. Only the store's writer appends (`writer.rs`). After a crash, opening the store
//! replays the journal, so every name is again what the last durable record says. This replaced a flush of every new content and of every
//! directory a batch changed (eight per publish; profile 8 of docs/performance.md).
//!
//! The journal is a sequence of segment files, `{number}.log`. When the current segment is full,
//! the store starts a new one (with no batch between its record and its files), makes the
//! filesystem durable (`syncfs`, which covers everything the old segments describe), and only
//! then deletes the old segments. A torn record can only be the last of the last segment (a new
//! segment starts only after the old one was flushed), and it ends the replay there.
//!
//! A segment is written ahead of its records with zeros, a step at a time, so that an append
//! overwrites bytes the file already has: its flush then writes the record alone. An append that
//! grows the file makes the flush also write the file's inode and allocate its blocks, which on
//! ext4 without a journal is another synchronous write per flush (profile 12 of
//! docs/performance.md). Zeros are not a record, so replay stops there as at a torn record; a
//! finished segment is cut back to its records, so only the last one can have a zero tail.
//!
//! Record: `magic (4) | payload length (u32 LE) | crc32 of payload (u32 LE) | payload`, where the
//! payload is `count (u32 LE)` entries, each `tag (u8) | key length (u16 LE) | key` and, for a
//! put, `sha256 (32)` and, when the record brings the content, `length (u32 LE) | bytes`.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

const MAGIC: &[u8; 4] = b"NTJ1";
const HEADER: usize = 12;
const TAG_PUT_WITH_CONTENT: u8 = 1;
const TAG_PUT: u8 = 2;
const TAG_DELETE: u8 = 3;

/// How far ahead of the records a segment is zero-filled: one append in this many bytes' worth
/// changes the file's size (and flushes its inode); the others only overwrite zeros.
const ZEROED_STEP: u64 = 1 << 20;

/// One effect on the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// `key` holds the content whose hex sha256 is `sha256`; `content` when this record brings
    /// it (it was not in the store yet).
    Put {
        key: String,
        sha256: String,
        content: Option<Bytes>,
    },
    /// `key` was removed.
    Delete { key: String },
}

struct Segment {
    number: u64,
    file: Arc<File>,
    /// Bytes of records.
    len: u64,
    /// Bytes in the file: the records, then zeros.
    zeroed: u64,
}

/// What a crash left: the entries to replay, in order, and the segments they came from (to be
/// deleted once the replay is durable).
pub struct Recovered {
    pub entries: Vec<Entry>,
    pub segments: Vec<PathBuf>,
}

/// The journal of one store.
pub struct Journal {
    dir: PathBuf,
    segment_limit: u64,
    current: Mutex<Segment>,
    /// Set by a failed write or flush: the file's state is then unknown (a partial record would
    /// hide every later one from the replay, and a failed flush may have dropped pages), so no
    /// later batch may claim durability. A restart replays what did reach the disk.
    failed: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> io::Result<MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| io::Error::other("journal lock poisoned"))
}

fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:016}.log"))
}

/// Flush `dir`'s entries (a new or removed segment).
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn create_segment(dir: &Path, number: u64) -> io::Result<File> {
    // Not `append`: records are written at their offset, over the zeros ahead of them.
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(segment_path(dir, number))?;
    sync_dir(dir)?;
    Ok(file)
}

/// Write `len` zero bytes into `file` at `at`.
fn write_zeros(file: &File, mut at: u64, len: u64) -> io::Result<()> {
    static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
    let end = at + len;
    while at < end {
        let n = (end - at).min(ZEROS.len() as u64);
        file.write_all_at(&ZEROS[..n as usize], at)?;
        at += n;
    }
    Ok(())
}

impl Journal {
    /// Open the journal in `dir` (created if missing): read what is there for the caller to
    /// replay, and start a new segment after it.
    pub fn open(dir: &Path, segment_limit: u64) -> io::Result<(Journal, Recovered)> {
        fs::create_dir_all(dir)?;
        let mut numbers: Vec<u64> = fs::read_dir(dir)?
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".log")?.parse().ok()
            })
            .collect();
        numbers.sort_unstable();
        let mut entries = Vec::new();
        let mut segments = Vec::new();
        for (i, &n) in numbers.iter().enumerate() {
            let path = segment_path(dir, n);
            let data = fs::read(&path)?;
            let read = decode_all(&data, &mut entries);
            // Only the last segment can end in a torn record: an older one was flushed whole
            // before the next began.
            if read < data.len() && i + 1 < numbers.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "journal segment {} is damaged at byte {read} of {}",
                        path.display(),
                        data.len()
                    ),
                ));
            }
            // The last segment's zero tail, or a torn record, is cut off: the segment after it
            // starts now, so it must be exactly its records, like every finished segment.
            if read < data.len() {
                let file = OpenOptions::new().write(true).open(&path)?;
                file.set_len(read as u64)?;
                file.sync_all()?;
            }
            segments.push(path);
        }
        let number = numbers.last().map_or(0, |n| n + 1);
        let file = create_segment(dir, number)?;
        let journal = Journal {
            dir: dir.to_owned(),
            segment_limit,
            current: Mutex::new(Segment {
                number,
                file: Arc::new(file),
                len: 0,
                zeroed: 0,
            }),
            failed: AtomicBool::new(false),
        };
        Ok((journal, Recovered { entries, segments }))
    }

    fn check(&self) -> io::Result<()> {
        if self.failed.load(Ordering::Acquire) {
            return Err(io::Error::other(
                "the store's journal failed a write or flush earlier; restart to recover",
            ));
        }
        Ok(())
    }

    fn failing<T>(&self, r: io::Result<T>) -> io::Result<T> {
        if r.is_err() {
            self.failed.store(true, Ordering::Release);
        }
        r
    }

    /// Append one record; it is durable once [`Journal::sync`] returns.
    pub fn append(&self, entries: &[Entry]) -> io::Result<()> {
        self.check()?;
        let record = encode(entries)?;
        let mut cur = lock(&self.current)?;
        let end = cur.len + record.len() as u64;
        self.failing(cur.file.write_all_at(&record, cur.len))?;
        if end > cur.zeroed {
            let zeroed = (end / ZEROED_STEP + 1) * ZEROED_STEP;
            self.failing(write_zeros(&cur.file, end, zeroed - end))?;
            cur.zeroed = zeroed;
        }
        cur.len = end;
        Ok(())
    }

    /// Return once every record appended so far is durable.
    pub fn sync(&self) -> io::Result<()> {
        self.check()?;
        let file = lock(&self.current)?.file.clone();
        self.failing(file.sync_data())
    }

    /// Whether the current segment has reached its limit.
    pub fn is_full(&self) -> bool {
        lock(&self.current).is_ok_and(|c| c.len >= self.segment_limit)
    }

    /// Flush the current segment and start the next; returns the finished segment, to be deleted
    /// (with [`Journal::retire`]) once the files its records describe are durable. The caller
    /// (the writer, between groups) has written the files of every record appended.
    pub fn rotate(&self) -> io::Result<PathBuf> {
        self.check()?;
        let mut cur = lock(&self.current)?;
        // A finished segment is exactly its records (no zero tail), so a reopening can tell a
        // damaged one from a whole one.
        self.failing(cur.file.set_len(cur.len))?;
        self.failing(cur.file.sync_all())?;
        let next = cur.number + 1;
        let file = self.failing(create_segment(&self.dir, next))?;
        let finished = segment_path(&self.dir, cur.number);
        *cur = Segment {
            number: next,
            file: Arc::new(file),
            len: 0,
            zeroed: 0,
        };
        Ok(finished)
    }

    /// Delete segments whose effects are durable.
    pub fn retire(&self, segments: &[PathBuf]) -> io::Result<()> {
        for s in segments {
            match fs::remove_file(s) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        if segments.is_empty() {
            return Ok(());
        }
        sync_dir(&self.dir)
    }
}

/// Make everything written to the filesystem that holds `dir` durable: one flush for all of a
/// segment's files and directories, instead of one per file.
pub fn sync_filesystem(dir: &Path) -> io::Result<()> {
    let d = File::open(dir)?;
    #[cfg(target_os = "linux")]
    {
        rustix::fs::syncfs(&d).map_err(io::Error::from)
    }
    #[cfg(not(target_os = "linux"))]
    {
        // No syncfs: flush the whole system, then the directory itself.
        rustix::fs::sync();
        d.sync_all()
    }
}

fn encode(entries: &[Entry]) -> io::Result<Vec<u8>> {
    let too_large = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} too large for a journal record"),
        )
    };
    let size: usize = entries
        .iter()
        .map(|e| match e {
            Entry::Put { key, content, .. } => {
                3 + key.len() + 32 + content.as_ref().map_or(0, |c| 4 + c.len())
            }
            Entry::Delete { key } => 3 + key.len(),
        })
        .sum();
    let mut out = Vec::with_capacity(HEADER + 4 + size);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[0; 8]); // length and checksum, filled in below
    let count = u32::try_from(entries.len()).map_err(|_| too_large("batch"))?;
    out.extend_from_slice(&count.to_le_bytes());
    for e in entries {
        let (tag, key) = match e {
            Entry::Put { key, content, .. } if content.is_some() => (TAG_PUT_WITH_CONTENT, key),
            Entry::Put { key, .. } => (TAG_PUT, key),
            Entry::Delete { key } => (TAG_DELETE, key),
        };
        out.push(tag);
        let key_len = u16::try_from(key.len()).map_err(|_| too_large("key"))?;
        out.extend_from_slice(&key_len.to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        if let Entry::Put {
            sha256, content, ..
        } = e
        {
            let mut raw = [0u8; 32];
            hex::decode_to_slice(sha256, &mut raw).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a content address is a hex sha256",
                )
            })?;
            out.extend_from_slice(&raw);
            if let Some(c) = content {
                let len = u32::try_from(c.len()).map_err(|_| too_large("content"))?;
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(c);
            }
        }
    }
    let len = u32::try_from(out.len() - HEADER).map_err(|_| too_large("batch"))?;
    let crc = crc32fast::hash(&out[HEADER..]);
    out[4..8].copy_from_slice(&len.to_le_bytes());
    out[8..12].copy_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Decode every whole, intact record at the start of `data` into `out`; returns how many bytes
/// they took (less than `data.len()` when a torn or damaged record follows).
fn decode_all(data: &[u8], out: &mut Vec<Entry>) -> usize {
    let mut at = 0;
    while let Some((entries, used)) = decode_record(&data[at..]) {
        out.extend(entries);
        at += used;
    }
    at
}

fn decode_record(data: &[u8]) -> Option<(Vec<Entry>, usize)> {
    let header = data.get(..HEADER)?;
    if &header[..4] != MAGIC {
        return None;
    }
    let len = u32::from_le_bytes(header[4..8].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[8..12].try_into().ok()?);
    let payload = data.get(HEADER..HEADER.checked_add(len)?)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    let mut r = Reader(payload);
    let count = u32::from_le_bytes(r.take(4)?.try_into().ok()?);
    let mut entries = Vec::with_capacity(count.min(1024) as usize);
    for _ in 0..count {
        let tag = r.take(1)?[0];
        let key_len = u16::from_le_bytes(r.take(2)?.try_into().ok()?) as usize;
        let key = String::from_utf8(r.take(key_len)?.to_vec()).ok()?;
        entries.push(match tag {
            TAG_DELETE => Entry::Delete { key },
            TAG_PUT | TAG_PUT_WITH_CONTENT => {
                let sha256 = hex::encode(r.take(32)?);
                let content = if tag == TAG_PUT_WITH_CONTENT {
                    let n = u32::from_le_bytes(r.take(4)?.try_into().ok()?) as usize;
                    Some(Bytes::copy_from_slice(r.take(n)?))
                } else {
                    None
                };
                Entry::Put {
                    key,
                    sha256,
                    content,
                }
            }
            _ => return None,
        });
    }
    r.0.is_empty().then_some((entries, HEADER + len))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Entry> {
        vec![
            Entry::Put {
                key: "v2/g/_trust/tuf/1.root.json".into(),
                sha256: "ab".repeat(32),
                content: Some(Bytes::from_static(b"{\"signed\":{}}")),
            },
            Entry::Put {
                key: "v2/g/_trust/tuf/root.json".into(),
                sha256: "ab".repeat(32),
                content: None,
            },
            Entry::Delete {
                key: "v2/h/_trust/tuf/root.json".into(),
            },
        ]
    }

    #[test]
    fn records_round_trip() {
        let mut data = encode(&sample()).unwrap();
        data.extend(encode(&sample()[1..]).unwrap());
        let mut out = Vec::new();
        assert_eq!(decode_all(&data, &mut out), data.len());
        let mut want = sample();
        want.extend(sample().into_iter().skip(1));
        assert_eq!(out, want);
    }

    /// A record cut anywhere (a crash during its write) or with any byte changed is not
    /// replayed, and neither is anything after it; the records before it are.
    #[test]
    fn a_torn_or_damaged_record_ends_the_replay() {
        let first = encode(&sample()[..1]).unwrap();
        let second = encode(&sample()).unwrap();
        let whole = [first.clone(), second.clone()].concat();
        for cut in first.len()..whole.len() {
            let mut out = Vec::new();
            assert_eq!(
                decode_all(&whole[..cut], &mut out),
                first.len(),
                "cut at {cut}"
            );
            assert_eq!(out, sample()[..1]);
        }
        for flip in first.len()..whole.len() {
            let mut damaged = whole.clone();
            damaged[flip] ^= 0x40;
            let mut out = Vec::new();
            assert_eq!(decode_all(&damaged, &mut out), first.len(), "byte {flip}");
        }
        // Zeros (a preallocated or never-written tail) are not a record.
        let mut out = Vec::new();
        assert_eq!(decode_all(&[0; 64], &mut out), 0);
    }

    /// Reopening yields what was appended, in order, across segments; a torn tail of the last
    /// segment is dropped (and cut off), a damaged older segment is an error, and retired
    /// segments are gone.
    #[test]
    fn reopening_returns_the_records_and_rotation_retires_segments() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let (j, rec) = Journal::open(&path, 1 << 20).unwrap();
        assert!(rec.entries.is_empty());
        j.append(&sample()[..1]).unwrap();
        j.sync().unwrap();
        let old = j.rotate().unwrap();
        j.append(&sample()[1..]).unwrap();
        j.sync().unwrap();
        drop(j);
        // A torn record right after the last segment's records (number 1), over its zeros.
        let last = segment_path(&path, 1);
        let records = encode(&sample()[1..]).unwrap().len() as u64;
        let f = OpenOptions::new().write(true).open(&last).unwrap();
        f.write_all_at(&encode(&sample()).unwrap()[..20], records)
            .unwrap();
        drop(f);
        let (j, rec) = Journal::open(&path, 1 << 20).unwrap();
        assert_eq!(rec.entries, sample());
        assert_eq!(rec.segments, [old.clone(), last.clone()]);
        assert_eq!(
            fs::metadata(&last).unwrap().len(),
            records,
            "cut to its records"
        );
        j.retire(&rec.segments).unwrap();
        assert!(!old.exists() && !last.exists());
        drop(j);
        let (_j, rec) = Journal::open(&path, 1 << 20).unwrap();
        assert!(rec.entries.is_empty());

        // The same tear in a segment that is not the last is damage, not a crash.
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(dir.path(), 1 << 20).unwrap();
        j.rotate().unwrap();
        let mut f = OpenOptions::new()
            .append(true)
            .open(segment_path(dir.path(), 0))
            .unwrap();
        f.write_all(&encode(&sample()).unwrap()[..20]).unwrap();
        drop((f, j));
        let err = Journal::open(dir.path(), 1 << 20).err().unwrap();
        assert!(err.to_string().contains("damaged"), "{err}");
    }

    /// Appends land in zeros written ahead of them: the file grows a whole step at a time, not
    /// with every record, and a finished segment is cut back to its records.
    #[test]
    fn appends_overwrite_zeros_written_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(dir.path(), 1 << 30).unwrap();
        let size = || fs::metadata(segment_path(dir.path(), 0)).unwrap().len();
        let record = encode(&sample()).unwrap().len() as u64;
        j.append(&sample()).unwrap();
        assert_eq!(size(), ZEROED_STEP);
        j.append(&sample()).unwrap();
        j.sync().unwrap();
        assert_eq!(size(), ZEROED_STEP, "the second record overwrote zeros");
        // A step's worth of records grows the file by one more step.
        let more = ZEROED_STEP / record;
        for _ in 0..more {
            j.append(&sample()).unwrap();
        }
        assert_eq!(size(), 2 * ZEROED_STEP);
        j.rotate().unwrap();
        assert_eq!(size(), (more + 2) * record);
        drop(j);
        let (_j, rec) = Journal::open(dir.path(), 1 << 30).unwrap();
        assert_eq!(rec.entries.len(), (more as usize + 2) * sample().len());
    }
}
