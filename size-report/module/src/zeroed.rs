//! Zeroed allocation (issue 12): blocks from `alloc_zeroed`, as
//! `vec![0u8; n]` asks for them.
//!
//! WebAssembly pages arrive zeroed from `memory.grow`, so an allocator that
//! knows which memory it never handed out can skip clearing it; memory used
//! before must still be cleared. `bench.mjs` times this workload on a
//! brand-new instance per call (first touch) and verifies it, as
//! `zeroed-reuse`, on an instance whose memory a run with another seed used
//! and freed before.
//!
//! Each block is checked to read zero as it comes (every byte with `full`,
//! else the first), then filled with a non-zero tag like any other block
//! (every byte with `full`, else the first), so that memory this workload
//! frees is dirty for whatever allocates it next; the tags are checked when
//! the blocks are freed. Both modes make the same allocator calls.

use crate::workloads::{aligned, fill, holds, layout, release, Block, Rng, E_LAYOUT, E_ZERO};
use std::alloc::alloc_zeroed;

/// The alignment of every block: eight bytes, as for a `Vec<u64>`.
const ALIGN: usize = 8;

/// Allocates zeroed blocks of `lo..=hi` bytes until at least `total` bytes
/// are live (the last block may pass it), checking and tagging each, then
/// frees them all.
pub fn zeroed(seed: u32, full: bool, total: usize, lo: usize, hi: usize) -> Result<(), i32> {
    if lo > hi {
        return Err(E_LAYOUT);
    }
    let mut rng = Rng::new(seed);
    // Every block holds at least `lo` bytes: the table never grows.
    let mut blocks: Vec<Block> = Vec::with_capacity(total.div_ceil(lo));
    let mut live = 0;
    let mut result = Ok(());
    while live < total {
        let size = rng.range(lo, hi);
        let tag = rng.tag();
        // SAFETY: `size >= lo >= 1`.
        let p = unsafe { alloc_zeroed(layout(size, ALIGN)?) };
        if let Err(e) = aligned(p, ALIGN) {
            result = Err(e);
            break;
        }
        // SAFETY: a fresh block of `size` bytes.
        let zero = unsafe { holds(p, size, size, 0, full) };
        // SAFETY: as above.
        unsafe { fill(p, size, tag, full) };
        blocks.push(Block { ptr: p, size, align: ALIGN, tag });
        live += size;
        if !zero {
            result = Err(E_ZERO);
            break;
        }
    }
    for b in &mut blocks {
        let step = release(full, b);
        if result.is_ok() {
            result = step;
        }
    }
    result
}
