//! `wasm32-wasip2`: a component whose global allocator is
//! `talcum::TalckWasm`, driven from Node by `run.mjs` through jco.
//!
//! The component model copies every string and list argument into the
//! component's memory through the component's `cabi_realloc` export, which
//! wit-bindgen makes allocate with the global allocator; results are
//! allocated here and freed by the `cabi_post_*` exports once the host has
//! lifted them. So each call of an export below is talcum traffic that the
//! host starts: `run.mjs` calls them thousands of times with varied sizes
//! and checks every result. `stress` adds random allocations, frees and
//! reallocations made in the component, each block's contents checked.

use std::alloc::{alloc, alloc_zeroed, dealloc, realloc, Layout};

wit_bindgen::generate!({ world: "target", path: "wit" });

#[global_allocator]
// SAFETY: the program's global allocator; a component has one thread.
static ALLOC: talcum::TalckWasm = unsafe { talcum::TalckWasm::new_global() };

/// The component's `cabi_realloc`, through the global allocator.
///
/// The canonical ABI allocates every string and list argument with this
/// export, and the bindings free those buffers (and the results) with the
/// global allocator. On `wasm32-wasip2` wit-bindgen leaves `cabi_realloc`
/// to wasi-libc, whose version calls libc's `malloc`/`realloc`: with any
/// global allocator other than std's default (libc's `malloc`) the first
/// argument freed by Rust is a block the global allocator never gave out.
/// This definition replaces libc's (the linker takes libc's only when no
/// object defines the symbol).
///
/// # Safety
/// Called by the component model's lowering code only: `old_ptr` is null
/// with `old_len` 0, or a block this function returned with `old_len` bytes
/// and alignment `align`, a power of two.
#[cfg(not(feature = "libc-cabi-realloc"))]
#[no_mangle]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    if new_len == 0 {
        // Nothing to allocate (the canonical ABI never shrinks to zero): a
        // dangling, aligned pointer, as Rust's empty `Vec` has.
        return core::ptr::without_provenance_mut(align);
    }
    // SAFETY: per this function's contract, `align` is a power of two, and
    // `old_ptr` is null or a live block of `old_len` bytes from here; the
    // sizes come from the host's values, which fit in the 32-bit memory.
    let ptr = unsafe {
        if old_len == 0 {
            alloc(Layout::from_size_align_unchecked(new_len, align))
        } else {
            realloc(old_ptr, Layout::from_size_align_unchecked(old_len, align), new_len)
        }
    };
    if ptr.is_null() {
        // The component cannot return an error from here: trap.
        std::process::abort();
    }
    ptr
}

struct Component;

impl Guest for Component {
    fn reverse(s: String) -> String {
        s.chars().rev().collect()
    }

    fn sum(xs: Vec<u32>) -> u64 {
        xs.iter().fold(0u64, |acc, &x| acc.wrapping_add(u64::from(x)))
    }

    fn sort(mut xs: Vec<u32>) -> Vec<u32> {
        xs.sort_unstable();
        xs
    }

    fn fill(n: u32, seed: u32) -> Vec<u8> {
        (0..n).map(|i| ((u64::from(i) * 7 + u64::from(seed)) % 251) as u8).collect()
    }

    fn join(parts: Vec<String>, sep: String) -> String {
        parts.join(&sep)
    }

    fn split(s: String, sep: String) -> Vec<String> {
        s.split(sep.as_str()).map(String::from).collect()
    }

    fn stress(ops: u32, seed: u32) -> Result<String, String> {
        stress(ops as usize, seed)
    }

    fn counters() -> Vec<u64> {
        // SAFETY: one thread, and no allocation is in progress.
        let c = *unsafe { ALLOC.talc() }.get_counters();
        vec![
            c.allocation_count as u64,
            c.total_allocation_count,
            c.allocated_bytes as u64,
            c.heap_count as u64,
            c.total_heap_count,
            c.claimed_bytes as u64,
        ]
    }
}

export!(Component);

/// talcum's live blocks and live bytes (reading them allocates nothing).
fn live() -> (usize, usize) {
    // SAFETY: one thread, and no allocation is in progress.
    let c = unsafe { ALLOC.talc() }.get_counters();
    (c.allocation_count, c.allocated_bytes)
}

/// The byte at offset `i` of the block with key `key`.
#[inline]
fn pattern(key: u32, i: usize) -> u8 {
    ((key ^ (i as u32)).wrapping_mul(0x9E37_79B1) >> 24) as u8
}

