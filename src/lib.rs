//! # talcum
//!
//! A small, fast memory allocator for WebAssembly and `no_std`: a binned
//! boundary-tag allocator.
//!
//! ```ignore
//! // On wasm32:
//! #[global_allocator]
//! static ALLOC: talcum::TalckWasm = unsafe { talcum::TalckWasm::new_global() };
//! ```
//!
//! ## How it works
//!
//! Memory comes as heaps. Each heap is cut into chunks that tile it exactly;
//! a chunk is free or allocated.
//!
//! ```text
//!            header: size|flags            next prev          footer
//!            v                             v    v              v
//!  heap: ... [hdr| payload ......... ] [hdr| next | prev | ... | size] [hdr| payload ] ... [0]
//!            `---- allocated chunk ---' `--------- free chunk --------' `- allocated -'  sentinel
//! ```
//!
//! * Every chunk starts with a **header** word: its size (a multiple of two
//!   words, the *grain*) and two flags, "free" and "the chunk below me is
//!   free". Chunks start one word past a grain boundary, so every payload is
//!   aligned to two words (8 bytes on wasm32) with no padding. An
//!   allocated chunk spends that one word.
//! * A **free chunk** holds two list links after its header, and its size
//!   again in its last word (the *footer*), so the chunk above can find its
//!   start.
//! * Looking **up** from a chunk reads the next chunk's header; looking
//!   **down** needs the header's flag, then the footer just below. So
//!   `free` merges with both neighbours in constant time, and no two free
//!   chunks ever touch. A heap ends with a *sentinel*, a header of size 0.
//! * Free chunks sit in 63 **bins** by size (exact up to seven grains, then
//!   four per power of two), whose heads live in the `Talc` itself; a `u64`
//!   bitmap of non-empty bins finds the next bin that fits with one
//!   `trailing_zeros`. A 64th bin keeps the free top of the last heap, the
//!   part that growth extends, for when nothing else fits: small blocks
//!   fill the holes below it first.
//! * A request looks at the first two chunks of its own bin (a bin's sizes
//!   differ by up to a quarter, so they may be too small), then takes the
//!   first chunk of a higher bin, where every chunk fits, or the free top,
//!   or asks for memory. So the time per request is bounded in every phase,
//!   also while memory grows, and memory never grows while a free chunk
//!   *surely* fits (one in a higher bin, the free top, or one in the last
//!   size bin, which has no upper bound and is looked at whole); a fitting
//!   chunk behind two too-small ones in its own bin is not looked for.
//!
//! Each module documents its part: [`Span`]; `chunk` (the chunk layout and
//! the list links); `bins`; `talc` (the core); `oom` (handlers); `talck`
//! (the global wrappers); `memory` (the linear memory, below the
//! allocators); `wasm` (the core's handler over it); `global` (which
//! allocator `TalckWasm` names); [`tiny`].
//!
//! ## Features
//! * `counters`: `Talc::get_counters` (allocation, heap and fragmentation counts).
//! * `stats`: a fixed-layout block of heap figures for JavaScript
//!   (`Talc::get_stats`, `export_stats!`), and a bounded heap walk
//!   (`Talc::walk`); implies `counters`.
//! * `checks`: verify every invariant after every operation (slow; tests).
//! * `allocator-api2`: `allocator_api2::alloc::Allocator` for [`TalckRef`].
//! * `nightly`: `core::alloc::Allocator` for [`TalckRef`].

#![no_std]
#![cfg_attr(feature = "nightly", feature(allocator_api))]
// memory64: `core::arch::wasm64` (nightly, like the target itself).
#![cfg_attr(target_arch = "wasm64", feature(simd_wasm64))]
#![deny(unsafe_op_in_unsafe_fn)]
// The design's error type is `()`: every failure means "no memory".
#![allow(clippy::result_unit_err)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

mod bins;
#[cfg(feature = "checks")]
mod checks;
mod chunk;
#[cfg(feature = "counters")]
mod counters;
#[cfg(feature = "fast")]
mod front;
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
mod global;

mod memory;
mod oom;
mod span;
#[cfg(feature = "stats")]
mod stats;

mod talc;
mod talck;
pub mod tiny;
mod wasm;

#[cfg(feature = "counters")]
pub use counters::Counters;
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
pub use global::TalckWasm;
pub use memory::{LinearMemory, WasmMemory, WASM_PAGE_SIZE};
pub use oom::{ErrOnOom, InitOnOom, OomHandler};
pub use span::Span;
#[cfg(feature = "stats")]
pub use stats::{Chunk, ChunkState, Stats, STATS_VERSION, WALK_HEAPS};
pub use talc::Talc;
pub use talck::{Talck, TalckGuard, TalckRef, TalckSingleThreaded};
pub use wasm::{WasmHandler, MIN_GROW_PAGES};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
