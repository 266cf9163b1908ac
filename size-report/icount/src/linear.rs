//! WebAssembly's `memory.grow`, emulated over one mapping of reserved
//! address space.
//!
//! The mapping is made at the first growth: [`RESERVED`] bytes, aligned to
//! a 64 KiB page, untouched until written (the kernel then hands zeroed
//! pages, as `memory.grow` does). Page `k` of the emulated memory is the
//! page at address `k * 64 KiB`, so [`memory_grow`] returns page numbers
//! that the floor turns into addresses the way it does on wasm32. Memory
//! starts empty (no module data, no initial heap) and grows until the
//! mapping is used up, then `memory_grow` fails (returns `usize::MAX`).
//!
//! One thread: the binaries use it from their global allocator only.
//!
//! talcum's `LinearMemory` over it is in the `icount-talcum` package
//! (`talcum/`), so that this one does not depend on talcum: a change to the
//! core then rebuilds only talcum's two binaries.

use std::cell::Cell;
use std::ptr;

/// A WebAssembly page.
pub const PAGE: usize = 1 << 16;

/// Address space reserved for the memory: 4 GiB, wasm32's whole range
/// (only the pages written are ever backed).
pub const RESERVED: usize = 1 << 32;

struct State {
    /// The mapping's first page (null before the first use).
    base: Cell<*mut u8>,
    /// Pages grown so far.
    pages: Cell<usize>,
}

// SAFETY: used from one thread only (see the module docs).
unsafe impl Sync for State {}

static STATE: State = State { base: Cell::new(ptr::null_mut()), pages: Cell::new(0) };

/// The mapping's base, made on first use.
fn base() -> *mut u8 {
    let b = STATE.base.get();
    if !b.is_null() {
        return b;
    }
    // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
    let m = unsafe {
        libc::mmap(
            ptr::null_mut(),
            RESERVED + PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if m == libc::MAP_FAILED {
        // No allocation here: we are inside the global allocator.
        let msg = b"icount: mmap of the emulated linear memory failed\n";
        // SAFETY: writes a static buffer to stderr.
        unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
        std::process::abort();
    }
    let m = m.cast::<u8>();
    let b = m.wrapping_add(m.align_offset(PAGE));
    STATE.base.set(b);
    b
}

/// `memory.grow`: adds `delta` pages, returns the old size in pages
/// (counted from address 0, as wasm's are), or `usize::MAX` when the
/// reservation cannot hold them. The memory index is ignored (there is one).
pub fn memory_grow(_memory: u32, delta: usize) -> usize {
    let b = base();
    let old = STATE.pages.get();
    if delta > RESERVED / PAGE - old {
        return usize::MAX;
    }
    STATE.pages.set(old + delta);
    b as usize / PAGE + old
}

/// Grows `pages` pages; returns their first byte, or `None` as
/// `memory_grow` fails.
pub fn grow(pages: usize) -> Option<*mut u8> {
    let old = memory_grow(0, pages);
    if old == usize::MAX {
        return None;
    }
    let b = base();
    Some(b.wrapping_add(old * PAGE - b as usize))
}
