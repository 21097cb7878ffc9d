//! Cross-crate end-to-end and interoperability tests live in `tests/`; this library is empty.
