//! The heads whose served names this process finished writing, so that the next publish of the
//! same collection need not read its `timestamp.json` back.
//!
//! Every publish (and refresh) checks that the served names have caught up with the ledger's
//! head before it builds on it (I3: a publish interrupted after its ledger commit is finished by
//! whoever comes next). The check reads the served `timestamp.json`: a file read per publish on
//! the embedded store, a GET on S3. When this process itself moved the served names to a head
//! and the ledger's head is still that one (the same timestamp, by sha256), nothing can have
//! moved them back: served names only move forward, and a delete removes the head too. So the
//! check is answered from memory. Any other head (committed by another process, or by a publish
//! here that failed before its names were all written) is checked as before.
//!
//! Per process, like the cache of contents, and bounded: when full it starts over, which costs
//! only reads.

use std::collections::HashMap;
use std::sync::Mutex;

/// Most collections remembered before starting over.
const LIMIT: usize = 64 * 1024;

/// By collection, the sha256 of the timestamp whose head this process finished serving.
#[derive(Default)]
pub struct ServedHeads {
    by_gun: Mutex<HashMap<String, String>>,
}

impl ServedHeads {
    /// This process has written every served name of the head whose timestamp is `timestamp`.
    pub fn record(&self, gun: &str, timestamp: &str) {
        let mut m = self.by_gun.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= LIMIT && !m.contains_key(gun) {
            m.clear();
        }
        m.insert(gun.to_owned(), timestamp.to_owned());
    }

    /// Whether the head whose timestamp is `timestamp` is known to be served in full.
    pub fn holds(&self, gun: &str, timestamp: &str) -> bool {
        let m = self.by_gun.lock().unwrap_or_else(|e| e.into_inner());
        m.get(gun).is_some_and(|t| t == timestamp)
    }

    /// The collection's names are going away.
    pub fn forget(&self, gun: &str) {
        let mut m = self.by_gun.lock().unwrap_or_else(|e| e.into_inner());
        m.remove(gun);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_recorded_timestamp_of_a_collection_is_held() {
        let s = ServedHeads::default();
        assert!(!s.holds("g", "t1"));
        s.record("g", "t1");
        assert!(s.holds("g", "t1"));
        assert!(!s.holds("g", "t2"), "another head of the same collection");
        assert!(!s.holds("h", "t1"), "another collection");
        s.record("g", "t2");
        assert!(!s.holds("g", "t1"));
        s.forget("g");
        assert!(!s.holds("g", "t2"));
    }
}
