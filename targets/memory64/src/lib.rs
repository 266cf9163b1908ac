//! `wasm64-unknown-unknown` (memory64): a `no_std` module whose global
//! allocator is `talcum::TalckWasm`, so `WasmMemory` grows memory with
//! memory64's `memory.grow` (64-bit page counts and addresses). Built with
//! nightly `-Z build-std=core,alloc`, linked with a maximum memory of
//! [`MAX_MEMORY`]; `tests.js` runs its exports in Node and in headless
//! Chromium.
//!
//! Each test returns 0 when it passed, or another number when it failed,
//! with three numbers about the failure at [`failure`].
#![no_std]
#![feature(simd_wasm64)]

extern crate alloc;

use alloc::alloc::{alloc, alloc_zeroed, dealloc, realloc, Layout};
use alloc::vec::Vec;
use core::arch::wasm64::{memory_size, unreachable};

#[global_allocator]
// SAFETY: the program's global allocator; the module has one thread.
static ALLOC: talcum::TalckWasm = unsafe { talcum::TalckWasm::new_global() };

/// The module's maximum memory (the linker's `--max-memory`, set by
/// `.ci/parts/targets.sh`): 6 GiB, above wasm32's 4 GiB end.
pub const MAX_MEMORY: usize = 6 << 30;

const PAGE: usize = 65536;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    unreachable()
}

/// The last failure: its code and three numbers that `tests.js` names.
static mut FAILURE: [u64; 4] = [0; 4];

/// Records a failure and returns its code. (No `core::fmt` in this module:
/// formatting would need an indirect function table, which LLVM now emits as
/// a table64 on wasm64, and Node 20's V8 rejects table64.)
fn fail(code: u32, a: usize, b: usize, c: usize) -> u32 {
    // SAFETY: one thread, and no reference to `FAILURE` outlives this write.
    unsafe { core::ptr::addr_of_mut!(FAILURE).write([code as u64, a as u64, b as u64, c as u64]) };
    code
}

/// Where the last failure's four numbers are.
#[no_mangle]
pub extern "C" fn failure() -> *const u64 {
    core::ptr::addr_of!(FAILURE).cast()
}

/// The memory's size in bytes.
#[no_mangle]
pub extern "C" fn memory_bytes() -> usize {
    memory_size(0) * PAGE
}

/// talcum's live blocks, heaps ever made, and claimed bytes.
fn counters() -> (usize, u64, usize) {
    // SAFETY: one thread, and no allocation is in progress.
    let c = unsafe { ALLOC.talc() }.get_counters();
    (c.allocation_count, c.total_heap_count, c.claimed_bytes)
}

/// The byte at offset `i` of the block with key `key`.
#[inline]
fn pattern(key: u32, i: usize) -> u8 {
    ((key ^ (i as u32) ^ ((i >> 32) as u32)).wrapping_mul(0x9E37_79B1) >> 24) as u8
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

    /// Mostly small sizes, some up to 64 KiB, a few up to 1 MiB.
    fn size(&mut self) -> usize {
        match self.below(100) {
            0..=79 => 1 + self.below(256),
            80..=97 => 1 + self.below(64 << 10),
            _ => 1 + self.below(1 << 20),
        }
    }
}

/// A live block: where, its layout, and the key of its pattern (0: zeros).
struct Block {
    ptr: *mut u8,
    layout: Layout,
    key: u32,
}

impl Block {
    /// The first `len` bytes hold the block's pattern (zeros for key 0):
    /// the offset of the first wrong byte, if any.
    fn check(&self, len: usize) -> Result<(), u32> {
        for i in 0..len {
            // SAFETY: the block is live and at least `len` bytes long.
            let b = unsafe { self.ptr.add(i).read() };
            let want = if self.key == 0 { 0 } else { pattern(self.key, i) };
            if b != want {
                return Err(fail(3, self.ptr.addr(), self.layout.size(), i));
            }
        }
        Ok(())
    }

    /// Writes the block's pattern over its whole size.
    fn write(&self) {
        for i in 0..self.layout.size() {
            // SAFETY: in bounds of a live block.
            unsafe { self.ptr.add(i).write(pattern(self.key, i)) };
        }
    }
}

