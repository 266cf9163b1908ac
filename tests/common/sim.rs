//! A simulated WebAssembly linear memory over a host buffer, so that native
//! tests, Miri and the fuzz targets drive the real `WasmHandler`.
//!
//! Memory is a run of 64 KiB pages from the buffer's start. Pages that
//! "someone else" grows (the initial pages, like a module's static data,
//! and pages grown by another party just before one of ours) are filled
//! with a pattern that `check_foreign` verifies is intact.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};

use talcum::{LinearMemory, Span, WASM_PAGE_SIZE as PAGE};

const WORD: usize = core::mem::size_of::<usize>();

pub struct SimMemory {
    /// The buffer, owned (freed on drop); page `n` starts at `base + n * PAGE`.
    base: *mut u8,
    words: usize,
    /// Pages the buffer holds.
    cap: usize,
    /// Pages grown so far, by anyone.
    pages: Cell<usize>,
    /// Growth past this many pages is refused (`memory.grow` returns -1).
    pub max: Cell<usize>,
    /// Pages that someone else grows just before our next growth.
    pub foreign_next: Cell<usize>,
    /// Refuse our next growth once.
    pub refuse_next: Cell<bool>,
    /// The buffer's end plays the top of the address space: there `end`
    /// reads 0 and the last region stops one word short, as on wasm32 at 4 GiB.
    top_of_address_space: bool,
    /// Our successful growths, and the pages they added.
    pub grows: Cell<usize>,
    pub grown_pages: Cell<usize>,
    /// Foreign page ranges, `[first, end)` in pages.
    foreign: RefCell<Vec<(usize, usize)>>,
    /// The initial memory's free part, `[start, end)` in bytes, which
    /// `take_initial` hands over once (like `__heap_base..__heap_end`); the
    /// foreign check skips it.
    gap: (usize, usize),
    pub gap_taken: Cell<bool>,
}

fn foreign_byte(addr: usize) -> u8 {
    (addr >> 3) as u8 ^ 0x5A
}

impl SimMemory {
    /// A memory of `cap` pages at most, of which `initial` already exist
    /// (foreign: like a module's data).
    pub fn new(cap: usize, initial: usize) -> Self {
        Self::build(cap, initial, false)
    }

    /// As `new`, with the buffer's end playing the top of the address space.
    pub fn at_top_of_address_space(cap: usize, initial: usize) -> Self {
        Self::build(cap, initial, true)
    }

    /// As `new`, with the last `gap` bytes of the initial pages free for the
    /// allocator, handed over by `take_initial`.
    pub fn with_gap(cap: usize, initial: usize, gap: usize) -> Self {
        let mut sim = Self::build(cap, initial, false);
        assert!(gap <= initial * PAGE);
        let end = sim.page_addr(initial);
        sim.gap = (end - gap, end);
        // Memory the module starts with is zero where nothing was put.
        // SAFETY: inside the buffer; nobody else has it yet.
        unsafe { sim.base.with_addr(end - gap).write_bytes(0, gap) };
        sim
    }

    fn build(cap: usize, initial: usize, top_of_address_space: bool) -> Self {
        assert!(initial <= cap);
        let words = cap * PAGE / WORD;
        let base = Box::into_raw(vec![0usize; words.max(1)].into_boxed_slice()).cast::<u8>();
        let sim = Self {
            base,
            words,
            cap,
            pages: Cell::new(0),
            max: Cell::new(cap),
            foreign_next: Cell::new(0),
            refuse_next: Cell::new(false),
            top_of_address_space,
            grows: Cell::new(0),
            grown_pages: Cell::new(0),
            foreign: RefCell::new(Vec::new()),
            gap: (0, 0),
            gap_taken: Cell::new(false),
        };
        sim.grow_foreign(initial);
        sim
    }

    pub fn pages(&self) -> usize {
        self.pages.get()
    }

    /// Where memory ends now.
    pub fn end_addr(&self) -> usize {
        self.page_addr(self.pages())
    }

    pub fn page_addr(&self, page: usize) -> usize {
        self.base.addr() + page * PAGE
    }

