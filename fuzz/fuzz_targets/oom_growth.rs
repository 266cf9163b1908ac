//! `oom_growth`: memory on demand through an `OomHandler`.
//!
//! Mode 0 (growth): the real `talcum::WasmHandler`, over the simulated
//! linear memory of `tests/common/sim.rs` (`SimMemory`: 64 KiB pages of a
//! host buffer, grown from the bottom; new pages read zero). The input picks
//! the memory's size, how many pages "someone else" grew first, and whether
//! its end plays the top of the address space (where the last region stops a
//! word short). Between requests it can make someone else grow memory now,
//! or just before our next `memory.grow` (`foreign_next`: after the handler
//! measured the free top it counts toward the request), refuse the next
//! growth once, move the memory's maximum, `truncate` a heap (mostly the
//! last one), `init` the allocator anew (over our own pages, ending where
//! memory ends or not, over a buffer outside the memory, or over a span near
//! the smallest heap, a free chunk and the sentinel, which fails and leaves
//! no heap when too small) and `claim`
//! memory that was given back. The harness follows every heap: after each
//! request it takes the regions grown (recorded by `Watched`, which forwards
//! to `&SimMemory`'s own `LinearMemory`): the first extends the last heap
//! exactly when it starts where that heap ends; a second one (after someone
//! else's pages came between) may extend the first or stand alone, as the
//! heap count says. A region that extends a heap moves its acme to the
//! region's end; one that stands alone is a heap from a word past its base
//! (chunks start a word past a grain) to its end (a word short at the top
//! of the address space), and the bytes of the region outside that heap are guarded
//! like memory given back. It compares its heaps with `get_arena`,
//! `get_last_heap_acme` and the counters, and `init`, `claim` and
//! `truncate` with the layout's rules exactly (as in the `heaps` target).
//!
//! Checks, besides the block model (every block patterned and verified, in
//! a heap, on no foreign page, overlapping no other):
//! * the free-chunk oracles (`talcum_fuzz::fit`, read just before each
//!   request): when a free chunk surely fits it (`Talc::surely_fits`: what
//!   `Talc::malloc` promises to find, since the search looks at only a few
//!   chunks per bin), it succeeds without growth (`sim.grows` unchanged); a
//!   malloc that succeeds without any fitting free chunk (`fits`, the weak
//!   direction) grew memory, and so did a realloc that moved without one;
//!   a realloc that stays in place did not grow, unless only free memory
//!   lay above the block up to the last heap's end (then the handler may
//!   extend the heap under it);
//! * growth per request: at most once, once more if someone else grew
//!   pages just before ours (the new pages then cannot join the last heap);
//!   a malloc grows exactly the pages `WasmHandler` sizes (`grow_pages`: the
//!   chunk, the alignment's padding and three words, less the free top that
//!   the pages join, counted for at most half) the first time and the full
//!   count the second; a realloc's first growth is sized the same way (for
//!   what the block lacks, when it ends at the top of the last heap and the
//!   pages would join that heap), and no growth is more than the full count;
//! * a failed request is explained: the growth was refused (`refuse_next`),
//!   or the pages left below the maximum are fewer than the growth asked;
//! * foreign pages keep their pattern (`sim.check_foreign`); memory given
//!   back by `truncate` or abandoned by `init`, and the outside buffer, keep
//!   theirs; the page above the memory's end stays zero;
//! * `truncate` never cuts an allocation, and removes only an empty heap
//!   other than the arena;
//! * after everything is freed (on request, and at the end), every heap is
//!   one free chunk from its base to its sentinel (growth steps merged), or
//!   only the sentinel; at the end, a request for all of the largest never
//!   grows memory, and succeeds when a free chunk surely fits it (an exact
//!   fit is sure only as the last heap's free top or in the last size bin:
//!   otherwise the search looks at one chunk of the bin, maybe another).
//!
//! Mode 1 (`InitOnOom`): `Talc::new(InitOnOom::new(span))` over part of a
//! host buffer: the first request claims the span, and succeeds exactly when
//! the heap made of it holds the layout (its one free chunk is the last
//! heap's free top, which the search always looks at); nothing outside the
//! span is touched; from then
//! on requests behave as with `ErrOnOom` (those that surely fit succeed,
//! and only those that fit can).

#![no_main]

#[path = "../../tests/common/sim.rs"]
mod sim;

use core::alloc::Layout;
use core::ptr::NonNull;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sim::SimMemory;
use talcum::{
    InitOnOom, LinearMemory, OomHandler, Span, Talc, WasmHandler, WASM_PAGE_SIZE as PAGE,
};
use talcum_fuzz::{
    check_alloc_fit, check_counters, check_kept_truncation, check_resize_fit, check_sentinel,
    check_zero, count_ops, fill_sentinel, fit, fits_chunk, grow_pages, heap_span_of, layout,
    max_size, sentinel_of, trace, word_down, Fit, Input, Memory, Model, HEAP_MIN, KIB, MAX_OPS,
    MIB, MIN_CHUNK, WORD,
};

/// The lengths of the spans of `init`'s smallest kind: below this, shrunk
/// inward, a span may or may not hold the smallest heap (the rounding of its
/// ends loses up to four words less two bytes).
const TINY_SPAN: usize = HEAP_MIN + 4 * WORD;
/// Stays below the 256 heaps that the `checks` feature can follow: no event
/// that may start new heaps happens past this many.
const MAX_HEAPS: usize = 48;
/// Sizes of the simulated memory, in pages.
const CAPS: [usize; 4] = [8, 16, 32, 64];
/// The buffer outside the simulated memory, for `init` and `claim`.
const OUT_SIZE: usize = 256 * KIB;
/// The salt of the pattern in memory that the allocator must not touch:
/// given back, abandoned, or never given (the outside buffer).
const GUARDED: usize = 0x6A6A;
/// The salt of the pattern around the `InitOnOom` span.
const UNTOUCHED: usize = 0x5A5A;
/// `InitOnOom` mode: the buffer, in pages.
const INIT_PAGES: usize = 64;

