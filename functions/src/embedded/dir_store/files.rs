//! The file operations the directory store is made of: reading a name, writing contents, linking
//! names to them, and what a conditional write compares. None of them flushes: durability is the
//! journal's (see `journal.rs`).

use std::collections::{BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{Read as _, Write as _};
use std::os::fd::{AsFd as _, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, RenameFlags};
use rustix::io::Errno;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::ports::{Object, PortError, PortResult};

/// Prefix of temporary files (never listed, never a metadata name).
pub const TMP_PREFIX: &str = ".notus-tmp-";

pub fn etag_of(bytes: &[u8]) -> String {
    notus_tuf::metadata::sha256_hex(bytes)
}

pub fn read(path: &Path) -> PortResult<Option<Object>> {
    match read_up_to(path, u64::MAX)? {
        Read::Found(object) => Ok(Some(object)),
        Read::Missing => Ok(None),
        Read::Larger => unreachable!("no file is larger than u64::MAX bytes"),
    }
}

/// What [`read_up_to`] found.
pub enum Read {
    Found(Object),
    Missing,
    /// Larger than the limit: not read.
    Larger,
}

/// Read the object stored at `path` if it is at most `limit` bytes.
pub fn read_up_to(path: &Path, limit: u64) -> PortResult<Read> {
    // Open once and ask the open file for its size and time: no second lookup of the path.
    let opened = fs::File::open(path).and_then(|f| {
        let meta = f.metadata()?;
        if meta.is_dir() {
            // A directory where a file was asked for (e.g. `3.targets`) is simply not an object.
            return Ok(Read::Missing);
        }
        if meta.len() > limit {
            return Ok(Read::Larger);
        }
        // Exactly the size just asked for (a stored file never changes; names are replaced by
        // rename): `File::read_to_end` would ask for the size and position again.
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        f.take(meta.len()).read_to_end(&mut bytes)?;
        Ok(Read::Found(Object {
            etag: etag_of(&bytes),
            bytes: Bytes::from(bytes),
            last_modified: meta
                .modified()
                .map(DateTime::<Utc>::from)
                .unwrap_or_else(|_| Utc::now()),
        }))
    });
    match opened {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Read::Missing),
        opened => opened.map_err(|e| PortError::Other(format!("read {}: {e}", path.display()))),
    }
}

/// A temporary name: this process's random prefix and a counter (one random draw per process
/// instead of one system call per temporary file).
fn tmp_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{TMP_PREFIX}{}-{n}", process_tag())
}

/// A random tag for this process's temporary names, so that none is a name a crashed process
/// left behind.
fn process_tag() -> &'static str {
    static PROCESS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PROCESS.get_or_init(|| {
        hex::encode(rand_core::RngCore::next_u64(&mut rand_core::OsRng).to_be_bytes())
    })
}

/// The one temporary name a replaced name is linked under before the swap, the same in every
/// directory. Only the store's writer (or the replay before it) replaces names, one at a time,
/// and removes the name right after the swap, which leaves the kernel a cached "no such name"
/// for it: the next link there needs no search of the directory, where a new temporary name
/// cost every replaced name one (27 % of its link's time; docs/performance.md, profile 15).
fn swap_name() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| format!("{TMP_PREFIX}{}-swap", process_tag()))
}

/// A temporary name in `dir`.
fn tmp_in(dir: &Path) -> PathBuf {
    dir.join(tmp_name())
}

/// Most directories [`Dirs`] keeps open before it closes them all and starts over: enough for
/// the collections publishing at any one time, and few against the 1,024 descriptors a process
/// is often allowed by default, which connections need too.
const OPEN_DIRS_LIMIT: usize = 128;

/// Directories kept open, so that an operation on a file looks up its one name in its directory
/// where a path walks every component from the data directory down (3.4 % of a loaded server's
/// samples; docs/performance.md, profile 14). The store's writer keeps one for its life, and
/// closes them all on a delete, which may remove directories: an open handle to a removed
/// directory would create nothing anyone can see.
pub struct Dirs {
    objects: OwnedFd,
    objects_path: PathBuf,
    /// By the directory's path as bytes: a `Path`'s hash walks its components (profile 15).
    open: HashMap<OsString, OwnedFd>,
}

