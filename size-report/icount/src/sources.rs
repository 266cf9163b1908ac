//! talc and dlmalloc over the emulated linear memory ([`crate::linear`]),
//! set up as their wasm builds in the bench module are: talc 5 as
//! `WasmDynamicTalc` (a `TalcSyncCell` with `WasmBinning`, growing memory
//! and extending its heap), dlmalloc with a system allocator that grows
//! memory by 64 KiB pages and never gives any back. Each binary is single
//! threaded, so neither takes a lock (as on wasm32).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::{self, NonNull};

use talc::base::binning::Binning;
use talc::base::Talc;

use crate::linear::{grow, PAGE};

/// talc's source: grows the emulated memory by the pages a request needs;
/// new pages that start where the heap ends extend it, others are claimed
/// as a heap (only the first growth here: nothing else grows this memory).
#[derive(Debug)]
pub struct TalcGrow {
    /// The end of the heap, once there is one.
    end: Option<NonNull<u8>>,
}

impl TalcGrow {
    pub const fn new() -> Self {
        TalcGrow { end: None }
    }
}

impl Default for TalcGrow {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: never allocates; changes the heap through `claim` and `extend`
// only, with memory no one else uses.
unsafe impl talc::source::Source for TalcGrow {
    fn acquire<B: Binning>(talc: &mut Talc<Self, B>, layout: Layout) -> Result<(), ()> {
        // The request, its alignment, a few words of tags and, before the
        // first heap, talc's metadata. (Should it fall short, talc calls
        // again and the next pages extend these.)
        let mut bytes = layout.size() + layout.align() + 4 * core::mem::size_of::<usize>();
        if !talc.is_metadata_established() {
            bytes += talc::min_first_heap_size::<B>();
        }
        let pages = bytes.div_ceil(PAGE);
        let base = grow(pages).ok_or(())?;
        let size = pages * PAGE;
        talc.source.end = match talc.source.end.take() {
            // SAFETY: the pages follow the heap's end and are ours alone.
            Some(end) if end.as_ptr() == base => {
                Some(unsafe { talc.extend(end, base.wrapping_add(size)) })
            }
            // SAFETY: fresh pages, ours alone.
            _ => unsafe { talc.claim(base, size) },
        };
        if talc.source.end.is_some() {
            Ok(())
        } else {
            Err(())
        }
    }
}

/// talc 5 as the bench module's `alloc-talc` sets it up, over the emulated
/// memory.
pub type TalcGlobal = talc::cell::TalcSyncCell<TalcGrow, talc::wasm::WasmBinning>;

/// The global `TalcGlobal`.
///
/// # Safety
/// The program uses it from one thread only.
pub const unsafe fn talc_global() -> TalcGlobal {
    // SAFETY: one thread, per this function's contract.
    unsafe { talc::cell::TalcSyncCell::new(talc::cell::TalcCell::new(TalcGrow::new())) }
}

/// dlmalloc's system allocator over the emulated memory, as its wasm one:
/// whole 64 KiB pages, zeroed, never released or remapped. (The wasm one
/// also hands over the module's initial free memory first; there is none
/// here.)
pub struct DlSystem;

// SAFETY: hands out fresh pages nobody else uses, zero as promised, and
// takes nothing back.
unsafe impl dlmalloc::Allocator for DlSystem {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let pages = size.div_ceil(PAGE);
        match grow(pages) {
            Some(base) => (base, pages * PAGE, 0),
            None => (ptr::null_mut(), 0, 0),
        }
    }
    fn remap(&self, _ptr: *mut u8, _old: usize, _new: usize, _can_move: bool) -> *mut u8 {
        ptr::null_mut()
    }
    fn free_part(&self, _ptr: *mut u8, _old: usize, _new: usize) -> bool {
        false
    }
    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }
    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }
    fn allocates_zeros(&self) -> bool {
        true
    }
    fn page_size(&self) -> usize {
        PAGE
    }
}

/// dlmalloc as a global allocator with no lock (as `GlobalDlmalloc` is on
/// wasm32, whose lock does nothing).
pub struct DlGlobal(UnsafeCell<dlmalloc::Dlmalloc<DlSystem>>);

// SAFETY: `new`'s contract: one thread.
unsafe impl Sync for DlGlobal {}

impl DlGlobal {
    /// # Safety
    /// The program uses it from one thread only.
    pub const unsafe fn new() -> Self {
        DlGlobal(UnsafeCell::new(dlmalloc::Dlmalloc::new_with_allocator(DlSystem)))
    }
}

// SAFETY: forwards to dlmalloc, one call at a time (one thread).
unsafe impl GlobalAlloc for DlGlobal {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: exclusive (one thread, no reentry); forwarded.
        unsafe { (*self.0.get()).malloc(layout.size(), layout.align()) }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        unsafe { (*self.0.get()).calloc(layout.size(), layout.align()) }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { (*self.0.get()).free(ptr, layout.size(), layout.align()) }
    }
    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        unsafe { (*self.0.get()).realloc(ptr, layout.size(), layout.align(), new_size) }
    }
}