type Handler<'a> = WasmHandler<Watched<'a>>;

/// The simulated memory as the handler grows it, through `&SimMemory`'s own
/// `LinearMemory` implementation; it only records each region it returns,
/// so that the harness knows which pages each growth added (two growths for
/// one request may be contiguous, and either form one heap or two).
struct Watched<'a> {
    sim: &'a SimMemory,
    grown: &'a RefCell<Vec<(Span, usize)>>,
}

// SAFETY: every call forwards to `&SimMemory`'s implementation, whose
// promises hold unchanged; the regions are only recorded.
unsafe impl LinearMemory for Watched<'_> {
    fn end(&self) -> usize {
        LinearMemory::end(&self.sim)
    }

    fn grow(&mut self, pages: usize) -> Option<Span> {
        let mut sim = self.sim;
        let region = sim.grow(pages)?;
        self.grown.borrow_mut().push((region, pages));
        Some(region)
    }
}

fn outside() -> &'static Memory {
    static OUT: OnceLock<Memory> = OnceLock::new();
    OUT.get_or_init(|| {
        let m = Memory::leak(OUT_SIZE, 64 * KIB);
        // SAFETY: the buffer is ours.
        unsafe { fill_sentinel(m.addr(), m.end(), GUARDED) };
        m
    })
}

/// Set when an execution gave part of the outside buffer to the allocator;
/// the next one restores its pattern first.
static OUT_DIRTY: AtomicBool = AtomicBool::new(false);

fn init_memory() -> &'static Memory {
    static MEMORY: OnceLock<Memory> = OnceLock::new();
    MEMORY.get_or_init(|| {
        let m = Memory::leak(INIT_PAGES * PAGE, MIB);
        // SAFETY: the buffer is ours.
        unsafe { fill_sentinel(m.addr(), m.end(), UNTOUCHED) };
        m
    })
}

fn base(s: Span) -> usize {
    s.get_base_acme().map_or(0, |(b, _)| b as usize)
}

fn acme(s: Span) -> usize {
    s.get_base_acme().map_or(0, |(_, a)| a as usize)
}

/// Where the heap that an OOM handler would extend ends (0: none).
fn last_acme<O: OomHandler>(talc: &Talc<O>) -> usize {
    talc.get_last_heap_acme() as usize
}

/// The most pages one growth for `l` asks for: `WasmHandler`'s count with
/// nothing of the free top reused (every growth for a realloc, which may ask
/// for what the block lacks, a smaller layout, asks no more).
fn full_pages(l: Layout) -> u128 {
    grow_pages(l, 0)
}

/// A heap, claim or init length: tiny (to hit the size limits), small, or
/// large.
fn span_len(input: &mut Input) -> usize {
    match input.u8() % 4 {
        0 => input.u8() as usize * 4,
        1 => input.u16() as usize % (16 * KIB),
        _ => input.u32() as usize % (4 * MIB),
    }
}

/// A heap from `init`/`claim` is the span given, shrunk inward to chunk
/// boundaries (`heap_span_of`), which then holds a chunk and the sentinel.
fn check_new_heap(heap: Span, given: Span, what: &str) {
    assert!(
        given.contains_span(heap),
        "{what}: heap {heap:?} is outside the span given, {given:?}"
    );
    let Some((b, a)) = heap_span_of(given.base() as usize, given.acme() as usize) else {
        panic!("{what}: accepted {given:?}, which leaves less than {HEAP_MIN} bytes: {heap:?}")
    };
    assert_eq!((base(heap), acme(heap)), (b, a), "{what}: heap {heap:?} from {given:?}");
}

/// Memory that the allocator must not touch, holding the `GUARDED` pattern.
#[derive(Default)]
struct Guards {
    ranges: Vec<(usize, usize)>,
}

impl Guards {
    /// Writes the pattern over `[from, to)` (ours, in no heap) and guards it.
    fn guard(&mut self, from: usize, to: usize) {
        if from < to {
            debug_assert!(self.ranges.iter().all(|&(a, b)| b <= from || to <= a));
            // SAFETY: the caller's memory, in no heap.
            unsafe { fill_sentinel(from, to, GUARDED) };
            self.ranges.push((from, to));
        }
    }

    /// Takes `[from, to)` out of the guarded ranges (a heap now).
    fn unguard(&mut self, from: usize, to: usize) {
        let mut kept = Vec::with_capacity(self.ranges.len() + 1);
        for &(a, b) in &self.ranges {
            if b <= from || to <= a {
                kept.push((a, b));
                continue;
            }
            if a < from {
                kept.push((a, from));
            }
            if to < b {
                kept.push((to, b));
            }
        }
        self.ranges = kept;
    }

    fn check(&self, what: &str) {
        for &(a, b) in &self.ranges {
            // SAFETY: guarded memory is ours and readable.
            unsafe {
                check_sentinel(a, b, GUARDED, &format!("{what}: memory the allocator gave up"))
            };
        }
    }
}

/// One request as the hooks see it after the call.
struct Request {
    layout: Layout,
    /// What the free chunks offered `layout` before the call: whether one
    /// surely fitted it, and whether any did.
    fit: Fit,
    /// For a realloc, the block's address before.
    old: Option<*mut u8>,
    /// For a realloc, whether only free memory lay above the block up to the
    /// end of the last heap: the one resize in place that may grow memory
    /// (the handler extends the heap under the block).
    at_top: bool,
    result: Option<*mut u8>,
}