    /// The whole buffer, as a span (for checks that blocks lie inside it).
    pub fn span(&self) -> Span {
        Span::new(self.base, self.base.wrapping_add(self.cap * PAGE))
    }

    /// Someone else grows `n` pages now (if the maximum allows) and writes them.
    pub fn grow_foreign(&self, n: usize) {
        let from = self.pages.get();
        if n == 0 || from + n > self.max.get() {
            return;
        }
        for addr in (self.page_addr(from)..self.page_addr(from + n)).step_by(8) {
            // SAFETY: the pages lie inside the buffer and belong to nobody else.
            unsafe { self.base.with_addr(addr).write_bytes(foreign_byte(addr), 8) };
        }
        self.pages.set(from + n);
        self.foreign.borrow_mut().push((from, from + n));
    }

    /// Panics unless every foreign page still holds its pattern.
    pub fn check_foreign(&self) {
        // Under Miri, one word in 64 (a full scan is slow there).
        let step = if cfg!(miri) { 512 } else { 8 };
        for &(from, to) in self.foreign.borrow().iter() {
            for addr in (self.page_addr(from)..self.page_addr(to)).step_by(step) {
                if (self.gap.0..self.gap.1).contains(&addr) {
                    continue;
                }
                // SAFETY: inside the buffer; nobody writes foreign pages but us.
                let byte = unsafe { *self.base.with_addr(addr) };
                assert_eq!(byte, foreign_byte(addr), "a foreign page was written at {addr:#x}");
            }
        }
    }

    /// Whether `[addr, addr + len)` overlaps a foreign page.
    pub fn overlaps_foreign(&self, addr: usize, len: usize) -> bool {
        let end = addr + len.max(1);
        self.foreign.borrow().iter().any(|&(from, to)| {
            let start = addr.max(self.page_addr(from));
            let stop = end.min(self.page_addr(to));
            // Overlap, unless the gap (handed over) covers all of it.
            start < stop && !(self.gap.0 <= start && stop <= self.gap.1)
        })
    }
}

impl Drop for SimMemory {
    fn drop(&mut self) {
        let slice =
            std::ptr::slice_from_raw_parts_mut(self.base.cast::<usize>(), self.words.max(1));
        // SAFETY: the buffer came from `Box::into_raw` in `new`.
        drop(unsafe { Box::from_raw(slice) });
    }
}

// SAFETY: a grown region lies in the buffer, beyond every page handed out
// before (ours or foreign), so it is fresh and nobody else's; the buffer
// lives as long as the `SimMemory`, which outlives the allocator borrowing
// it; regions start past the buffer's non-null, word-aligned base; `end` is
// where the next region starts, or 0 at the simulated top of the address
// space, where the last region stops one word short. The gap lies in the
// initial pages, which nothing but this memory's `check_foreign` reads
// (it skips the gap), and is handed over once (`gap_taken`).
unsafe impl LinearMemory for &SimMemory {
    fn end(&self) -> usize {
        let pages = self.pages.get();
        if self.top_of_address_space && pages == self.cap {
            0
        } else {
            self.page_addr(pages)
        }
    }

    fn take_initial(&mut self) -> Option<Span> {
        let (start, end) = self.gap;
        if start == end || self.gap_taken.replace(true) {
            return None;
        }
        Some(Span::new(self.base.with_addr(start), self.base.with_addr(end)))
    }

    fn grow(&mut self, n: usize) -> Option<Span> {
        self.grow_foreign(self.foreign_next.replace(0));
        if self.refuse_next.replace(false) {
            return None;
        }
        let from = self.pages.get();
        let to = from.checked_add(n).filter(|&to| to <= self.max.get())?;
        self.pages.set(to);
        self.grows.set(self.grows.get() + 1);
        self.grown_pages.set(self.grown_pages.get() + n);
        let base = self.base.wrapping_add(from * PAGE);
        let mut acme = self.base.wrapping_add(to * PAGE);
        if self.top_of_address_space && to == self.cap {
            acme = acme.wrapping_sub(WORD);
        }
        Some(Span::new(base, acme))
    }
}
