//! The probe modules of `cargo size-report`.
//!
//! One crate, built once per (allocator, module kind) pair, each time with
//! exactly one `alloc-*` feature and one `mod-*` feature:
//!
//! * `mod-minimal` exports `alloc`, `dealloc` and `realloc` and nothing else:
//!   its size over the `alloc-none` build is the allocator's own cost.
//! * `mod-app` exports `app`, a small program using `Vec`, `String`,
//!   `BTreeMap` and `format!`: the allocator's cost in a realistic module.
//! * `mod-bench` exports the benchmark workloads that `bench.mjs` times in
//!   Node; its allocator is wrapped in a counter (`counting.rs`).
//! * `mod-programs` exports real programs built on well-known crates
//!   (`programs.rs`), whose memory `bench.mjs` measures; counted like
//!   `mod-bench`.
//!
//! `alloc-bump` is not a competitor but the bench's floor: a bump allocator
//! whose time is the harness's own cost (see `floor.rs`).
//!
//! The crate only means something on `wasm32-unknown-unknown`; on other
//! targets it compiles to nothing.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code, unused_imports))]

#[cfg(target_arch = "wasm32")]
mod choice;
#[cfg(all(target_arch = "wasm32", feature = "alloc-bump"))]
mod floor;
#[cfg(all(target_arch = "wasm32", feature = "mod-minimal"))]
mod minimal;
#[cfg(all(
    target_arch = "wasm32",
    any(feature = "mod-app", feature = "mod-bench", feature = "mod-programs")
))]
mod workloads;

#[cfg(all(target_arch = "wasm32", feature = "mod-app"))]
mod app_export {
    /// Runs the realistic workload `n` times from `seed`; returns the number
    /// of checks passed, or a negative error code (see `workloads`).
    #[export_name = "app"]
    pub extern "C" fn app(seed: u32, n: u32) -> i32 {
        match crate::workloads::app(seed, n, false) {
            Ok(checks) => checks.min(i32::MAX as u32) as i32,
            Err(code) => code,
        }
    }
}

#[cfg(all(target_arch = "wasm32", any(feature = "mod-bench", feature = "mod-programs")))]
mod counting;
#[cfg(all(target_arch = "wasm32", feature = "mod-programs"))]
mod programs;

#[cfg(all(target_arch = "wasm32", feature = "mod-bench"))]
mod adverse;
#[cfg(all(target_arch = "wasm32", feature = "mod-bench"))]
mod bench;
#[cfg(all(target_arch = "wasm32", feature = "mod-bench"))]
mod zeroed;
