//! Worst cases for a binned allocator (issue 12) and memory patterns that
//! strand free memory (issue 14). Each verifies its blocks like the churn
//! workloads (every byte with `full`, the first byte without), makes the
//! same allocator calls in both modes, and frees everything before it
//! returns, so that it can run again in the same instance.
//!
//! The worst cases fail on a null return, like the everyday workloads. The
//! memory patterns do not: a pattern may drive an allocator to the end of
//! the 4 GiB address space, and how often it then fails is a result. A
//! null return is counted (by [`crate::counting`]) and the pattern goes on
//! without that block: a failed step keeps the block it would have
//! replaced, a failed small block is not kept.
//!
//! Block tables are `Vec`s with their final capacity: one allocation and one
//! free each, the same for every allocator.

use crate::workloads::{
    aligned, fill, holds, layout, release, Block, Rng, EMPTY, E_CONTENT, E_LAYOUT,
};
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

/// A fresh block as [`block`], or `None` when the allocator returned null
/// (memory patterns only).
fn try_block(size: usize, align: usize, tag: u8, full: bool) -> Result<Option<Block>, i32> {
    let l = layout(size, align)?;
    // SAFETY: `size` is non-zero (every caller passes at least 1).
    let p = unsafe { alloc(l) };
    if p.is_null() {
        return Ok(None);
    }
    aligned(p, align)?;
    // SAFETY: a fresh block of `size` bytes.
    unsafe { fill(p, size, tag, full) };
    Ok(Some(Block { ptr: p, size, align, tag }))
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

/// A growing block with small blocks pinned between its steps (issue 14,
/// pattern a): `n` times, allocate a block `step` bytes larger than the
/// current one, free the current one, then allocate a `pin`-byte block that
/// stays live; then everything is freed.
pub fn pinned(seed: u32, n: usize, full: bool, step: usize, pin: usize) -> Result<(), i32> {
    replaced(seed, n, full, step, pin, |size| size + step)
}

/// A doubling buffer with small blocks pinned between its steps (issue 14,
/// pattern b): a `first`-byte block, then `n` times a block twice the
/// current one's size is allocated, the current one freed, and a `pin`-byte
/// block kept; then everything is freed.
pub fn doubling(seed: u32, n: usize, full: bool, first: usize, pin: usize) -> Result<(), i32> {
    replaced(seed, n, full, first, pin, |size| size * 2)
}

/// A block replaced `n` times by a new one of `next(size)` bytes (the old
/// one freed after the new one is allocated), a `pin`-byte block kept after
/// each step. A failed step keeps the current block and moves on to the
/// next size.
fn replaced(
    seed: u32,
    n: usize,
    full: bool,
    first: usize,
    pin: usize,
    next: impl Fn(usize) -> usize,
) -> Result<(), i32> {
    let mut rng = Rng::new(seed);
    let mut pins = Vec::with_capacity(n);
    let mut cur = try_block(first, WORD, rng.tag(), full)?;
    let mut size = first;
    for _ in 0..n {
        size = next(size);
        if let Some(fresh) = try_block(size, WORD, rng.tag(), full)? {
            if let Some(mut old) = cur.replace(fresh) {
                release(full, &mut old)?;
            }
        }
        pins.extend(try_block(pin, WORD, rng.tag(), full)?);
    }
    if let Some(mut last) = cur {
        release(full, &mut last)?;
    }
    release_all(full, &mut pins)
}

/// A buffer grown by `realloc` with small blocks kept between its steps
/// (issue 14, pattern d): a `step`-byte byte buffer grown `n` times by
/// `step` bytes, a `pin`-byte block allocated after each step and kept;
/// then everything is freed.
pub fn regrow_pinned(seed: u32, n: usize, full: bool, step: usize, pin: usize) -> Result<(), i32> {
    regrown(seed, n, full, step, pin, |size| size + step)
}

/// The same, doubling from `first` bytes: a `Vec` that grows while small
/// objects are made.
pub fn regrow_doubling(
    seed: u32,
    n: usize,
    full: bool,
    first: usize,
    pin: usize,
) -> Result<(), i32> {
    regrown(seed, n, full, first, pin, |size| size * 2)
}

/// A byte buffer of `first` bytes resized `n` times to `next(size)` by
/// `realloc`, a `pin`-byte block kept after each step. A failed `realloc`
/// keeps the buffer as it was.
fn regrown(
    seed: u32,
    n: usize,
    full: bool,
    first: usize,
    pin: usize,
    next: impl Fn(usize) -> usize,
) -> Result<(), i32> {
    let mut rng = Rng::new(seed);
    let mut pins = Vec::with_capacity(n);
    let mut buf = try_block(first, 1, rng.tag(), full)?;
    let mut size = first;
    for _ in 0..n {
        size = next(size);
        if let Some(b) = buf.as_mut() {
            let l = layout(b.size, b.align)?;
            layout(size, b.align)?;
            // SAFETY: `b` is live with this layout; `size` is non-zero and
            // makes a valid layout with its alignment (checked above).
            let p = unsafe { realloc(b.ptr, l, size) };
            if !p.is_null() {
                aligned(p, b.align)?;
                // SAFETY: `p` holds `size > b.size` bytes, the first
                // `b.size` copied.
                if !unsafe { holds(p, b.size, b.size, b.tag, full) } {
                    return Err(E_CONTENT);
                }
                if full {
                    // SAFETY: `p` holds `size` bytes.
                    unsafe { fill(p.add(b.size), size - b.size, b.tag, true) };
                }
                b.ptr = p;
                b.size = size;
            }
        } else {
            buf = try_block(size, 1, rng.tag(), full)?;
        }
        pins.extend(try_block(pin, WORD, rng.tag(), full)?);
    }
    if let Some(mut b) = buf {
        release(full, &mut b)?;
    }
    release_all(full, &mut pins)
}

/// A temporary buffer with a small long-lived block allocated while it is
/// live (issue 14, pattern c): `n` times, allocate a buffer of `lo..=hi`
/// bytes, then a `small`-byte block that stays live, then free the buffer;
/// then the small blocks are freed.
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
        let buf = try_block(rng.range(lo, hi), 8, rng.tag(), full)?;
        kept.extend(try_block(small, WORD, rng.tag(), full)?);
        if let Some(mut buf) = buf {
            release(full, &mut buf)?;
        }
    }
    release_all(full, &mut kept)
}

