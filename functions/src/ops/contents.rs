//! Committed files kept in memory by their sha256, so that a publish does not read back (and
//! hash again) the files the publish before it just wrote.
//!
//! Every publish loads the head's files (root, targets, snapshot, timestamp) to validate the
//! upload against them. They are almost always the files the previous publish of the same
//! collection staged through this process: on the embedded store each was re-read from disk and
//! hashed for the check against the ledger (one tenth of the request threads' time at 16
//! collections, docs/performance.md, profile 13), and on S3 each is a GET.
//!
//! A content address never changes its bytes, so an entry cannot go stale: a file is cached only
//! under the sha256 of exactly its bytes (computed from them on staging, checked against the
//! ledger on reading), and a hit is what a read would have found. The cache is bounded in bytes
//! and forgets the oldest entries first; a file too large for a quarter of the budget (a
//! collection with tens of thousands of targets) is not kept, so one such file never flushes the
//! rest.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;

/// Contents by hex sha256, up to a budget in bytes.
pub struct ContentCache {
    budget: usize,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_sha256: HashMap<String, Bytes>,
    /// Insertion order, oldest first: what is forgotten first.
    order: VecDeque<String>,
    bytes: usize,
}

impl ContentCache {
    /// A cache holding up to `budget` bytes of contents (0: none).
    pub fn new(budget: usize) -> Self {
        ContentCache {
            budget,
            inner: Mutex::default(),
        }
    }

    /// The content whose hex sha256 is `sha256`, if kept.
    pub fn get(&self, sha256: &str) -> Option<Bytes> {
        let entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        entries.by_sha256.get(sha256).cloned()
    }

    /// Keep `bytes`, whose hex sha256 the caller has computed from them or checked.
    pub fn insert(&self, sha256: &str, bytes: &Bytes) {
        if bytes.len() > self.budget / 4 {
            return;
        }
        let mut entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if entries.by_sha256.contains_key(sha256) {
            return;
        }
        entries.bytes += bytes.len();
        entries.by_sha256.insert(sha256.to_owned(), bytes.clone());
        entries.order.push_back(sha256.to_owned());
        while entries.bytes > self.budget {
            let Some(oldest) = entries.order.pop_front() else {
                break;
            };
            if let Some(gone) = entries.by_sha256.remove(&oldest) {
                entries.bytes -= gone.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(n: usize, fill: u8) -> Bytes {
        Bytes::from(vec![fill; n])
    }

    /// Kept contents are found by their hash until the budget forces the oldest out; nothing
    /// larger than a quarter of the budget is kept, and an empty budget keeps nothing.
    #[test]
    fn the_oldest_contents_go_first_and_large_ones_are_not_kept() {
        let cache = ContentCache::new(100);
        cache.insert("a", &content(25, b'a'));
        cache.insert("b", &content(25, b'b'));
        cache.insert("c", &content(25, b'c'));
        cache.insert("d", &content(25, b'd'));
        assert_eq!(cache.get("a"), Some(content(25, b'a')));
        cache.insert("e", &content(25, b'e'));
        assert_eq!(cache.get("a"), None, "over budget: the oldest goes");
        for (k, fill) in [("b", b'b'), ("c", b'c'), ("d", b'd'), ("e", b'e')] {
            assert_eq!(cache.get(k), Some(content(25, fill)), "{k}");
        }
        // Inserting a kept content again changes nothing (it is not counted twice).
        cache.insert("e", &content(25, b'e'));
        assert_eq!(cache.get("b"), Some(content(25, b'b')));

        cache.insert("big", &content(26, b'x'));
        assert_eq!(
            cache.get("big"),
            None,
            "larger than a quarter of the budget"
        );
        assert_eq!(
            cache.get("b"),
            Some(content(25, b'b')),
            "and it evicted nothing"
        );

        let none = ContentCache::new(0);
        none.insert("a", &content(1, b'a'));
        assert_eq!(none.get("a"), None);
    }
}