/// Allocates `layout` (zeroed or not), checks its alignment and zeros, and
/// writes the pattern of `key`.
fn new_block(layout: Layout, zeroed: bool, key: u32) -> Result<Block, u32> {
    // SAFETY: the layouts used here are not zero-sized.
    let ptr = unsafe {
        if zeroed {
            alloc_zeroed(layout)
        } else {
            alloc(layout)
        }
    };
    if ptr.is_null() {
        return Err(fail(1, layout.size(), layout.align(), 0));
    }
    if ptr.addr() % layout.align() != 0 {
        return Err(fail(2, ptr.addr(), layout.align(), 0));
    }
    let mut block = Block { ptr, layout, key: 0 };
    if zeroed {
        block.check(layout.size())?;
    }
    block.key = key;
    block.write();
    Ok(block)
}

/// Checks and frees a block.
fn free_block(block: Block) -> Result<(), u32> {
    block.check(block.layout.size())?;
    // SAFETY: the block is live with this layout.
    unsafe { dealloc(block.ptr, block.layout) };
    Ok(())
}

fn code(r: Result<(), u32>) -> u32 {
    r.err().unwrap_or(0)
}

/// Random allocations, frees and reallocations (`ops` of them), with
/// alignments up to 128 and a quarter of the blocks zeroed; every block's
/// contents checked before every free and realloc, and at the end; no block
/// left live.
#[no_mangle]
pub extern "C" fn stress(ops: u32, seed: u32) -> u32 {
    code(stress_inner(ops as usize, seed))
}

fn stress_inner(ops: usize, seed: u32) -> Result<(), u32> {
    let mut rng = Rng(seed | 1);
    let live = counters().0;
    let mut slots: Vec<Option<Block>> = (0..512).map(|_| None).collect();
    let mut key = 0u32;
    for _ in 0..ops {
        let slot = rng.below(slots.len());
        match slots[slot].take() {
            None => {
                let layout = Layout::from_size_align(rng.size(), 1 << rng.below(8))
                    .unwrap_or_else(|_| unreachable());
                key = key.wrapping_add(1).max(1);
                slots[slot] = Some(new_block(layout, rng.below(4) == 0, key)?);
            }
            Some(block) if rng.below(3) == 0 => {
                block.check(block.layout.size())?;
                let new_size = rng.size();
                // SAFETY: the block is live with this layout; the new size is
                // not zero and far below `isize::MAX`.
                let ptr = unsafe { realloc(block.ptr, block.layout, new_size) };
                if ptr.is_null() {
                    return Err(fail(1, new_size, block.layout.align(), 1));
                }
                let layout = Layout::from_size_align(new_size, block.layout.align())
                    .unwrap_or_else(|_| unreachable());
                let moved = Block { ptr, layout, key: block.key };
                moved.check(block.layout.size().min(new_size))?;
                moved.write();
                slots[slot] = Some(moved);
            }
            Some(block) => free_block(block)?,
        }
    }
    for block in slots.iter_mut().filter_map(Option::take) {
        free_block(block)?;
    }
    drop(slots);
    if counters().0 != live {
        return Err(fail(4, counters().0, live, 0));
    }
    Ok(())
}

/// Growth across many pages: `count` blocks of 64 to 256 KiB (so memory grows
/// by hundreds of pages, in many steps), all checked, then freed; then one
/// block as big as all of them fits in the freed memory without growth, the
/// growth having extended one heap.
#[no_mangle]
pub extern "C" fn growth(count: u32) -> u32 {
    code(growth_inner(count as usize))
}

fn growth_inner(count: usize) -> Result<(), u32> {
    let mut rng = Rng(12345);
    let start = memory_bytes();
    let heaps = counters().1;
    let mut blocks = Vec::with_capacity(count);
    let mut total = 0;
    for key in 1..=count as u32 {
        let size = (64 << 10) + rng.below(192 << 10);
        total += size;
        blocks.push(new_block(
            Layout::from_size_align(size, 8).unwrap_or_else(|_| unreachable()),
            key % 2 == 0,
            key,
        )?);
    }
    // The blocks fit in what memory held before (at most `start` bytes) and
    // what it grew by.
    let grown = memory_bytes() - start;
    if grown + start < total {
        return Err(fail(5, grown, total, start));
    }
    for block in blocks.drain(..) {
        free_block(block)?;
    }
    let after = memory_bytes();
    let big =
        new_block(Layout::from_size_align(total, 8).unwrap_or_else(|_| unreachable()), false, 7)?;
    let (_, heaps_now, _) = counters();
    if memory_bytes() != after {
        return Err(fail(6, total, after, memory_bytes()));
    }
    if heaps_now > heaps.max(1) {
        return Err(fail(7, heaps_now as usize, heaps as usize, 0));
    }
    free_block(big)
}

