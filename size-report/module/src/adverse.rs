//! Worst cases for a binned allocator (issue 12) and memory patterns that
//! strand free memory (issue 14). Each verifies its blocks like the churn
//! workloads (every byte with `full`, the first byte without), makes the
//! same allocator calls in both modes, and frees everything before it
//! returns, so that it can run again in the same instance.
//!
//! Block tables are `Vec`s with their final capacity: one allocation and one
//! free each, the same for every allocator.

use crate::workloads::{aligned, fill, holds, layout, release, Block, Rng, E_CONTENT};
use std::alloc::{alloc, realloc};

/// The alignment of every block here: a word, as for most Rust values.
const WORD: usize = 4;

/// A fresh block of `size` bytes aligned to `align`, filled with `tag`.
fn block(size: usize, align: usize, tag: u8, full: bool) -> Result<Block, i32> {
    let l = layout(size, align)?;
    // SAFETY: `size` is non-zero (every caller passes at least 1).
    let p = unsafe { alloc(l) };
    aligned(p, align)?;
    // SAFETY: a fresh block of `size` bytes.
    unsafe { fill(p, size, tag, full) };
    Ok(Block { ptr: p, size, align, tag })
}

/// Resizes `b` to `new_size` by `realloc`, keeping its tag: the bytes kept
/// are checked, the new ones filled.
fn regrow(b: &mut Block, new_size: usize, full: bool) -> Result<(), i32> {
    // SAFETY: `b` is live with this layout; `new_size` is non-zero and fits.
    let p = unsafe { realloc(b.ptr, layout(b.size, b.align)?, new_size) };
    aligned(p, b.align)?;
    let keep = b.size.min(new_size);
    // SAFETY: `p` holds `new_size >= keep` bytes, the first `keep` copied.
    if !unsafe { holds(p, b.size, keep, b.tag, full) } {
        return Err(E_CONTENT);
    }
    if full && new_size > keep {
        // SAFETY: `p` holds `new_size` bytes.
        unsafe { fill(p.add(keep), new_size - keep, b.tag, true) };
    }
    b.ptr = p;
    b.size = new_size;
    Ok(())
}

fn release_all(full: bool, blocks: &mut [Block]) -> Result<(), i32> {
    blocks.iter_mut().try_for_each(|b| release(full, b))
}

/// The bin walk: `n` free chunks of `hole` bytes kept apart by live 16 B
/// blocks, then `n` requests of `request` bytes (slightly more: no hole
/// fits them), all kept live; then everything is freed.
pub fn walk(seed: u32, n: usize, full: bool, hole: usize, request: usize) -> Result<(), i32> {
    let mut rng = Rng::new(seed);
    let mut holes = Vec::with_capacity(n);
    let mut fences = Vec::with_capacity(n);
    let mut asks = Vec::with_capacity(n);
    for _ in 0..n {
        holes.push(block(hole, WORD, rng.tag(), full)?);
        fences.push(block(16, WORD, rng.tag(), full)?);
    }
    release_all(full, &mut holes)?;
    for _ in 0..n {
        asks.push(block(request, WORD, rng.tag(), full)?);
    }
    release_all(full, &mut asks)?;
    release_all(full, &mut fences)
}

/// Narrow-band churn: `live` blocks of `lo..=hi` bytes, then `n` times one
/// picked at random is freed and replaced by a new one; then all are freed.
pub fn band(seed: u32, n: usize, full: bool, live: usize, lo: usize, hi: usize) -> Result<(), i32> {
    let mut rng = Rng::new(seed);
    let mut table = Vec::with_capacity(live);
    for _ in 0..live {
        table.push(block(rng.range(lo, hi), WORD, rng.tag(), full)?);
    }
    for _ in 0..n {
        let i = rng.below(live as u32) as usize;
        release(full, &mut table[i])?;
        table[i] = block(rng.range(lo, hi), WORD, rng.tag(), full)?;
    }
    release_all(full, &mut table)
}

/// Small buffers grown in turn: `buffers` byte buffers of `step` bytes,
/// then `n` rounds in which each grows by `step` bytes through `realloc`;
/// then all are freed.
pub fn steps(seed: u32, n: usize, full: bool, buffers: usize, step: usize) -> Result<(), i32> {
    let mut rng = Rng::new(seed);
    let mut table = Vec::with_capacity(buffers);
    for _ in 0..buffers {
        table.push(block(step, 1, rng.tag(), full)?);
    }
    for _ in 0..n {
        for b in table.iter_mut() {
            regrow(b, b.size + step, full)?;
        }
    }
    release_all(full, &mut table)
}

/// Two byte buffers grown in turn by `step` bytes through `realloc`, `n`
/// times each; then both are freed.
pub fn pair(seed: u32, n: usize, full: bool, step: usize) -> Result<(), i32> {
    let mut rng = Rng::new(seed);
    let mut two = [block(step, 1, rng.tag(), full)?, block(step, 1, rng.tag(), full)?];
    for _ in 0..n {
        for b in two.iter_mut() {
            regrow(b, b.size + step, full)?;
        }
    }
    release_all(full, &mut two)
}

/// A growing block with small blocks pinned between its steps (issue 14):
/// `n` times, allocate a block `step` bytes larger than the current one,
/// free the current one, then allocate a `pin`-byte block that stays live;
/// then everything is freed.
pub fn pinned(seed: u32, n: usize, full: bool, step: usize, pin: usize) -> Result<(), i32> {
    let mut rng = Rng::new(seed);
    let mut pins = Vec::with_capacity(n);
    let mut cur = block(step, WORD, rng.tag(), full)?;
    for _ in 0..n {
        let next = block(cur.size + step, WORD, rng.tag(), full)?;
        release(full, &mut cur)?;
        cur = next;
        pins.push(block(pin, WORD, rng.tag(), full)?);
    }
    release(full, &mut cur)?;
    release_all(full, &mut pins)
}

/// A temporary buffer with a small long-lived block allocated while it is
/// live (issue 14): `n` times, allocate a buffer of `lo..=hi` bytes, then a
/// `small`-byte block that stays live, then free the buffer; then the small
/// blocks are freed.
pub fn temp(
    seed: u32,
    n: usize,
    full: bool,
    lo: usize,
    hi: usize,
    small: usize,
) -> Result<(), i32> {
    let mut rng = Rng::new(seed);
    let mut kept = Vec::with_capacity(n);
    for _ in 0..n {
        let mut buf = block(rng.range(lo, hi), 8, rng.tag(), full)?;
        kept.push(block(small, WORD, rng.tag(), full)?);
        release(full, &mut buf)?;
    }
    release_all(full, &mut kept)
}