/// What differs between the two modes.
trait Hooks: Sized {
    type O: OomHandler;
    type Snap;
    /// Whether mode-specific operations exist (else their codes allocate).
    const EXTRAS: bool;
    /// Whether `[a, e)` lies in a heap.
    fn inside(&self, a: usize, e: usize) -> bool;
    fn before(&self, talc: &Talc<Self::O>) -> Self::Snap;
    /// Checks a request and follows what it did to the heaps.
    fn after(&mut self, talc: &Talc<Self::O>, snap: Self::Snap, req: Request, what: &str);
    fn extra(run: &mut Run<Self>, op: u8, input: &mut Input);
    fn check(&self, talc: &Talc<Self::O>, what: &str);
    /// The heaps as the harness knows them, arena first.
    fn heaps(&self, talc: &Talc<Self::O>) -> Vec<Span>;
    /// After every operation: the harness's heaps against the allocator's.
    fn consistent(&self, _talc: &Talc<Self::O>, _what: &str) {}
}

struct Run<H: Hooks> {
    talc: Talc<H::O>,
    model: Model,
    hooks: H,
}

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.u8();
    let ops =
        if mode & 1 == 0 { run_growth(mode, &mut input) } else { run_init_on_oom(&mut input) };
    count_ops(ops);
}

// ---------------------------------------------------------------------------
// Mode 0: WasmHandler over a simulated memory

struct Growth<'a> {
    sim: &'a SimMemory,
    /// The regions grown during the current request, with their pages.
    grown: &'a RefCell<Vec<(Span, usize)>>,
    cap: usize,
    /// The memory's end plays the top of the address space.
    top: bool,
    /// Our heaps, arena first, as the allocator has them.
    heaps: Vec<Span>,
    guards: Guards,
}

struct GrowthSnap {
    pages: usize,
    grows: usize,
    grown_pages: usize,
    refuse: bool,
    /// Where the last heap ended (0: none).
    last: usize,
    /// Whether memory ended where the last heap does (the handler's growth
    /// would extend it), and where that heap's free top began then.
    joins: bool,
    free_top: usize,
}

fn run_growth(mode: u8, input: &mut Input) -> u64 {
    let cap = CAPS[(mode >> 1) as usize & 3];
    let top = mode & 8 != 0;
    let initial = ((mode >> 4) & 3) as usize;
    let sim = if top {
        SimMemory::at_top_of_address_space(cap, initial)
    } else {
        SimMemory::new(cap, initial)
    };
    let out = outside();
    if OUT_DIRTY.swap(false, Ordering::Relaxed) {
        // SAFETY: the buffer is ours; no allocator uses it now.
        unsafe { fill_sentinel(out.addr(), out.end(), GUARDED) };
    }
    trace!(
        "mode: WasmHandler over {cap} pages ({initial} foreign at first){}",
        if top { ", ending at the top of the address space" } else { "" }
    );
    let mut guards = Guards::default();
    guards.ranges.push((out.addr(), out.end()));
    let grown = RefCell::new(Vec::new());
    let memory = Watched { sim: &sim, grown: &grown };
    let hooks = Growth { sim: &sim, grown: &grown, cap, top, heaps: Vec::new(), guards };
    let mut run =
        Run { talc: Talc::new(WasmHandler::with_memory(memory)), model: Model::new(), hooks };
    let ops = run_ops(&mut run, input);

    // Everything is free: each heap is one free chunk (`check_merged`), so
    // a free chunk holds a request for all of the largest. It is served
    // without growth when a free chunk surely fits it (an exact fit does
    // only as the last heap's free top, or in the last size bin, which the
    // search walks whole); else `Talc::malloc` promises no more than that it
    // may fail (the search looks at one chunk of the bin, maybe another),
    // but it must not grow memory, which is now at its maximum.
    sim.max.set(sim.pages());
    if let Some(&largest) = run.hooks.heaps.iter().max_by_key(|s| s.size()) {
        // Its free chunk is all of it below the sentinel (a word or two
        // below its acme); the block's chunk adds its header word.
        if largest.size() >= HEAP_MIN {
            let l = layout(sentinel_of(acme(largest)) - base(largest) - WORD, WORD);
            let fit = fit(&run.talc, l);
            assert!(fit.any, "after freeing everything, no free chunk holds heap {largest:?}");
            let grows = sim.grows.get();
            // SAFETY: freed at once with its layout.
            unsafe {
                let r = run.talc.malloc(l);
                trace!("malloc({l:?}) for all of heap {largest:?} -> {r:?} ({fit:?})");
                assert!(
                    r.is_ok() || !fit.sure,
                    "after freeing everything, malloc({l:?}) failed in heap {largest:?}, \
                     although a free chunk surely fits it"
                );
                if let Ok(p) = r {
                    // Another heap of the same size may serve it.
                    let a = p.as_ptr() as usize;
                    assert!(
                        run.hooks.inside(a, a + l.size()),
                        "the whole-heap block is in no heap"
                    );
                    run.talc.free(p, l);
                }
            }
            assert_eq!(sim.grows.get(), grows, "memory grew for a whole free heap");
        }
    }
    run.hooks.check(&run.talc, "end");
    ops
}