/// A scratch buffer whose size creeps up between uses (issue 14, pattern
/// e): `n` times, allocate a buffer of `start + i * step` bytes, touch it,
/// free it. Nothing else is live, so all the memory a use needs is the
/// buffer; an allocator that grows memory by exactly the shortfall calls
/// `memory.grow` on every use once `step` passes a page.
pub fn creep(seed: u32, n: usize, full: bool, start: usize, step: usize) -> Result<(), i32> {
    let mut rng = Rng::new(seed);
    for i in 0..n {
        if let Some(mut buf) = try_block(start + i * step, 8, rng.tag(), full)? {
            release(full, &mut buf)?;
        }
    }
    Ok(())
}

/// The most rounds of [`rebuild`], whose kept blocks are listed on the stack.
pub const REBUILD_ROUNDS: usize = 64;

/// A buffer rebuilt a little bigger each round (issue 22): `n` times (at
/// most [`REBUILD_ROUNDS`]), a byte buffer of `start + i * step` bytes is
/// allocated, filled and freed, then a `small`-byte block is allocated and
/// kept; then the small blocks are freed. The kept blocks are listed in an
/// array on the stack, not in a `Vec`: a table allocated first would be a
/// small block under the first buffer, and the pattern is the heap holding
/// nothing else.
pub fn rebuild(
    seed: u32,
    n: usize,
    full: bool,
    start: usize,
    step: usize,
    small: usize,
) -> Result<(), i32> {
    if n > REBUILD_ROUNDS {
        return Err(E_LAYOUT);
    }
    let mut rng = Rng::new(seed);
    let mut kept = [EMPTY; REBUILD_ROUNDS];
    let mut count = 0;
    for i in 0..n {
        if let Some(mut buf) = try_block(start + i * step, 1, rng.tag(), full)? {
            release(full, &mut buf)?;
        }
        if let Some(b) = try_block(small, WORD, rng.tag(), full)? {
            kept[count] = b;
            count += 1;
        }
    }
    release_all(full, &mut kept[..count])
}
