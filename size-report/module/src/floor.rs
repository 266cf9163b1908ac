//! The bench's floor (`alloc-bump`): not an allocator anyone would ship, but
//! about the least work that serves the workloads correctly, so that its
//! time is the harness's own cost and an allocator's time over it is the
//! allocator's.
//!
//! A bump pointer over pages from `memory.grow`, with power-of-two classes
//! reused LIFO: a block's capacity is the request's size (at least its
//! alignment and 8 bytes) rounded up to a power of two, and every block is
//! aligned to its capacity. A freed block that ends at the bump pointer
//! lowers it; any other goes on its class's list for the next request of
//! that class. Nothing splits, nothing merges, no header is written, and
//! the hot paths are `#[inline(always)]` in both profiles. `realloc` stays
//! in place within a class; otherwise it takes a block of the new class
//! from its list, else grows or shrinks in place the block that ends at
//! the bump pointer, else bumps a new block, and copies.
//!
//! `alloc_zeroed` clears only what was handed out before: memory at or
//! above the highest the bump pointer has been is as `memory.grow` gave it,
//! zero (the floor of the zeroed workloads is no `memset` at all on fresh
//! memory).
//!
//! Measured alternatives (EXPERIMENTS.md): a plain bump allocator touches
//! fresh memory on every request, and exact size classes spread blocks over
//! tens of MiB; both were slower than real allocators, which a floor must
//! not be. Growing in place before reusing a listed block made the vec
//! workload's pushes slower than copying did.

#[cfg(target_arch = "wasm32")]
use core::arch::wasm32::memory_grow;
// Natively (the instruction counts of `size-report/icount`, which includes
// this file), the including crate's emulation of `memory.grow`.
#[cfg(not(target_arch = "wasm32"))]
use super::memory_grow;
use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::ptr;

const PAGE: usize = 64 * 1024;
/// Grow at least this much at a time (1 MiB): growth is not what is timed.
const MIN_GROW: usize = 16 * PAGE;
/// Classes 8 B (2^3) ..= 2 GiB (2^31), in a table of 32 (indexed modulo
/// 32: no bounds check).
const CLASSES: usize = 32;

struct State {
    top: usize,
    end: usize,
    /// The highest `top` has been: no block ever reached above it, so the
    /// memory from here to `end` is still zero.
    high: usize,
    /// The head of each class's free list (0: empty); a free block's first
    /// word links the next.
    free: [usize; CLASSES],
}

pub struct Floor(UnsafeCell<State>);

// SAFETY: wasm32 without the `atomics` feature has one thread, and no method
// calls another while it holds the state.
unsafe impl Sync for Floor {}

impl Floor {
    pub const fn new() -> Floor {
        Floor(UnsafeCell::new(State { top: 0, end: 0, high: 0, free: [0; CLASSES] }))
    }
}

/// (class, capacity) of a request (capacity: a power of two, at least 8,
/// the size and the alignment). Layouts cap sizes below 2 GiB.
#[inline(always)]
fn class(size: usize, align: usize) -> (usize, usize) {
    let need = size.max(align).max(8);
    let log = usize::BITS - (need - 1).leading_zeros();
    (log as usize - 3, 1 << log)
}

impl State {
    /// Makes room for `need` bytes above `self.top`; false when memory
    /// cannot grow.
    fn grow(&mut self, need: usize) -> bool {
        let pages = need.max(MIN_GROW).div_ceil(PAGE);
        let prev = memory_grow(0, pages);
        if prev == usize::MAX {
            return false;
        }
        let base = prev * PAGE;
        if base != self.end {
            // The first growth (or someone else grew memory in between).
            self.top = base;
        }
        self.end = base.saturating_add(pages * PAGE);
        true
    }