/// xorshift32.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        self.next() as usize % n
    }

    /// Mostly small sizes, some up to 64 KiB, a few up to 2 MiB.
    fn size(&mut self) -> usize {
        match self.below(100) {
            0..=79 => 1 + self.below(256),
            80..=97 => 1 + self.below(64 << 10),
            _ => 1 + self.below(2 << 20),
        }
    }
}

/// A live block: where, its layout, and the key of its pattern (0 for a
/// zeroed block not yet written).
struct Block {
    ptr: *mut u8,
    layout: Layout,
    key: u32,
}

/// The first `len` bytes of `block` hold its pattern, or zeros for key 0.
fn check(block: &Block, len: usize) -> Result<(), String> {
    // SAFETY: the block is live and at least `len` bytes long, and was
    // fully written (or zeroed) when allocated or last resized.
    let bytes = unsafe { std::slice::from_raw_parts(block.ptr, len) };
    match bytes
        .iter()
        .enumerate()
        .find(|&(i, &b)| b != if block.key == 0 { 0 } else { pattern(block.key, i) })
    {
        None => Ok(()),
        Some((i, &b)) => Err(format!(
            "block {:p} ({} B, align {}, key {}): byte {i} is {b:#x}",
            block.ptr,
            block.layout.size(),
            block.layout.align(),
            block.key
        )),
    }
}

/// Writes the block's pattern over its whole size.
fn write(block: &Block) {
    for i in 0..block.layout.size() {
        // SAFETY: in bounds of a live block.
        unsafe { block.ptr.add(i).write(pattern(block.key, i)) };
    }
}

fn stress(ops: usize, seed: u32) -> Result<String, String> {
    let mut rng = Rng(seed | 1);
    let before = live();
    let mut slots: Vec<Option<Block>> = (0..512).map(|_| None).collect();
    let mut next_key = 1u32;
    let (mut allocs, mut frees, mut reallocs, mut peak) = (0usize, 0usize, 0usize, 0usize);
    let mut live_bytes = 0usize;
    for _ in 0..ops {
        let slot = rng.below(slots.len());
        match slots[slot].take() {
            None => {
                let align = 1 << rng.below(8);
                let layout =
                    Layout::from_size_align(rng.size(), align).map_err(|e| e.to_string())?;
                let zeroed = rng.below(4) == 0;
                // SAFETY: the layout's size is not zero.
                let ptr = unsafe {
                    if zeroed {
                        alloc_zeroed(layout)
                    } else {
                        alloc(layout)
                    }
                };
                if ptr.is_null() {
                    return Err(format!("allocation of {layout:?} failed"));
                }
                if ptr.addr() % align != 0 {
                    return Err(format!("{ptr:p} is not aligned to {align}"));
                }
                let mut block = Block { ptr, layout, key: 0 };
                if zeroed {
                    check(&block, layout.size())?;
                }
                block.key = next_key;
                next_key = next_key.wrapping_add(1).max(1);
                write(&block);
                live_bytes += layout.size();
                peak = peak.max(live_bytes);
                allocs += 1;
                slots[slot] = Some(block);
            }
            Some(block) if rng.below(3) == 0 => {
                check(&block, block.layout.size())?;
                let new_size = rng.size();
                // SAFETY: the block is live with this layout; the new size is
                // not zero and, rounded to the alignment, far below isize::MAX.
                let ptr = unsafe { realloc(block.ptr, block.layout, new_size) };
                if ptr.is_null() {
                    return Err(format!("realloc to {new_size} B failed"));
                }
                let layout = Layout::from_size_align(new_size, block.layout.align())
                    .map_err(|e| e.to_string())?;
                let moved = Block { ptr, layout, key: block.key };
                check(&moved, block.layout.size().min(new_size))?;
                live_bytes = live_bytes - block.layout.size() + new_size;
                peak = peak.max(live_bytes);
                write(&moved);
                reallocs += 1;
                slots[slot] = Some(moved);
            }
            Some(block) => {
                check(&block, block.layout.size())?;
                // SAFETY: the block is live with this layout.
                unsafe { dealloc(block.ptr, block.layout) };
                live_bytes -= block.layout.size();
                frees += 1;
            }
        }
    }
    for block in slots.iter_mut().filter_map(Option::take) {
        check(&block, block.layout.size())?;
        // SAFETY: the block is live with this layout.
        unsafe { dealloc(block.ptr, block.layout) };
        frees += 1;
    }
    drop(slots);
    let after = live();
    if after != before {
        return Err(format!(
            "blocks leaked: (live blocks, live bytes) {before:?} before, {after:?} after"
        ));
    }
    Ok(format!("{allocs} allocations, {reallocs} reallocations, {frees} frees, peak {peak} B live"))
}
