//! Which delegated role may sign for which target path.
//!
//! * Notary: `paths` are plain string prefixes; `""` matches everything; a role without `paths`
//!   matches nothing (reference API §10.1, `delegation remove --all-paths`).
//! * TUF 1.0.x: `paths` are shell-style patterns matched segment by segment (the pattern and the
//!   path must have the same number of `/`-separated segments, and each segment matches as
//!   Python's `fnmatch.fnmatchcase`: `*`, `?`, `[seq]`, `[!seq]`, case-sensitive), exactly as
//!   python-tuf's `DelegatedRole.is_delegated_path`; `path_hash_prefixes` match hex prefixes of
//!   sha256(path); succinct hash bins (TAP 15) map a path to exactly one bin.

use sha2::{Digest, Sha256};

use crate::Dialect;
use crate::metadata::{DelegatedRole, Delegations, SuccinctRoles};

/// Whether `role` is trusted for `target` in this dialect.
pub fn role_matches(dialect: Dialect, role: &DelegatedRole, target: &str) -> bool {
    match dialect {
        Dialect::Notary => role
            .paths
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .any(|p| target.starts_with(p.as_str())),
        Dialect::Tuf => {
            if let Some(paths) = &role.paths {
                paths.iter().any(|p| glob_path_matches(p, target))
            } else if let Some(prefixes) = &role.path_hash_prefixes {
                let h = hex::encode(Sha256::digest(target.as_bytes()));
                prefixes.iter().any(|p| h.starts_with(p.as_str()))
            } else {
                false
            }
        }
    }
}

/// python-tuf's `_is_target_in_pathpattern`.
pub fn glob_path_matches(pattern: &str, target: &str) -> bool {
    let pat: Vec<&str> = pattern.split('/').collect();
    let tgt: Vec<&str> = target.split('/').collect();
    pat.len() == tgt.len() && pat.iter().zip(&tgt).all(|(p, t)| fnmatch(p, t))
}

/// Python's `fnmatch.fnmatchcase` on one segment.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher with backtracking on the last `*`.
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = match_class(&p, pi, n[ni]) {
                        if matched {
                            pi = next;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        // An unterminated `[` is a literal.
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Match `c` against the class starting at `p[start] == '['`. Returns `(matched, index after
/// the class)`, or `None` if the class is unterminated.
fn match_class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = i < p.len() && (p[i] == '!');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

/// The entry a delegator wrote for one delegated role: a listed role, or one succinct hash bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelegationEntry<'a> {
    /// A role listed in `delegations.roles`.
    Role(&'a DelegatedRole),
    /// One bin of `delegations.succinct_roles`.
    Bin(&'a SuccinctRoles),
}

impl<'a> DelegationEntry<'a> {
    /// Whether this entry (for the role `name`) covers `target`.
    pub fn allows(self, dialect: Dialect, name: &str, target: &str) -> bool {
        match self {
            DelegationEntry::Role(r) => role_matches(dialect, r, target),
            DelegationEntry::Bin(s) => s.bin_for(target) == name,
        }
    }

    /// Authorised key IDs.
    pub fn keyids(self) -> &'a [String] {
        match self {
            DelegationEntry::Role(r) => r.keyids(),
            DelegationEntry::Bin(s) => &s.keyids,
        }
    }

    /// Signatures needed.
    pub fn threshold(self) -> u64 {
        match self {
            DelegationEntry::Role(r) => r.threshold,
            DelegationEntry::Bin(s) => s.threshold,
        }
    }
}

impl Delegations {
    /// The entry for `role`, if these delegations name it (by name, or as one of the bins).
    pub fn find(&self, role: &str) -> Option<DelegationEntry<'_>> {
        if let Some(r) = self.roles().iter().find(|r| r.name == role) {
            return Some(DelegationEntry::Role(r));
        }
        let s = self.succinct_roles.as_ref()?;
        s.is_bin(role).then_some(DelegationEntry::Bin(s))
    }
}

impl SuccinctRoles {
    /// Number of bins (`2^bit_length`).
    pub fn bin_count(&self) -> u64 {
        1u64 << self.bit_length.min(32)
    }

    /// Width of the hex suffix of bin names.
    fn suffix_len(&self) -> usize {
        format!("{:x}", self.bin_count().saturating_sub(1)).len()
    }

    /// The name of bin number `bin`.
    pub fn bin_name(&self, bin: u64) -> String {
        format!(
            "{}-{:0width$x}",
            self.name_prefix,
            bin,
            width = self.suffix_len()
        )
    }

    /// The bin responsible for `target` (TAP 15: the first `bit_length` bits of sha256(path)).
    pub fn bin_for(&self, target: &str) -> String {
        let h = Sha256::digest(target.as_bytes());
        let first = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as u64;
        let bits = self.bit_length.clamp(1, 32);
        self.bin_name(first >> (32 - bits))
    }

    /// Whether `name` is one of this delegation's bins.
    pub fn is_bin(&self, name: &str) -> bool {
        let Some(suffix) = name.strip_prefix(&format!("{}-", self.name_prefix)) else {
            return false;
        };
        suffix.len() == self.suffix_len()
            && u64::from_str_radix(suffix, 16)
                .map(|b| b < self.bin_count())
                .unwrap_or(false)
            && suffix
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_like_python() {
        assert!(fnmatch("*", ""));
        assert!(fnmatch("*.txt", "a.txt"));
        assert!(!fnmatch("*.txt", "a.tx"));
        assert!(fnmatch("f?o", "foo"));
        assert!(!fnmatch("f?o", "fo"));
        assert!(fnmatch("[ab]c", "bc"));
        assert!(!fnmatch("[!ab]c", "bc"));
        assert!(fnmatch("[a-c]x", "bx"));
        assert!(fnmatch("[x", "[x"));
        assert!(!fnmatch("A*", "a"));
        assert!(fnmatch("a*b*c", "axxbyyc"));
        assert!(!fnmatch("a*b*c", "axxbyy"));
        assert!(fnmatch("[]]", "]"));
    }

    #[test]
    fn glob_is_per_segment() {
        assert!(glob_path_matches("targets/*.tgz", "targets/foo.tgz"));
        assert!(!glob_path_matches("targets/*.tgz", "targets/foo/bar.tgz"));
        assert!(!glob_path_matches("*", "a/b"));
        assert!(glob_path_matches("*/*", "a/b"));
    }

    #[test]
    fn succinct_bins() {
        let s = SuccinctRoles {
            keyids: vec![],
            threshold: 1,
            bit_length: 8,
            name_prefix: "bin".into(),
            extra: Default::default(),
        };
        assert_eq!(s.bin_name(10), "bin-0a");
        assert!(s.is_bin("bin-ff"));
        assert!(!s.is_bin("bin-100"));
        let b = s.bin_for("foo");
        // sha256("foo") starts with 0x2c.
        assert_eq!(b, "bin-2c");
    }
}
