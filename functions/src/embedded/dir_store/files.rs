//! The file operations the directory store is made of: reading a name, writing contents, linking
//! names to them, and what a conditional write compares. None of them flushes: durability is the
//! journal's (see `journal.rs`).

use std::collections::HashMap;
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

/// A temporary name in `dir`: this process's random tag and a counter (one random draw per
/// process instead of one system call per temporary file).
fn tmp_in(dir: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{TMP_PREFIX}{}-{n}", process_tag()))
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

/// Write `bytes` to a file with no name (`O_TMPFILE`) in the directory `dir`, to be linked where
/// it belongs: a reader never finds it partly written, and no temporary name is added and
/// removed (docs/performance.md, profile 10).
fn write_unnamed(dir: BorrowedFd<'_>, bytes: &[u8]) -> std::io::Result<fs::File> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::openat(
        dir,
        ".",
        OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::from_bits_truncate(0o666),
    )?;
    let mut file = fs::File::from(fd);
    file.write_all(bytes)?;
    Ok(file)
}

/// Put the content `bytes` at `objects/{sha}` whatever is there (a file a crash left torn):
/// written to a temporary name and renamed over it. Used only by the replay.
pub fn replace_content(objects: &Path, sha: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let content = objects.join(sha);
    write_atomically(&content, bytes)?;
    Ok(content)
}

/// Where a name's content comes from when it is stored.
#[derive(Clone, Copy)]
pub enum Content<'a> {
    /// `objects/{sha256}`: where the replay puts contents (and where the writer put every
    /// content before profile 15 of docs/performance.md).
    Object(&'a str),
    /// Another name that holds it.
    Name(&'a Path),
    /// Nowhere yet: written now, unnamed, in the name's own directory, and linked as the name.
    New,
}

/// Put `path` in place as a hard link to `content` (`bytes` when it is new): atomically for
/// readers, or with `if_absent` only if no name is there (`Ok(false)` if one is).
fn link(
    dirs: &mut Dirs,
    content: Content<'_>,
    path: &Path,
    bytes: &[u8],
    if_absent: bool,
) -> std::io::Result<bool> {
    use rustix::fs::{CWD, linkat, unlinkat};
    let at = dirs.at(path)?;
    let proc_path;
    let _unnamed; // open until it is linked
    let (from_dir, from, flags) = match content {
        Content::Object(sha) => (at.objects, Path::new(sha), AtFlags::empty()),
        Content::Name(other) if other.parent() == path.parent() => {
            let name = other.file_name().expect("object paths have a name");
            (at.dir, Path::new(name), AtFlags::empty())
        }
        Content::Name(other) => (CWD, other, AtFlags::empty()),
        Content::New => {
            let file = write_unnamed(at.dir, bytes)?;
            // An unnamed file is linked through its descriptor's entry in /proc (linking the
            // descriptor itself needs a capability the server should not hold).
            proc_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file));
            _unnamed = file;
            (CWD, Path::new(&proc_path), AtFlags::SYMLINK_FOLLOW)
        }
    };
    let link_as = |name: &OsStr| linkat(from_dir, from, at.dir, name, flags);
    if if_absent {
        return match link_as(at.name) {
            Ok(()) => Ok(true),
            Err(Errno::EXIST) => Ok(false),
            Err(e) => Err(e.into()),
        };
    }
    let swap_tmp = swap_name();
    let swap = OsStr::new(swap_tmp);
    match link_as(swap) {
        // Left by a swap whose removal failed: only this process uses the name.
        Err(Errno::EXIST) => {
            unlinkat(at.dir, swap, AtFlags::empty())?;
            link_as(swap)?;
        }
        linked => linked?,
    }
    let result = replace(at.dir, swap_tmp, at.name);
    if result.is_err() {
        let _ = unlinkat(at.dir, swap, AtFlags::empty());
    }
    result.map(|()| true)
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