/// A file's directory, and `objects/`, as open handles, and the file's name.
struct At<'d, 'p> {
    objects: BorrowedFd<'d>,
    dir: BorrowedFd<'d>,
    name: &'p OsStr,
}

impl Dirs {
    /// Handles on the contents' directory `objects` (which must exist) and, as they are
    /// needed, on the directories of names.
    pub fn new(objects: &Path) -> std::io::Result<Self> {
        Ok(Dirs {
            objects: open_dir(objects)?,
            objects_path: objects.to_owned(),
            open: HashMap::new(),
        })
    }

    /// Close every directory (they may be removed).
    pub fn forget(&mut self) {
        self.open.clear();
    }

    /// `path`'s directory, created with its parents if missing.
    fn at<'p>(&mut self, path: &'p Path) -> std::io::Result<At<'_, 'p>> {
        Ok(self.find(path, true)?.expect("a created directory exists"))
    }

    /// `path`'s directory if it exists (created with its parents if `create`).
    fn find<'p>(&mut self, path: &'p Path, create: bool) -> std::io::Result<Option<At<'_, 'p>>> {
        let dir = path.parent().expect("object paths have a parent");
        let name = path.file_name().expect("object paths have a name");
        let dir_key = dir.as_os_str();
        if !self.open.contains_key(dir_key) {
            let fd = match open_dir(dir) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                    fs::create_dir_all(dir)?;
                    open_dir(dir)?
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                opened => opened?,
            };
            if self.open.len() >= OPEN_DIRS_LIMIT {
                self.open.clear();
            }
            self.open.insert(dir_key.to_owned(), fd);
        }
        Ok(Some(At {
            objects: self.objects.as_fd(),
            dir: self.open[dir_key].as_fd(),
            name,
        }))
    }
}

/// A handle on `dir` good for naming files in it (`O_PATH`: nothing is read through it).
fn open_dir(dir: &Path) -> std::io::Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    Ok(rustix::fs::open(dir, flags, Mode::empty())?)
}

/// Write contents missing from `objects/` (`dirs`' contents directory), by sha256: each written
/// unnamed, then linked into place (a link, not a rename: an existing content, from a
/// concurrent writer of the same bytes, is never replaced, and a reader never finds a partly
/// written one). Returns the contents that are there now; one that could not be written is
/// absent, and its names get their own copies.
pub fn write_contents<'a>(
    dirs: &Dirs,
    missing: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> BTreeSet<String> {
    let objects = &dirs.objects_path;
    let mut ready = BTreeSet::new();
    for (sha, bytes) in missing {
        let written = match write_unnamed(dirs.objects.as_fd(), sha, bytes) {
            Err(e) if unnamed_unsupported(&e) => write_named(objects, &objects.join(sha), bytes),
            written => written,
        };
        if written.is_ok() {
            ready.insert(sha.to_owned());
        }
    }
    ready
}

/// Write `bytes` to a file with no name (`O_TMPFILE`) in the directory `dir` and link it there
/// as `name`: one entry added to the directory every collection shares, where a named temporary
/// file adds one, adds the link and removes the first (docs/performance.md, profile 10).
fn write_unnamed(dir: BorrowedFd<'_>, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use rustix::fs::{CWD, Mode, OFlags};
    let fd = rustix::fs::openat(
        dir,
        ".",
        OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::from_bits_truncate(0o666),
    )?;
    let mut file = fs::File::from(fd);
    file.write_all(bytes)?;
    // An unnamed file is linked through its descriptor's entry in /proc (linking the
    // descriptor itself needs a capability the server should not hold).
    let unnamed = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file));
    match rustix::fs::linkat(CWD, unnamed.as_str(), dir, name, AtFlags::SYMLINK_FOLLOW) {
        Err(Errno::EXIST) => Ok(()),
        linked => linked.map_err(std::io::Error::from),
    }
}