impl Growth<'_> {
    fn foreign(&self, page: usize) -> bool {
        self.sim.overlaps_foreign(self.sim.page_addr(page), PAGE)
    }

    /// Where a region of our pages that ends before page `end` ends.
    fn region_end(&self, end: usize) -> usize {
        let a = self.sim.page_addr(end);
        if self.top && end == self.cap {
            a - WORD
        } else {
            a
        }
    }

    /// A pointer to `addr` with the provenance of the memory it lies in.
    fn ptr(&self, addr: usize) -> *mut u8 {
        let out = outside();
        if (out.addr()..=out.end()).contains(&addr) {
            out.base.with_addr(addr)
        } else {
            self.sim.span().base().with_addr(addr)
        }
    }

    fn span(&self, from: usize, to: usize) -> Span {
        Span::new(self.ptr(from), self.ptr(to))
    }

    fn in_outside(&self, addr: usize) -> bool {
        let out = outside();
        (out.addr()..out.end()).contains(&addr)
    }

    /// Our pages at the top of memory: the run of non-foreign pages below
    /// its end, as addresses.
    fn top_run(&self) -> Option<(usize, usize)> {
        let end = self.sim.pages();
        let mut first = end;
        while first > 0 && !self.foreign(first - 1) {
            first -= 1;
        }
        (first < end).then(|| (self.sim.page_addr(first), self.region_end(end)))
    }

    /// Follows the regions grown for one request into the heaps. Each one
    /// extends the last heap or starts a new heap, which becomes the last;
    /// it can extend only if it starts where the last heap ends, and the
    /// first one then must (the handler extends the last heap when memory
    /// ends where it does). A later one, contiguous after someone else's
    /// pages made the first region a heap of its own, may do either: the
    /// heap count tells which.
    fn absorb(&mut self, talc: &Talc<Handler<'_>>, last: usize, what: &str) {
        let regions = std::mem::take(&mut *self.grown.borrow_mut());
        let mut last_i = self.heaps.iter().position(|&h| last != 0 && acme(h) == last);
        assert!(
            last == 0 || last_i.is_some(),
            "{what}: the last heap's acme {last:#x} was none of the heaps' {:?}",
            self.heaps
        );
        let count = talc.get_counters().heap_count;
        let Some(mut new_heaps) = count.checked_sub(self.heaps.len()) else {
            panic!("{what}: {count} heaps after growth, {} before", self.heaps.len())
        };
        for (k, &(r, _)) in regions.iter().enumerate() {
            let (lo, hi) = (base(r), acme(r));
            assert!(
                !self.sim.overlaps_foreign(lo, hi - lo),
                "{what}: the grown region {r:?} overlaps a foreign page"
            );
            // Memory extends a heap that ends where it starts.
            let contiguous = last_i.is_some_and(|i| acme(self.heaps[i]) == lo);
            // The heap ends at the region's end (a word short at the top of
            // the address space); the bytes of the region outside the heap
            // are nobody's.
            let end = word_down(hi);
            match last_i {
                Some(i) if contiguous && (k == 0 || new_heaps < regions.len() - k) => {
                    trace!("  grown {r:?} extends heap {i}");
                    self.heaps[i] = self.span(base(self.heaps[i]), end);
                }
                _ => {
                    trace!("  grown {r:?} becomes heap {}", self.heaps.len());
                    assert!(
                        new_heaps > 0,
                        "{what}: the grown region {r:?} (growth {k} of {}) became no heap: the \
                         heap count is {count}",
                        regions.len()
                    );
                    new_heaps -= 1;
                    let Some((b, a)) = heap_span_of(lo, hi) else {
                        panic!("{what}: the grown region {r:?} is too small for a heap")
                    };
                    assert_eq!(a, end);
                    self.guards.guard(lo, b);
                    self.heaps.push(self.span(b, a));
                    last_i = Some(self.heaps.len() - 1);
                }
            }
            self.guards.guard(end, hi);
        }
        assert_eq!(
            new_heaps,
            0,
            "{what}: {count} heaps after growing {regions:x?}, which can make {} (the first \
             region, if it starts where the last heap ends, extends it)",
            self.heaps.len()
        );
        if let Some(i) = last_i.filter(|_| !regions.is_empty()) {
            assert_eq!(last_acme(talc), acme(self.heaps[i]), "{what}: the last heap after growth");
        }
    }
}

impl<'a> Hooks for Growth<'a> {
    type O = Handler<'a>;
    type Snap = GrowthSnap;
    const EXTRAS: bool = true;

    fn inside(&self, a: usize, e: usize) -> bool {
        !self.sim.overlaps_foreign(a, e - a)
            && self.heaps.iter().any(|&h| base(h) <= a && e <= acme(h))
    }

    fn before(&self, talc: &Talc<Self::O>) -> GrowthSnap {
        self.grown.borrow_mut().clear();
        let last = last_acme(talc);
        // `LinearMemory::end`: 0 once memory reaches the top of the address
        // space (no growth can extend a heap there).
        let end = LinearMemory::end(&self.sim);
        let joins = last != 0 && last == end;
        let free_top = match self.heaps.iter().find(|&&h| acme(h) == last) {
            // SAFETY: `h` is a heap of this Talc, as it now is.
            Some(&h) if last != 0 => match unsafe { talc.get_allocated_span(h) }.get_base_acme() {
                Some((_, a)) => a as usize,
                None => base(h),
            },
            _ => last,
        };
        GrowthSnap {
            pages: self.sim.pages(),
            grows: self.sim.grows.get(),
            grown_pages: self.sim.grown_pages.get(),
            refuse: self.sim.refuse_next.get(),
            last,
            joins,
            free_top,
        }
    }