/// Store `bytes` under `path`: a link to `content`, or its own copy where links fail (another
/// filesystem, too many links, no unnamed files). With `if_absent`, an existing name is left
/// alone (`Ok(false)`).
pub fn store(
    dirs: &mut Dirs,
    content: Content<'_>,
    path: &Path,
    bytes: &[u8],
    if_absent: bool,
) -> std::io::Result<bool> {
    match link(dirs, content, path, bytes, if_absent) {
        Ok(written) => Ok(written),
        Err(_) => {
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

    /// A temporary data directory with an empty `objects/`, and handles on it.
    fn fixture() -> (tempfile::TempDir, PathBuf, Dirs) {
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        fs::create_dir(&objects).unwrap();
        let dirs = Dirs::new(&objects).unwrap();
        (dir, objects, dirs)
    }

    /// The names in `dir`, sorted.
    fn entries(dir: &Path) -> Vec<OsString> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    }

    /// A new content is written unnamed in its name's directory and linked as the name: if
    /// absent, an existing name keeps what it holds; otherwise it is replaced whole. No other
    /// entry is left, anywhere.
    #[test]
    fn a_new_content_is_linked_as_its_name_and_leaves_no_other_entry() {
        let (dir, objects, mut dirs) = fixture();
        let name = dir.path().join("gun").join("targets.json");
        assert!(link(&mut dirs, Content::New, &name, b"first", true).unwrap());
        assert!(!link(&mut dirs, Content::New, &name, b"other", true).unwrap());
        assert_eq!(fs::read(&name).unwrap(), b"first");
        assert!(link(&mut dirs, Content::New, &name, b"second", false).unwrap());
        assert_eq!(fs::read(&name).unwrap(), b"second");
        assert_eq!(entries(&dir.path().join("gun")), ["targets.json"]);
        assert_eq!(fs::read_dir(&objects).unwrap().count(), 0);
    }

    /// A name links another name's content, in its own directory or another one.
    #[test]
    fn a_name_links_the_content_of_another_name() {
        use std::os::unix::fs::MetadataExt as _;
        let (dir, _, mut dirs) = fixture();
        let first = dir.path().join("gun").join("targets.abc.json");
        assert!(link(&mut dirs, Content::New, &first, b"t", true).unwrap());
        let ino = |p: &Path| fs::metadata(p).unwrap().ino();
        for other in [
            dir.path().join("gun").join("1.targets.json"),
            dir.path().join("other").join("targets.json"),
        ] {
            assert!(link(&mut dirs, Content::Name(&first), &other, b"", false).unwrap());
            assert_eq!(ino(&other), ino(&first), "{}", other.display());
        }
        assert_eq!(fs::metadata(&first).unwrap().nlink(), 3);
    }

    fn replace_with(dirs: &mut Dirs, sha: &str, name: &Path) -> std::io::Result<bool> {
        link(dirs, Content::Object(sha), name, b"", false)
    }

    /// A replaced name holds the new content whole (a rename where nothing was there, a swap
    /// over an existing name), the old content keeps its other links, and no temporary entry is
    /// left: the swap's old link, moved to the temporary name, is removed.
    #[test]
    fn a_name_is_replaced_whole_and_leaves_no_temporary_entry() {
        use std::os::unix::fs::MetadataExt as _;
        let (dir, objects, mut dirs) = fixture();
        let (old, new) = (objects.join("old"), objects.join("new"));
        fs::write(&old, b"old").unwrap();
        fs::write(&new, b"new").unwrap();
        let name = dir.path().join("gun").join("targets.json");
        replace_with(&mut dirs, "old", &name).unwrap();
        assert_eq!(fs::read(&name).unwrap(), b"old");
        replace_with(&mut dirs, "new", &name).unwrap();
        assert_eq!(fs::read(&name).unwrap(), b"new");
        let ino = |p: &Path| fs::metadata(p).unwrap().ino();
        assert_eq!(ino(&name), ino(&new));
        assert_eq!(
            fs::metadata(&old).unwrap().nlink(),
            1,
            "the old link is gone"
        );
        assert_eq!(entries(&dir.path().join("gun")), ["targets.json"]);

        // A swap link left behind (its removal failed) is removed by the next swap there.
        fs::hard_link(&old, dir.path().join("gun").join(swap_name())).unwrap();
        replace_with(&mut dirs, "old", &name).unwrap();
        assert_eq!(fs::read(&name).unwrap(), b"old");
        assert_eq!(entries(&dir.path().join("gun")), ["targets.json"]);

        // A directory where the name goes is refused, as a rename refuses it, and stays.
        let taken = dir.path().join("gun").join("snapshot.json");
        fs::create_dir(&taken).unwrap();
        assert!(replace_with(&mut dirs, "new", &taken).is_err());
        assert!(taken.is_dir());
        assert_eq!(
            entries(&dir.path().join("gun")),
            ["snapshot.json", "targets.json"]
        );
    }

    /// More directories than are kept open: each name is still a link to its content, and no
    /// more than the limit are open at once.
    #[test]
    fn directories_beyond_the_limit_are_closed_and_opened_again() {
        use std::os::unix::fs::MetadataExt as _;
        let (dir, objects, mut dirs) = fixture();
        fs::write(objects.join("c"), b"content").unwrap();
        let content = fs::metadata(objects.join("c")).unwrap().ino();
        for round in 0..2 {
            for i in 0..OPEN_DIRS_LIMIT + 3 {
                let name = dir
                    .path()
                    .join(format!("gun{i}"))
                    .join(format!("{round}.json"));
                assert!(link(&mut dirs, Content::Object("c"), &name, b"", true).unwrap());
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

    /// A name goes in a directory made for it if missing, and a name whose content cannot be
    /// linked gets its own copy.
    #[test]
    fn a_name_gets_its_directory_made_and_a_copy_where_no_link_can_be_made() {
        let (dir, _, mut dirs) = fixture();
        let name = dir.path().join("new").join("gun").join("root.json");
        assert!(store(&mut dirs, Content::New, &name, b"bytes", false).unwrap());
        assert_eq!(fs::read(&name).unwrap(), b"bytes");
        // A content that is not in objects/ cannot be linked: a copy.
        let other = dir.path().join("other").join("root.json");
        assert!(store(&mut dirs, Content::Object("missing"), &other, b"more", true).unwrap());
        assert_eq!(fs::read(&other).unwrap(), b"more");
    }
}