/// Errors that mean this filesystem or system has no unnamed files to link (no `O_TMPFILE`, no
/// /proc): the named temporary file does the same job.
fn unnamed_unsupported(e: &std::io::Error) -> bool {
    let errno = e.raw_os_error().map(Errno::from_raw_os_error);
    matches!(
        errno,
        Some(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL | Errno::NOENT | Errno::NOSYS)
    )
}

/// The same with a named temporary file, linked into place and removed.
fn write_named(dir: &Path, content: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = tmp_in(dir);
    // A content already there (`Ok(false)`) holds the same bytes: its name is their sha256.
    let written = fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| match fs::hard_link(&tmp, content) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            linked => linked,
        });
    let _ = fs::remove_file(&tmp);
    written
}

/// Put the content `bytes` at `objects/{sha}` whatever is there (a file a crash left torn):
/// written to a temporary name and renamed over it. Used only by the replay.
pub fn replace_content(objects: &Path, sha: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let content = objects.join(sha);
    write_atomically(&content, bytes)?;
    Ok(content)
}

/// Put `path` in place as a hard link to the content `sha`, atomically for readers.
fn link_atomically(dirs: &mut Dirs, sha: &str, path: &Path) -> std::io::Result<()> {
    let at = dirs.at(path)?;
    let tmp = swap_name();
    let link = || rustix::fs::linkat(at.objects, sha, at.dir, tmp, AtFlags::empty());
    match link() {
        // Left by a swap whose removal failed: only this process uses the name.
        Err(Errno::EXIST) => {
            rustix::fs::unlinkat(at.dir, tmp, AtFlags::empty())?;
            link()?;
        }
        linked => linked?,
    }
    let result = replace(at.dir, tmp, at.name);
    if result.is_err() {
        let _ = rustix::fs::unlinkat(at.dir, tmp, AtFlags::empty());
    }
    result
}