    fn after(&mut self, talc: &Talc<Self::O>, snap: GrowthSnap, req: Request, what: &str) {
        let sim = self.sim;
        let pages = sim.pages();
        let regions: Vec<usize> = self.grown.borrow().iter().map(|&(_, n)| n).collect();
        self.absorb(talc, snap.last, what);
        let l = req.layout;
        let grows = sim.grows.get() - snap.grows;
        let grown = sim.grown_pages.get() - snap.grown_pages;
        let foreign_between = (snap.pages..pages).any(|p| self.foreign(p));
        let ok = req.result.is_some();
        let in_place = req.old.is_some() && req.result == req.old;
        trace!(
            "  {:?}, grew {grows} times ({grown} pages), foreign pages between: {foreign_between}",
            req.fit
        );
        if req.fit.sure {
            assert!(ok, "{what}: failed for {l:?} although a free chunk surely fits it");
            assert_eq!(grows, 0, "{what}: memory grew for {l:?}, which a free chunk surely fits");
        }
        if ok && !req.fit.any && !in_place {
            assert!(
                grows > 0,
                "{what}: {l:?} succeeded with no free chunk that fits and no growth"
            );
        }
        if in_place && !req.at_top {
            assert_eq!(grows, 0, "{what}: memory grew for a resize in place below other blocks");
        }
        // One growth serves a request, unless someone else's pages came
        // between ours and the last heap: then those pages make a heap of
        // their own, and one more growth extends it.
        // A realloc at the top asks first for what the block lacks; when
        // someone else's pages come in between, that growth lands apart and
        // the block moves to one more (the open defect kept in
        // tests/adversarial_review.rs: one growth too many, never a fault).
        let allowed = ok as usize + foreign_between as usize * (1 + req.at_top as usize);
        assert!(
            grows <= allowed,
            "{what}: memory grew {grows} times for {l:?} (succeeded: {ok}, foreign pages between: \
             {foreign_between})"
        );
        assert_eq!(regions.len(), grows, "{what}: growths recorded");
        assert_eq!(regions.iter().sum::<usize>(), grown, "{what}: pages recorded");
        // The first growth: what the handler sizes for the request, less the
        // free top of the last heap if memory ends where that heap does. A
        // realloc of the block at the top of that heap asks first for what
        // the block lacks above its own chunk (the free top counts), but at
        // least half its new size, as a layout of the word's alignment.
        let reused = if snap.joins { snap.last - snap.free_top } else { 0 };
        let first = match req.old {
            Some(old) if req.at_top && snap.joins => {
                // (When it grows, the block cannot grow in place: the new
                // size is more than `own`.)
                let own = snap.free_top - old as usize;
                let size = req.layout.size();
                grow_pages(layout(size.saturating_sub(own).max(size / 2), WORD), reused)
            }
            _ => grow_pages(l, reused),
        };
        // A later growth (once the first region stood apart) asks for all
        // of the request; a realloc's may ask for what the block lacks.
        let full = full_pages(l);
        for (k, &n) in regions.iter().enumerate() {
            if k == 0 {
                assert_eq!(
                    n as u128, first,
                    "{what}: grew {n} pages for {l:?} (reused: {reused} bytes of the free top)"
                );
            } else if req.old.is_none() {
                assert_eq!(n as u128, full, "{what}: grew {n} pages for {l:?} the second time");
            } else {
                assert!(n as u128 <= full, "{what}: grew {n} pages for {l:?}, more than {full}");
            }
        }
        if !ok {
            // The growth that failed asked for `first` pages, or (after one
            // that succeeded) the full count, or less for a realloc.
            let refused = snap.refuse && !sim.refuse_next.get();
            let room = sim.max.get().saturating_sub(pages);
            let asked = if grows == 0 { first } else { full };
            assert!(
                refused || (room as u128) < asked,
                "{what}: {l:?} failed, not refused, with {room} pages left below the maximum \
                 (the growth asks for {asked})"
            );
        }
    }

    fn extra(run: &mut Run<Self>, op: u8, input: &mut Input) {
        let h = &mut run.hooks;
        let sim = h.sim;
        match op {
            // Someone else grows memory now.
            9 => {
                let n = 1 + input.u8() as usize % 3;
                if h.heaps.len() < MAX_HEAPS {
                    trace!("someone else grows {n} pages at page {}", sim.pages());
                    sim.grow_foreign(n);
                }
            }
            10 => match input.u8() % 4 {
                0 => {
                    let n = 1 + input.u8() as usize % 3;
                    if h.heaps.len() < MAX_HEAPS {
                        trace!("someone else grows {n} pages just before our next growth");
                        sim.foreign_next.set(n);
                    }
                }
                1 => {
                    trace!("the next memory.grow fails");
                    sim.refuse_next.set(true);
                }
                2 => {
                    let max = (sim.pages() + input.u8() as usize % 8).min(h.cap);
                    trace!("maximum: {max} pages (now {})", sim.pages());
                    sim.max.set(max);
                }
                _ => {
                    trace!("maximum: {} pages", h.cap);
                    sim.max.set(h.cap);
                }
            },
            11 => truncate(run, input),
            12 => init(run, input),
            _ => claim(run, input),
        }
    }

    fn check(&self, talc: &Talc<Self::O>, what: &str) {
        self.sim.check_foreign();
        self.guards.check(what);
        // The page above the memory's end is untouched.
        let buf = self.sim.span();
        let end = self.sim.end_addr();
        let n = (acme(buf) - end).min(PAGE);
        // SAFETY: inside the simulated memory's buffer.
        unsafe { check_zero(self.ptr(end), n, &format!("{what}: above the memory's end")) };
        for (i, &h) in self.heaps.iter().enumerate() {
            assert!(
                !self.sim.overlaps_foreign(base(h), h.size()),
                "{what}: heap {i} {h:?} overlaps a foreign page"
            );
            // SAFETY: `h` is a heap of this Talc, as it now is.
            let used = unsafe { talc.get_allocated_span(h) };
            assert!(
                used.is_empty() || h.contains_span(used),
                "{what}: get_allocated_span {used:?} outside its heap {h:?}"
            );
        }
    }

