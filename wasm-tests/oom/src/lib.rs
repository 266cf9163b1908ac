//! Out-of-memory tests for `talcum::TalckWasm`; see `tests/oom.rs`.
//! `build.rs` links the test binaries with `--max-memory` set to [`MAX_MEMORY`].
#![no_std]

/// The wasm memory cap of the test binaries, in bytes (must match build.rs).
pub const MAX_MEMORY: usize = 64 * 1024 * 1024;