/// A request beyond the maximum memory returns null (no trap), for
/// `alloc`, `alloc_zeroed` and `realloc` (which keeps the block), and the
/// allocator works afterwards.
#[no_mangle]
pub extern "C" fn beyond_max() -> u32 {
    code(beyond_max_inner())
}

fn beyond_max_inner() -> Result<(), u32> {
    let too_big =
        Layout::from_size_align(MAX_MEMORY + (1 << 30), 8).unwrap_or_else(|_| unreachable());
    // SAFETY: not zero-sized.
    let p = unsafe { alloc(too_big) };
    if !p.is_null() {
        return Err(fail(8, 1, p.addr(), too_big.size()));
    }
    // SAFETY: not zero-sized.
    let p = unsafe { alloc_zeroed(too_big) };
    if !p.is_null() {
        return Err(fail(8, 2, p.addr(), too_big.size()));
    }
    let block =
        new_block(Layout::from_size_align(1000, 8).unwrap_or_else(|_| unreachable()), false, 9)?;
    // SAFETY: live block with this layout; the size is below `isize::MAX`.
    let p = unsafe { realloc(block.ptr, block.layout, too_big.size()) };
    if !p.is_null() {
        return Err(fail(8, 3, p.addr(), too_big.size()));
    }
    let huge =
        Layout::from_size_align(isize::MAX as usize - 64, 8).unwrap_or_else(|_| unreachable());
    // SAFETY: not zero-sized.
    let p = unsafe { alloc(huge) };
    if !p.is_null() {
        return Err(fail(8, 4, p.addr(), huge.size()));
    }
    free_block(block)?;
    let small =
        new_block(Layout::from_size_align(4096, 64).unwrap_or_else(|_| unreachable()), true, 10)?;
    free_block(small)
}

/// Above 4 GiB: one block of `mib` MiB (more than 4 GiB) and small blocks
/// after it, at addresses past 2^32. Only its first and last pages and the
/// small blocks are written, so the machine commits little memory. Returns
/// 0 when it passed, 100 when the engine refused to grow memory so far (its
/// own limit, below the module's maximum: the driver decides), else a
/// failure.
#[no_mangle]
pub extern "C" fn above_4gib(mib: u32) -> u32 {
    code(above_4gib_inner(mib as usize))
}

fn above_4gib_inner(mib: usize) -> Result<(), u32> {
    let layout = Layout::from_size_align(mib << 20, 8).unwrap_or_else(|_| unreachable());
    // SAFETY: not zero-sized.
    let p = unsafe { alloc(layout) };
    if p.is_null() {
        return Err(fail(100, mib, memory_bytes(), 0));
    }
    let end = p.addr() + layout.size();
    if end <= 1 << 32 || memory_bytes() < end {
        return Err(fail(11, p.addr(), end, memory_bytes()));
    }
    for i in (0..PAGE).chain(layout.size() - PAGE..layout.size()) {
        // SAFETY: in bounds of the block.
        unsafe { p.add(i).write(pattern(11, i)) };
    }
    let mut small = Vec::new();
    for key in 0..64 {
        small.push(new_block(
            Layout::from_size_align(1 + key as usize * 97, 16).unwrap_or_else(|_| unreachable()),
            key % 3 == 0,
            100 + key,
        )?);
    }
    for i in (0..PAGE).chain(layout.size() - PAGE..layout.size()) {
        // SAFETY: in bounds of the block.
        let b = unsafe { p.add(i).read() };
        if b != pattern(11, i) {
            return Err(fail(12, p.addr(), i, b as usize));
        }
    }
    for block in small {
        free_block(block)?;
    }
    // SAFETY: the block is live with this layout.
    unsafe { dealloc(p, layout) };
    Ok(())
}