    fn heaps(&self, _talc: &Talc<Self::O>) -> Vec<Span> {
        self.heaps.clone()
    }

    fn consistent(&self, talc: &Talc<Self::O>, what: &str) {
        assert_eq!(
            talc.get_arena(),
            self.heaps.first().copied().unwrap_or_else(Span::empty),
            "{what}: get_arena() is not the first heap"
        );
        let last = last_acme(talc);
        assert!(
            last == 0 || self.heaps.iter().any(|&h| acme(h) == last),
            "{what}: the last heap's acme {last:#x} is none of the heaps' {:?}",
            self.heaps
        );
    }
}

/// Truncates a heap (mostly the last one): by some bytes, or to nothing.
fn truncate(run: &mut Run<Growth<'_>>, input: &mut Input) {
    let h = &mut run.hooks;
    if h.heaps.is_empty() {
        return;
    }
    let last = last_acme(&run.talc);
    let i = match h.heaps.iter().position(|&s| last != 0 && acme(s) == last) {
        Some(i) if input.u8() < 160 => i,
        _ => input.index(h.heaps.len()),
    };
    let heap = h.heaps[i];
    let to_empty = input.u8() < 96;
    let cut = span_len(input);
    let want =
        if to_empty { Span::empty() } else { h.span(base(heap), acme(heap).saturating_sub(cut)) };
    // Empty as the allocator sees it: a span under a word aligns to nothing.
    let to_empty = want.word_align_inward().is_empty();
    // SAFETY: `heap` is a heap of this Talc, as it now is.
    let used = unsafe { run.talc.get_allocated_span(heap) };
    let top = if used.is_empty() { base(heap) } else { acme(used) };
    let had_blocks = run.model.extent_within(base(heap), acme(heap)).is_some();
    if let Some((_, hi)) = run.model.extent_within(base(heap), acme(heap)) {
        assert!(
            hi <= top,
            "before truncate: blocks up to {hi:#x} above the allocated span {used:?}"
        );
    }
    let was_last = acme(heap) == last;
    // SAFETY: as above.
    let new = unsafe { run.talc.truncate(heap, want) };
    trace!("truncate(heap {i}: {heap:?}, {want:?}) -> {new:?}");
    if new.is_empty() {
        assert!(
            to_empty && i != 0 && !had_blocks,
            "truncate({heap:?}, {want:?}) removed the heap (arena: {}, blocks: {had_blocks})",
            i == 0
        );
        h.heaps.remove(i);
        h.guards.guard(base(heap), acme(heap));
    } else {
        check_kept_truncation(heap, want, new, to_empty, i != 0, top);
        h.heaps[i] = new;
        h.guards.guard(acme(new), acme(heap));
    }
    if was_last {
        assert_eq!(last_acme(&run.talc), acme(new), "the last heap's acme after truncating it");
    } else {
        assert_eq!(last_acme(&run.talc), last, "truncating another heap moved the last heap");
    }
    // SAFETY: the model's blocks are live.
    unsafe {
        for j in 0..run.model.len() {
            let b = run.model.blocks[j];
            if base(heap) <= b.addr() && b.addr() < acme(heap) {
                run.model.check(j, "after truncate");
            }
        }
    }
}

/// `init` anew: over our own pages (up to the memory's end or not), over
/// the outside buffer, or over a span near the smallest heap (refused when too small).
fn init(run: &mut Run<Growth<'_>>, input: &mut Input) {
    let h = &mut run.hooks;
    let out = outside();
    let kind = input.u8() % 4;
    let top_run = h.top_run();
    let (from, to) = match (kind, top_run) {
        (0, _) => {
            let from = out.addr() + input.u16() as usize % (OUT_SIZE - TINY_SPAN);
            (from, from + input.u16() as usize % TINY_SPAN)
        }
        (1, Some((lo, hi))) => (lo + input.u32() as usize % (hi - lo), hi),
        (2, Some((lo, hi))) => {
            let from = lo + input.u32() as usize % (hi - lo);
            (from, from + span_len(input).min(hi - from))
        }
        _ => {
            let from = out.addr() + input.u32() as usize % OUT_SIZE;
            (from, from + span_len(input).min(out.end() - from))
        }
    };
    let span = h.span(from, to);
    // The old heaps are forgotten: they become memory the allocator must
    // not touch, written before `init` writes its arena (which may overlap).
    for heap in std::mem::take(&mut h.heaps) {
        h.guards.guard(base(heap), acme(heap));
    }
    run.model.forget_all();
    if h.in_outside(from) {
        OUT_DIRTY.store(true, Ordering::Relaxed);
    }
    // SAFETY: the span is ours: our pages (whose heaps were just forgotten,
    // their blocks never to be used again) or the outside buffer.
    let result = unsafe { run.talc.init(span) };
    trace!("init({span:?}) -> {result:?}");
    match result {
        Ok(heap) => {
            check_new_heap(heap, span, "init");
            h.guards.unguard(base(heap), acme(heap));
            h.heaps.push(heap);
            assert_eq!(last_acme(&run.talc), acme(heap), "init: the last heap's acme");
        }
        Err(()) => {
            assert!(
                heap_span_of(from, to).is_none(),
                "init refused {span:?}, which leaves {HEAP_MIN} bytes or more"
            );
            assert_eq!(last_acme(&run.talc), 0, "a failed init left a last heap");
        }
    }
}

