//! `WasmHandler` counts the last heap's free top toward a growth before it
//! knows whether the new pages will follow that heap. When someone else
//! grows memory between `memory.size` and `memory.grow` every time (another
//! allocator or thread that keeps growing), the pages stand alone, too
//! small: the handler then grows once more, in full. At most two growths per
//! request, however busy the others are. (Found by review: it used to grow
//! memory to its maximum, one small heap at a time, and fail.)

mod common;

use std::alloc::Layout;

use common::sim::SimMemory;
use talcum::{LinearMemory, Span, Talc, WasmHandler, WASM_PAGE_SIZE as PAGE};

/// A simulated memory where someone else grows one page right before each
/// of our growths.
struct Contended<'a>(&'a SimMemory);

// SAFETY: forwards to `&SimMemory`'s implementation; the foreign page is
// grown through the simulation's own `foreign_next`, as its tests do.
unsafe impl LinearMemory for Contended<'_> {
    fn end(&self) -> usize {
        self.0.end()
    }
    fn grow(&mut self, pages: usize) -> Option<Span> {
        self.0.foreign_next.set(1);
        let mut inner = self.0;
        inner.grow(pages)
    }
}

#[test]
fn contended_growth_never_grows_enough() {
    let sim = SimMemory::new(64, 1);
    let mut talc = Talc::new(WasmHandler::with_memory(Contended(&sim)));
    let small = Layout::from_size_align(64, 8).unwrap();
    // SAFETY: the heaps are the simulated memory's, alive as long as `sim`.
    let a = unsafe { talc.malloc(small) }.expect("the first growth");
    // 1.5 pages: two pages grown at once always fit it, whatever lies below.
    let l = Layout::from_size_align(PAGE + PAGE / 2, 8).unwrap();
    let before = sim.grows.get();
    // SAFETY: as above.
    let r = unsafe { talc.malloc(l) };
    let grows = sim.grows.get() - before;
    let pages = sim.pages();
    sim.check_foreign();
    assert!(
        r.is_ok() && grows <= 2,
        "a {} KiB request: {grows} growths of {} pages in all, memory now {pages} of 64 pages, result {r:?}",
        l.size() >> 10,
        sim.grown_pages.get(),
    );
    // SAFETY: live blocks with their layouts.
    unsafe {
        talc.free(a, small);
        talc.free(r.unwrap(), l);
    }
}