    /// A new block of `cap` bytes aligned to `cap`.
    fn bump(&mut self, cap: usize) -> *mut u8 {
        loop {
            let start = (self.top + (cap - 1)) & !(cap - 1);
            if let Some(top) = start.checked_add(cap).filter(|&t| t <= self.end) {
                self.top = top;
                self.high = self.high.max(top);
                return start as *mut u8;
            }
            // After a successful growth the block fits: at most two passes.
            if !self.grow(2 * cap) {
                return ptr::null_mut();
            }
        }
    }

    /// The head of class `c`'s list, unlinked, or null.
    #[inline(always)]
    fn pop(&mut self, c: usize) -> *mut u8 {
        let p = self.free[c % CLASSES] as *mut u8;
        if !p.is_null() {
            // SAFETY: a free block links the next in its first word.
            self.free[c % CLASSES] = unsafe { *(p as *const usize) };
        }
        p
    }

    #[inline(always)]
    fn alloc(&mut self, layout: Layout) -> *mut u8 {
        let (c, cap) = class(layout.size(), layout.align());
        let p = self.pop(c);
        if p.is_null() {
            self.bump(cap)
        } else {
            p
        }
    }

    /// As `alloc`, the block zeroed: a listed block all of it, a bumped one
    /// only below `high` as it was (above it nothing was ever written).
    fn alloc_zeroed(&mut self, layout: Layout) -> *mut u8 {
        let (c, cap) = class(layout.size(), layout.align());
        let mut p = self.pop(c);
        let mut dirty = layout.size();
        if p.is_null() {
            let high = self.high;
            p = self.bump(cap);
            // (A growth that was not contiguous leaves the block above
            // `high`: all of it fresh.)
            dirty = high.saturating_sub(p as usize).min(dirty);
        }
        if !p.is_null() {
            // SAFETY: the block holds `layout.size() >= dirty` bytes.
            unsafe { ptr::write_bytes(p, 0, dirty) };
        }
        p
    }

    #[inline(always)]
    fn dealloc(&mut self, p: *mut u8, layout: Layout) {
        let (c, cap) = class(layout.size(), layout.align());
        if p as usize + cap == self.top {
            self.top = p as usize;
            return;
        }
        // SAFETY: the block is ours, at least 8 bytes and 8-aligned.
        unsafe { *(p as *mut usize) = self.free[c % CLASSES] };
        self.free[c % CLASSES] = p as usize;
    }

    #[inline(always)]
    fn realloc(&mut self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (old_c, old_cap) = class(layout.size(), layout.align());
        let (new_c, new_cap) = class(new_size, layout.align());
        if new_c == old_c {
            return p;
        }
        let start = p as usize;
        let mut q = self.pop(new_c);
        // The block at the top, aligned to `new_cap` too, resizes in place.
        if q.is_null() && start + old_cap == self.top && start & (new_cap - 1) == 0 {
            let new_top = start + new_cap;
            if new_top > self.end {
                let _ = self.grow(new_top - self.end);
            }
            // (Unless growth failed, or was not contiguous and moved the
            // bump pointer.)
            if self.top == start + old_cap && new_top <= self.end {
                self.top = new_top;
                self.high = self.high.max(new_top);
                return p;
            }
        }
        if q.is_null() {
            q = self.bump(new_cap);
        }
        if !q.is_null() {
            // SAFETY: both blocks hold at least the smaller size.
            unsafe { ptr::copy_nonoverlapping(p, q, layout.size().min(new_size)) };
            self.dealloc(p, layout);
        }
        q
    }
}

// SAFETY: blocks come from fresh pages, aligned to their capacity (at least
// the request's size and alignment), and are handed out once until freed; a
// freed block is reused only for a request of the same capacity, or given
// back to the bump pointer when nothing lies above it.
unsafe impl GlobalAlloc for Floor {
    #[inline(always)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: one thread, no reentry (see `Sync`).
        unsafe { (*self.0.get()).alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        unsafe { (*self.0.get()).alloc_zeroed(layout) }
    }
    #[inline(always)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { (*self.0.get()).dealloc(ptr, layout) }
    }
    #[inline(always)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        unsafe { (*self.0.get()).realloc(ptr, layout, new_size) }
    }
}