/// `claim` part of the memory given back (by `truncate`, or abandoned by
/// `init`), or of the outside buffer, as a separate heap.
fn claim(run: &mut Run<Growth<'_>>, input: &mut Input) {
    let h = &mut run.hooks;
    if h.heaps.len() >= MAX_HEAPS || h.guards.ranges.is_empty() {
        return;
    }
    let (lo, hi) = h.guards.ranges[input.index(h.guards.ranges.len())];
    let from = lo + input.u32() as usize % (hi - lo);
    let to = if input.bool() { hi } else { from + span_len(input).min(hi - from) };
    let span = h.span(from, to);
    if h.in_outside(from) {
        OUT_DIRTY.store(true, Ordering::Relaxed);
    }
    // SAFETY: guarded memory is ours and in no heap.
    let result = unsafe { run.talc.claim(span) };
    trace!("claim({span:?}) -> {result:?}");
    match result {
        Ok(heap) => {
            check_new_heap(heap, span, "claim");
            h.guards.unguard(base(heap), acme(heap));
            h.heaps.push(heap);
            assert_eq!(last_acme(&run.talc), acme(heap), "claim: the last heap's acme");
        }
        Err(()) => assert!(
            heap_span_of(from, to).is_none(),
            "claim refused {span:?}, which leaves {HEAP_MIN} bytes or more"
        ),
    }
}

// ---------------------------------------------------------------------------
// Mode 1: InitOnOom

struct InitMode {
    /// The span given to `InitOnOom`.
    lo: usize,
    hi: usize,
    /// Whether a request has reached the handler (which then took the span).
    asked: bool,
}

fn run_init_on_oom(input: &mut Input) -> u64 {
    let m = init_memory();
    let off = input.u32() as usize % (2 * PAGE);
    let len = input.u32() as usize % (INIT_PAGES * PAGE - off - PAGE);
    let lo = m.addr() + off;
    trace!("mode: InitOnOom over {off:#x}..{:#x}", off + len);
    // SAFETY: this part of the buffer is used by this Talc only.
    let handler = unsafe { InitOnOom::new(Span::from_base_size(m.base.with_addr(lo), len)) };
    let hooks = InitMode { lo, hi: lo + len, asked: false };
    let mut run = Run { talc: Talc::new(handler), model: Model::new(), hooks };
    let ops = run_ops(&mut run, input);
    run.hooks.check(&run.talc, "end");
    // SAFETY: the span is ours again.
    unsafe { fill_sentinel(lo, lo + len, UNTOUCHED) };
    ops
}

impl Hooks for InitMode {
    type O = InitOnOom;
    type Snap = ();
    const EXTRAS: bool = false;

    fn inside(&self, a: usize, e: usize) -> bool {
        a >= self.lo && e <= self.hi
    }

    fn before(&self, _talc: &Talc<InitOnOom>) {}

    fn after(&mut self, talc: &Talc<InitOnOom>, _: (), req: Request, what: &str) {
        let l = req.layout;
        let ok = req.result.is_some();
        if std::mem::replace(&mut self.asked, true) {
            // The span is taken: from now on, as ErrOnOom.
            match req.old {
                None => check_alloc_fit(req.fit, ok, l, &format!("{what}, the span taken,")),
                Some(old) => check_resize_fit(req.fit, old, req.result, l, what),
            }
        } else {
            // The first request (a malloc: no block exists before it). The
            // handler claims the span: the heap is one free chunk, the last
            // heap's free top, which the search looks at whole.
            let heap = heap_span_of(self.lo, self.hi);
            let holds = heap.is_some_and(|(b, a)| fits_chunk(b, a - WORD, l));
            assert_eq!(
                ok, holds,
                "{what}: the first request {l:?} succeeded: {ok}, over the heap {heap:x?} of \
                 the span {:#x}..{:#x}",
                self.lo, self.hi
            );
            let arena = talc.get_arena();
            assert_eq!(
                arena.get_base_acme().map(|(b, a)| (b as usize, a as usize)),
                heap,
                "{what}: the span {:#x}..{:#x} gave the arena {arena:?}",
                self.lo,
                self.hi
            );
        }
        if ok {
            let arena = talc.get_arena();
            assert!(
                self.lo <= base(arena) && acme(arena) <= self.hi,
                "{what}: the arena {arena:?} is not inside the InitOnOom span {:#x}..{:#x}",
                self.lo,
                self.hi
            );
        }
    }

    fn extra(_run: &mut Run<Self>, _op: u8, _input: &mut Input) {}

    fn check(&self, _talc: &Talc<InitOnOom>, what: &str) {
        let m = init_memory();
        let what = format!("{what}: memory around the InitOnOom span");
        // SAFETY: inside the buffer, outside the span.
        unsafe {
            check_sentinel(self.lo.saturating_sub(PAGE).max(m.addr()), self.lo, UNTOUCHED, &what);
            check_sentinel(self.hi, (self.hi + PAGE).min(m.end()), UNTOUCHED, &what);
        }
    }

    fn heaps(&self, talc: &Talc<InitOnOom>) -> Vec<Span> {
        let a = talc.get_arena();
        if a.is_empty() {
            Vec::new()
        } else {
            vec![a]
        }
    }
}

// ---------------------------------------------------------------------------
// The operation loop

/// Frees every live block of the model.
///
/// # Safety
/// The model's blocks are live blocks of `run.talc`.
unsafe fn free_all<H: Hooks>(run: &mut Run<H>, what: &str) {
    while !run.model.is_empty() {
        let b = run.model.take(run.model.len() - 1, what);
        run.talc.free(NonNull::new_unchecked(b.ptr), b.layout());
    }
}

