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
//!            tag: acme|flags                    next prev size      size
//!            v                                  v                     v
//!  heap: ... [tag| payload ......... ] [ node | size |  ...  | size ] [tag| payload ] ... [sentinel]
//!            `---- allocated chunk ---' `----------- free chunk ------' `- allocated -'
//! ```
//!
//! * An **allocated chunk** spends one word, its *tag*: the address of the
//!   chunk's end, plus a bit saying "allocated" and a bit saying "the chunk
//!   below me is free".
//! * A **free chunk** holds a list node and its size at its base, and its
//!   size again in its last word, so the chunk above can find its start.
//! * Looking **up** from a chunk reads the next chunk's first word: a tag has
//!   the allocated bit set, a list pointer never does. Looking **down** needs
//!   the tag's flag, then the size word just below. So `free` merges with both
//!   neighbours in constant time, and no two free chunks ever touch.
//! * Free chunks sit in 63 **bins** by size (exact for small sizes, then four
//!   per power of two); a `u64` bitmap of non-empty bins finds the next bin
//!   that fits with one `trailing_zeros`. (A bit may outlive its bin's last
//!   chunk: the search clears it when it finds the bin empty, so taking a
//!   chunk out of a list needs no bin number.) A 64th bin keeps the free top
//!   of the last heap, the part that growth extends, for when nothing else
//!   fits: small blocks fill the holes below it first.
//! * A request looks at no more than eight chunks of a bin (a bin's sizes
//!   differ by up to a quarter, so its own bin may hold chunks too small)
//!   before it takes the first chunk of a higher bin, where every chunk
//!   fits, or the free top, or asks for memory. So the time per request is
//!   bounded in every phase, also while memory grows, and memory never
//!   grows while a free chunk *surely* fits (one in a higher bin, the free
//!   top, or one in the last size bin, which has no upper bound and is
//!   looked at whole); a fitting chunk behind eight too-small ones in its
//!   own bin is not looked for.
//!
//! Each module documents its part: [`Span`]; `tag` (the boundary tag);
//! `list` (the free list); `bins`; `talc` (the core); `oom` (handlers);
//! `talck` (the global wrappers); `memory` (the linear memory, below the
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
mod chunk;
#[cfg(feature = "checks")]
mod checks;
#[cfg(feature = "counters")]
mod counters;
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