/// Move `tmp` to `name`, both in `dir`, atomically replacing whatever `name` holds. An
/// existing name is swapped (`renameat2(RENAME_EXCHANGE)`) and its old link, now at `tmp`,
/// removed: a plain rename over an existing name makes ext4 (`auto_da_alloc`) write the new
/// file's data out at once, on the store's one writer thread, and here that data is a content
/// the journal already holds (docs/performance.md, profile 12). Where there is nothing to
/// replace, or the filesystem cannot swap, it is a plain rename.
fn replace(dir: BorrowedFd<'_>, tmp: &str, name: &OsStr) -> std::io::Result<()> {
    use rustix::fs::{renameat, renameat_with, statat, unlinkat};
    match renameat_with(dir, tmp, dir, name, RenameFlags::EXCHANGE) {
        Ok(()) => match unlinkat(dir, tmp, AtFlags::empty()) {
            // A directory stood at `name` (a rename would have refused it): swap it back.
            Err(e)
                if statat(dir, tmp, AtFlags::SYMLINK_NOFOLLOW)
                    .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory) =>
            {
                renameat_with(dir, tmp, dir, name, RenameFlags::EXCHANGE)?;
                Err(e.into())
            }
            // `name` is right; a link left behind here is only space (no key lists or serves
            // a temporary name), and the next swap in this directory removes it.
            _ => Ok(()),
        },
        Err(Errno::NOENT | Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
            Ok(renameat(dir, tmp, dir, name)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Create `path` as a hard link to the content `sha` if no object is there: `link` itself
/// refuses an existing name, so no temporary name and rename are needed. `Ok(false)` if the
/// name exists.
fn link_if_absent(dirs: &mut Dirs, sha: &str, path: &Path) -> std::io::Result<bool> {
    let at = dirs.at(path)?;
    match rustix::fs::linkat(at.objects, sha, at.dir, at.name, AtFlags::empty()) {
        Ok(()) => Ok(true),
        Err(Errno::EXIST) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Store `bytes` under `path`: a link to their content `sha` in `objects/` if there is one, or
/// its own copy where links fail (another filesystem, too many links). With `if_absent`, an
/// existing name is left alone (`Ok(false)`).
pub fn store(
    dirs: &mut Dirs,
    content: Option<&str>,
    path: &Path,
    bytes: &[u8],
    if_absent: bool,
) -> std::io::Result<bool> {
    let linked = content.map(|sha| {
        if if_absent {
            link_if_absent(dirs, sha, path)
        } else {
            link_atomically(dirs, sha, path).map(|()| true)
        }
    });
    match linked {
        Some(Ok(written)) => Ok(written),
        None | Some(Err(_)) => {
            dirs.at(path)?; // the directory, made if missing
            write_atomically(path, bytes).map(|()| true)
        }
    }
}

/// What is at `path` now, for a conditional write: absent, or whether its sha256 is `etag`.
/// A name that is a hard link to `objects/{etag}` holds exactly that content (contents never
/// change), so the common case compares two inodes instead of reading and hashing the file.
pub fn current_state(dirs: &mut Dirs, path: &Path, etag: Option<&str>) -> PortResult<Option<bool>> {
    let failed = |e: std::io::Error| PortError::Other(format!("stat {}: {e}", path.display()));
    let Some(at) = dirs.find(path, false).map_err(failed)? else {
        return Ok(None);
    };
    let st = match rustix::fs::statat(at.dir, at.name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(failed(e.into())),
    };
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        return Ok(None); // a directory is not an object
    }
    let Some(etag) = etag else {
        return Ok(Some(false));
    };
    let is_sha256 = etag.len() == 64 && etag.bytes().all(|b| b.is_ascii_hexdigit());
    if is_sha256
        && rustix::fs::statat(at.objects, etag, AtFlags::empty())
            .is_ok_and(|c| c.st_ino == st.st_ino && c.st_dev == st.st_dev)
    {
        return Ok(Some(true));
    }
    Ok(read(path)?.map(|o| o.etag == etag))
}

/// Put `bytes` at `path` (whose directory exists) whole: written to a temporary name and
/// renamed over it.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = tmp_in(path.parent().expect("object paths have a parent"));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Remove the names at `paths`, then the contents only they linked to, then the directories
/// they leave empty (up to `root`), so a deleted collection leaves no trace.
pub fn remove_names(root: &Path, objects: &Path, paths: &[PathBuf]) -> PortResult<()> {
    use std::os::unix::fs::MetadataExt as _;
    let mut contents = Vec::new();
    for p in paths {
        if let Ok(bytes) = fs::read(p) {
            contents.push(objects.join(etag_of(&bytes)));
        }
        match fs::remove_file(p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(PortError::Other(format!("delete {}: {e}", p.display())));
            }
        }
    }
    // Contents no name links to any more (only their own entry is left).
    for c in contents {
        if fs::metadata(&c).is_ok_and(|m| m.nlink() == 1) {
            let _ = fs::remove_file(&c);
        }
    }
    for p in paths {
        let mut dir = p.parent();
        while let Some(d) = dir.filter(|d| *d != root) {
            if fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
    Ok(())
}

pub fn walk(dir: &Path, root: &Path, prefix: &str, out: &mut Vec<String>) -> std::io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
            continue;
        }
        if entry.file_type()?.is_dir() {
            walk(&path, root, prefix, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            let key = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if key.starts_with(prefix) {
                out.push(key);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both ways of writing a content leave exactly the content behind (no temporary entry),
    /// and neither replaces a content that is already there.
    #[test]
    fn a_content_is_written_unnamed_or_named_and_never_replaced() {
        type Writer = fn(&Path, &Path, &[u8]) -> std::io::Result<()>;
        fn unnamed(dir: &Path, content: &Path, bytes: &[u8]) -> std::io::Result<()> {
            let dir = open_dir(dir)?;
            let name = content.file_name().unwrap().to_str().unwrap();
            write_unnamed(dir.as_fd(), name, bytes)
        }
        for (how, write) in [
            ("unnamed", unnamed as Writer),
            ("named", write_named as Writer),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let content = dir.path().join(etag_of(b"first"));
            write(dir.path(), &content, b"first").unwrap();
            write(dir.path(), &content, b"other bytes").unwrap();
            assert_eq!(fs::read(&content).unwrap(), b"first", "{how}");
            let entries: Vec<_> = fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            assert_eq!(entries, [content], "{how}");
        }
    }

    /// A replaced name holds the new content whole (a rename where nothing was there, a swap
    /// over an existing name), the old content keeps its other links, and no temporary entry is
    /// left: the swap's old link, moved to the temporary name, is removed.
    #[test]
    fn a_name_is_replaced_whole_and_leaves_no_temporary_entry() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        fs::create_dir(&objects).unwrap();
        let (old, new) = (objects.join("old"), objects.join("new"));
        fs::write(&old, b"old").unwrap();
        fs::write(&new, b"new").unwrap();
        let mut dirs = Dirs::new(&objects).unwrap();
        let name = dir.path().join("gun").join("targets.json");
        link_atomically(&mut dirs, "old", &name).unwrap();
        assert_eq!(fs::read(&name).unwrap(), b"old");
        link_atomically(&mut dirs, "new", &name).unwrap();
        assert_eq!(fs::read(&name).unwrap(), b"new");
        let ino = |p: &Path| fs::metadata(p).unwrap().ino();
        assert_eq!(ino(&name), ino(&new));
        assert_eq!(
            fs::metadata(&old).unwrap().nlink(),
            1,
            "the old link is gone"
        );
        let entries: Vec<_> = fs::read_dir(dir.path().join("gun"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, ["targets.json"]);

        // A swap link left behind (its removal failed) is removed by the next swap there.
        fs::hard_link(&old, dir.path().join("gun").join(swap_name())).unwrap();
        link_atomically(&mut dirs, "old", &name).unwrap();
        assert_eq!(fs::read(&name).unwrap(), b"old");
        let entries: Vec<_> = fs::read_dir(dir.path().join("gun"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, ["targets.json"]);

        // A directory where the name goes is refused, as a rename refuses it, and stays.
        let taken = dir.path().join("gun").join("snapshot.json");
        fs::create_dir(&taken).unwrap();
        assert!(link_atomically(&mut dirs, "new", &taken).is_err());
        assert!(taken.is_dir());
        let mut entries: Vec<_> = fs::read_dir(dir.path().join("gun"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        entries.sort();
        assert_eq!(entries, ["snapshot.json", "targets.json"]);
    }

    /// More directories than are kept open: each name is still a link to its content, and no
    /// more than the limit are open at once.
    #[test]
    fn directories_beyond_the_limit_are_closed_and_opened_again() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        fs::create_dir(&objects).unwrap();
        fs::write(objects.join("c"), b"content").unwrap();
        let mut dirs = Dirs::new(&objects).unwrap();
        let content = fs::metadata(objects.join("c")).unwrap().ino();
        for round in 0..2 {
            for i in 0..OPEN_DIRS_LIMIT + 3 {
                let name = dir
                    .path()
                    .join(format!("gun{i}"))
                    .join(format!("{round}.json"));
                assert!(link_if_absent(&mut dirs, "c", &name).unwrap());
                assert_eq!(
                    fs::metadata(&name).unwrap().ino(),
                    content,
                    "{}",
                    name.display()
                );
                assert!(dirs.open.len() <= OPEN_DIRS_LIMIT);
            }
        }
    }

    /// A name with no content to link (or whose link failed) gets its own copy, in a directory
    /// made for it if missing.
    #[test]
    fn a_name_without_a_content_is_a_copy_in_a_directory_made_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        fs::create_dir(&objects).unwrap();
        let mut dirs = Dirs::new(&objects).unwrap();
        let name = dir.path().join("new").join("gun").join("root.json");
        assert!(store(&mut dirs, None, &name, b"bytes", false).unwrap());
        assert_eq!(fs::read(&name).unwrap(), b"bytes");
        // A content that is not in objects/ cannot be linked: a copy again.
        let other = dir.path().join("other").join("root.json");
        assert!(store(&mut dirs, Some("missing"), &other, b"more", true).unwrap());
        assert_eq!(fs::read(&other).unwrap(), b"more");
    }
}