/// With no allocation left, every heap must be one free chunk from its base
/// to its sentinel, or no free chunk at all when the heap is its sentinel
/// alone (a heap truncated to nothing that could not be removed).
fn check_merged<H: Hooks>(run: &Run<H>, what: &str) {
    let heaps = run.hooks.heaps(&run.talc);
    let mut chunks = Vec::new();
    run.talc.for_each_free_chunk(|c| chunks.push((base(c), acme(c))));
    let mut matched = 0;
    for (i, &h) in heaps.iter().enumerate() {
        let lo = base(h);
        let hi = sentinel_of(acme(h));
        let inside: Vec<_> = chunks.iter().filter(|&&(a, _)| base(h) <= a && a < acme(h)).collect();
        assert!(
            hi == lo || hi - lo >= MIN_CHUNK,
            "{what}: heap {i} {h:?} can hold neither a free chunk nor its sentinel alone"
        );
        if hi > lo {
            assert_eq!(
                inside,
                [&(lo, hi)],
                "{what}: with nothing allocated, heap {i} {h:?} is not one free chunk"
            );
        } else {
            assert!(
                inside.is_empty() && hi == lo,
                "{what}: heap {i} {h:?} with no room has free chunks {inside:x?}"
            );
        }
        matched += inside.len();
    }
    assert_eq!(matched, chunks.len(), "{what}: free chunks outside every heap: {chunks:x?}");
}

fn check_heap_counters<H: Hooks>(run: &Run<H>) {
    let heaps = run.hooks.heaps(&run.talc);
    let bytes = heaps.iter().map(|h| h.size()).sum();
    check_counters(run.talc.get_counters(), &run.model, Some((heaps.len(), bytes)));
}

/// The operations shared by both modes; frees everything at the end.
fn run_ops<H: Hooks>(run: &mut Run<H>, input: &mut Input) -> u64 {
    let mut ops = 0u64;
    while !input.is_empty() && (ops as usize) < MAX_OPS {
        ops += 1;
        let op = input.u8() % 16;
        // SAFETY (whole block): blocks passed back are live blocks of the
        // model with their recorded layouts.
        unsafe {
            match op {
                9..=13 if H::EXTRAS => H::extra(run, op, input),
                0..=4 | 9..=13 => {
                    let l = input.layout();
                    let fit = fit(&run.talc, l);
                    let snap = run.hooks.before(&run.talc);
                    let r = run.talc.malloc(l);
                    trace!("malloc({l:?}) -> {:?}", r.map(|p| p.as_ptr()));
                    let result = r.ok().map(|p| p.as_ptr());
                    let req = Request { layout: l, fit, old: None, at_top: false, result };
                    run.hooks.after(&run.talc, snap, req, "malloc");
                    if let Ok(p) = r {
                        let hooks = &run.hooks;
                        let inside = |a, e| hooks.inside(a, e);
                        run.model.add(p.as_ptr(), l.size(), l.align(), &inside, "malloc");
                    }
                }
                5..=7 if !run.model.is_empty() => {
                    let i = run.model.pick(input);
                    let b = run.model.take(i, "free");
                    trace!("free(block {i}: {:p}, {:?})", b.ptr, b.layout());
                    run.talc.free(NonNull::new_unchecked(b.ptr), b.layout());
                }
                8 if !run.model.is_empty() => {
                    let i = run.model.pick(input);
                    let b = run.model.blocks[i];
                    let new_size = input.size().min(max_size(b.align));
                    let new = layout(new_size, b.align);
                    run.model.check(i, "before realloc");
                    let fit = fit(&run.talc, new);
                    // No other block between this one and the last heap's
                    // end, and that heap holds this one.
                    let last = last_acme(&run.talc);
                    let at_top = run
                        .hooks
                        .heaps(&run.talc)
                        .iter()
                        .any(|&h| acme(h) == last && base(h) <= b.addr() && b.end() <= last)
                        && !run.model.blocks.iter().any(|o| (b.end()..last).contains(&o.addr()));
                    let snap = run.hooks.before(&run.talc);
                    let r = run.talc.realloc(NonNull::new_unchecked(b.ptr), b.layout(), new_size);
                    trace!(
                        "realloc(block {i}: {:p}, {:?}, {new_size}) -> {:?}",
                        b.ptr,
                        b.layout(),
                        r
                    );
                    let result = r.ok().map(|p| p.as_ptr());
                    let req = Request { layout: new, fit, old: Some(b.ptr), at_top, result };
                    run.hooks.after(&run.talc, snap, req, "realloc");
                    match r {
                        Ok(p) => {
                            let hooks = &run.hooks;
                            let inside = |a, e| hooks.inside(a, e);
                            run.model.moved(i, p.as_ptr(), new_size, &inside, "realloc");
                        }
                        Err(()) => {
                            assert!(new_size > b.size, "realloc shrinking to {new_size} failed");
                            run.model.check(i, "after failed realloc");
                        }
                    }
                }
                15 => {
                    trace!("free everything");
                    free_all(run, "free everything");
                    check_merged(run, "free everything");
                }
                5..=8 => {}
                _ => {
                    run.hooks.check(&run.talc, "periodic check");
                    run.model.check_all("periodic check");
                    for b in &run.model.blocks {
                        assert!(
                            run.hooks.inside(b.addr(), b.end()),
                            "periodic check: block {b:?} is in no heap"
                        );
                    }
                }
            }
        }
        run.hooks.consistent(&run.talc, "after an operation");
        check_heap_counters(run);
    }
    run.hooks.check(&run.talc, "final check");
    // SAFETY: as above.
    unsafe {
        run.model.check_all("final check");
        free_all(run, "final free");
    }
    check_merged(run, "after freeing everything");
    check_heap_counters(run);
    ops
}
