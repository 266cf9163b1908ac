//! `oom_growth`: memory on demand through an `OomHandler`.
//!
//! Mode 0 (`Grower`): a test handler that simulates wasm linear memory: one
//! big buffer handed out in 64 KiB pages from the bottom, like `memory.grow`
//! (new pages read zero). The handler sizes each growth for the request
//! (size + align + chunk overhead, or the arena's metadata), with a
//! fuzz-chosen minimum step, and then `init`s the first heap, `extend`s the
//! current heap when the new pages start at its top, or `claim`s them as a new
//! heap when they do not. Between operations the input may make "someone
//! else" grow memory (pages filled with a foreign pattern), so that the next
//! growth is not contiguous; it may also make the next `memory.grow` fail.
//! Checks: foreign pages and pages never handed out are never written and no
//! block overlaps them; after a successful growth the retry succeeds (no
//! second growth for one request); a failed request has asked the handler
//! and the handler said no; after everything is freed, the largest heap is
//! one free chunk again (extended heaps merged).
//!
//! Mode 1 (`InitOnOom`): a `Talc::new(InitOnOom::new(span))` over part of
//! the same buffer: the first request claims the span, nothing outside it is
//! touched, and later requests that do not fit fail.

#![no_main]

use core::alloc::Layout;
use core::cell::Cell;
use core::ptr::NonNull;

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use talcum::{InitOnOom, OomHandler, Span, Talc};
use talcum_fuzz::{
    check_counters, check_sentinel, count_ops, fill_sentinel, layout, max_size, trace, Input,
    Memory, Model, KIB, MAX_OPS, MIB,
};

const PAGE: usize = 64 * KIB;
const MAX_PAGES: usize = 64;
const WORD: usize = core::mem::size_of::<usize>();
/// Stays below the 64 heaps that the `checks` feature can follow.
const MAX_HEAPS: usize = 48;
/// The arena's metadata: a tag and 64 bin heads.
const META: usize = 65 * WORD;

fn memory() -> &'static Memory {
    static MEMORY: OnceLock<Memory> = OnceLock::new();
    MEMORY.get_or_init(|| {
        let m = Memory::leak(MAX_PAGES * PAGE, MIB);
        fill_untouched(m.addr(), m.end());
        m
    })
}

/// The salt of the pattern in memory that nobody was given.
const UNTOUCHED: usize = 0x5A5A;
/// The salt of the pattern in memory that someone else grew and wrote.
const FOREIGN: usize = 0xF0F0_F0F0;

fn fill_mem(from: usize, to: usize, salt: usize) {
    // SAFETY: callers pass ranges inside the simulated memory, in no heap.
    unsafe { fill_sentinel(from, to, salt) }
}

fn fill_untouched(from: usize, to: usize) {
    fill_mem(from, to, UNTOUCHED)
}

fn check_mem(from: usize, to: usize, salt: usize, what: &str) {
    // SAFETY: callers pass ranges inside the simulated memory.
    unsafe { check_sentinel(from, to, salt, &format!("{what}: memory not ours")) }
}

fn span_addrs(s: Span) -> (usize, usize) {
    s.get_base_acme().map_or((0, 0), |(b, a)| (b as usize, a as usize))
}

/// The simulated linear memory and its growth handler.
struct Grower {
    base: usize,
    /// Pages handed out so far (ours or someone else's).
    pages: usize,
    /// Page ranges grown by someone else.
    foreign: Vec<(usize, usize)>,
    /// Our heaps, as last returned by the allocator; the last one is the
    /// one at the top of our memory.
    heaps: Vec<Span>,
    /// The minimum growth step in pages.
    min_step: usize,
    /// Refuse the next growth (memory.grow returning -1).
    refuse_next: bool,
    /// Refuse every growth.
    refuse_all: bool,
    /// Per operation: handler calls, successful growths, last answer.
    calls: u32,
    grows: u32,
    last_ok: bool,
}

impl Grower {
    fn page(&self, p: usize) -> *mut u8 {
        (self.base + p * PAGE) as *mut u8
    }

    fn inside(&self, a: usize, e: usize) -> bool {
        self.heaps.iter().any(|h| {
            let (b, t) = span_addrs(*h);
            b <= a && e <= t
        })
    }

    fn check_foreign(&self, what: &str) {
        for &(lo, hi) in &self.foreign {
            check_mem(self.base + lo * PAGE, self.base + hi * PAGE, FOREIGN, what);
        }
        // The page above everything handed out must be untouched too.
        if self.pages < MAX_PAGES {
            let p = self.base + self.pages * PAGE;
            check_mem(p, p + PAGE, UNTOUCHED, what);
        }
    }

    fn grow(talc: &mut Talc<Self>, layout: Layout) -> Result<(), ()> {
        let has_arena = !talc.get_arena().is_empty();
        let me = &mut talc.oom_handler;
        // A free chunk of size + align + 2 words always fits the request;
        // a new heap also needs its sentinel word, the arena its metadata.
        let overhead = 3 * WORD + if has_arena { 0 } else { META };
        let need = layout
            .size()
            .checked_add(layout.align())
            .and_then(|n| n.checked_add(overhead))
            .ok_or(())?;
        let exact = need.div_ceil(PAGE);
        let room = MAX_PAGES - me.pages;
        let n = if exact.max(me.min_step) <= room {
            exact.max(me.min_step)
        } else if exact <= room {
            exact
        } else {
            return Err(());
        };
        let contiguous =
            me.heaps.last().is_some_and(|h| span_addrs(*h).1 == me.base + me.pages * PAGE);
        if has_arena && !contiguous && me.heaps.len() >= MAX_HEAPS {
            return Err(());
        }
        let lo = me.page(me.pages);
        // SAFETY: the pages are inside the simulated memory; new wasm pages
        // read zero.
        unsafe { lo.write_bytes(0, n * PAGE) };
        me.pages += n;
        let new = Span::from_base_size(lo, n * PAGE);
        let (nb, na) = span_addrs(new);
        trace!(
            "  grow for {layout:?}: pages {}..{} (contiguous: {contiguous})",
            talc.oom_handler.pages - n,
            talc.oom_handler.pages
        );
        if !has_arena {
            // SAFETY: the pages are fresh, unused by anyone.
            let heap = unsafe { talc.init(new) }.expect("init refused fresh pages");
            assert_eq!(heap, new, "init of page-aligned memory changed the span");
            talc.oom_handler.heaps.push(heap);
        } else if contiguous {
            let top = *talc.oom_handler.heaps.last().unwrap();
            let (tb, _) = span_addrs(top);
            // SAFETY: `top` is our heap as last returned; the pages above it
            // are fresh.
            let heap = unsafe { talc.extend(top, Span::new(tb as *mut u8, na as *mut u8)) };
            assert_eq!(
                span_addrs(heap),
                (tb, na),
                "extend({top:?}) by {n} pages returned {heap:?}"
            );
            *talc.oom_handler.heaps.last_mut().unwrap() = heap;
        } else {
            // SAFETY: the pages are fresh, above every heap.
            let heap = unsafe { talc.claim(new) }.expect("claim refused fresh pages");
            assert_eq!(span_addrs(heap), (nb, na), "claim of page-aligned memory changed the span");
            talc.oom_handler.heaps.push(heap);
        }
        talc.oom_handler.grows += 1;
        Ok(())
    }
}

impl OomHandler for Grower {
    fn handle_oom(talc: &mut Talc<Self>, layout: Layout) -> Result<(), ()> {
        talc.oom_handler.calls += 1;
        let me = &mut talc.oom_handler;
        let result = if me.refuse_all || std::mem::take(&mut me.refuse_next) {
            Err(())
        } else {
            Self::grow(talc, layout)
        };
        talc.oom_handler.last_ok = result.is_ok();
        result
    }
}

/// What differs between the two modes.
trait Mode: OomHandler {
    fn inside(talc: &Talc<Self>, a: usize, e: usize) -> bool;
    /// Before an operation that may allocate.
    fn before(_talc: &mut Talc<Self>) {}
    /// After it: `ok` tells whether it succeeded.
    fn after(_talc: &Talc<Self>, _ok: bool, _what: &str) {}
    /// A mode-specific operation.
    fn extra(_talc: &mut Talc<Self>, _input: &mut Input) {}
    /// Checks of the memory the allocator must not touch.
    fn check(talc: &Talc<Self>, what: &str);
    /// The heaps as `(count, bytes)` for the counters, if known.
    fn heaps(talc: &Talc<Self>) -> (usize, usize);
}

impl Mode for Grower {
    fn inside(talc: &Talc<Self>, a: usize, e: usize) -> bool {
        talc.oom_handler.inside(a, e)
    }

    fn before(talc: &mut Talc<Self>) {
        let me = &mut talc.oom_handler;
        me.calls = 0;
        me.grows = 0;
        me.last_ok = false;
    }

    fn after(talc: &Talc<Self>, ok: bool, what: &str) {
        let me = &talc.oom_handler;
        assert!(
            me.grows <= 1,
            "{what}: memory grew {} times for one request: the retry did not use the growth",
            me.grows
        );
        if !ok && me.grows == 0 {
            // Failing without growth is fine only if the handler said no.
            assert!(me.calls > 0, "{what}: failed without asking the OOM handler");
            assert!(!me.last_ok, "{what}: failed although the handler's last answer was Ok");
        }
        if !ok && me.grows == 1 {
            panic!("{what}: failed after the handler grew memory enough for it");
        }
    }

    fn extra(talc: &mut Talc<Self>, input: &mut Input) {
        let me = &mut talc.oom_handler;
        match input.u8() % 4 {
            0 | 1 => {
                // Someone else grows memory and writes to it.
                let n = 1 + input.u8() as usize % 3;
                if me.pages + n <= MAX_PAGES && me.heaps.len() + me.foreign.len() < MAX_HEAPS {
                    let (lo, hi) = (me.base + me.pages * PAGE, me.base + (me.pages + n) * PAGE);
                    fill_mem(lo, hi, FOREIGN);
                    trace!("someone else grows pages {}..{}", me.pages, me.pages + n);
                    me.foreign.push((me.pages, me.pages + n));
                    me.pages += n;
                }
            }
            2 => {
                trace!("the next memory.grow fails");
                me.refuse_next = true
            }
            _ => {
                me.min_step = [1, 1, 2, 4, 16][input.u8() as usize % 5];
                trace!("minimum growth step: {} pages", me.min_step);
            }
        }
    }

    fn check(talc: &Talc<Self>, what: &str) {
        talc.oom_handler.check_foreign(what);
    }

    fn heaps(talc: &Talc<Self>) -> (usize, usize) {
        let h = &talc.oom_handler.heaps;
        (h.len(), h.iter().map(|s| s.size()).sum())
    }
}

thread_local! {
    /// The span given to `InitOnOom` in this run.
    static INIT_SPAN: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

impl Mode for InitOnOom {
    fn inside(talc: &Talc<Self>, a: usize, e: usize) -> bool {
        let (b, t) = span_addrs(talc.get_arena());
        b <= a && e <= t
    }

    fn after(talc: &Talc<Self>, ok: bool, what: &str) {
        let (lo, hi) = INIT_SPAN.get();
        let arena = talc.get_arena();
        if ok {
            let (b, t) = span_addrs(arena);
            assert!(
                lo <= b && t <= hi,
                "{what}: the arena {arena:?} is not inside the InitOnOom span {lo:#x}..{hi:#x}"
            );
        }
    }

    fn check(_talc: &Talc<Self>, what: &str) {
        let (lo, hi) = INIT_SPAN.get();
        let m = memory();
        check_mem(lo.saturating_sub(PAGE).max(m.addr()), lo, UNTOUCHED, what);
        check_mem(hi, (hi + PAGE).min(m.end()), UNTOUCHED, what);
    }

    fn heaps(talc: &Talc<Self>) -> (usize, usize) {
        let a = talc.get_arena();
        if a.is_empty() {
            (0, 0)
        } else {
            (1, a.size())
        }
    }
}

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let m = memory();
    let mut input = Input::new(data);
    let mode = input.u8();
    let ops = if mode & 1 == 0 {
        let min_step = [1, 1, 2, 4, 16][(mode >> 1) as usize % 5];
        let grower = Grower {
            base: m.addr(),
            pages: 0,
            foreign: Vec::new(),
            heaps: Vec::new(),
            min_step,
            refuse_next: false,
            refuse_all: false,
            calls: 0,
            grows: 0,
            last_ok: false,
        };
        trace!("mode: Grower, minimum step {min_step} pages");
        let mut talc = Talc::new(grower);
        let ops = run_ops(&mut talc, &mut input);
        // Everything is free: the largest heap must be one free chunk again
        // (extensions merged), and serve a request of nearly all of it
        // without growing.
        talc.oom_handler.refuse_all = true;
        if let Some(&largest) = talc.oom_handler.heaps.iter().max_by_key(|h| h.size()) {
            let l = layout(largest.size().saturating_sub(META + 4 * WORD + KIB), 8);
            // SAFETY: freed at once with its layout.
            unsafe {
                let p = talc.malloc(l).unwrap_or_else(|()| {
                    panic!("after freeing everything, malloc({l:?}) failed in heap {largest:?}: growth steps did not merge")
                });
                talc.free(p, l);
            }
        }
        talc.oom_handler.check_foreign("end");
        // Give back the untouched pattern for the next run.
        fill_untouched(m.addr(), m.addr() + talc.oom_handler.pages * PAGE);
        ops
    } else {
        // InitOnOom over an offset part of the memory.
        let off = input.u32() as usize % (2 * PAGE);
        let len = input.u32() as usize % (MAX_PAGES * PAGE - off - PAGE);
        let lo = m.addr() + off;
        INIT_SPAN.set((lo, lo + len));
        trace!("mode: InitOnOom over {off:#x}..{:#x}", off + len);
        // SAFETY: this part of the memory is used by this Talc only.
        let handler = unsafe { InitOnOom::new(Span::from_base_size(lo as *mut u8, len)) };
        let mut talc = Talc::new(handler);
        let ops = run_ops(&mut talc, &mut input);
        fill_untouched(lo, lo + len);
        ops
    };
    count_ops(ops);
}

/// An address as an offset into the simulated memory, for traces.
fn rel(p: *mut u8) -> usize {
    (p as usize).wrapping_sub(memory().addr())
}

/// The operation loop shared by both modes; frees everything at the end.
fn run_ops<O: Mode>(talc: &mut Talc<O>, input: &mut Input) -> u64 {
    let mut model = Model::new();
    let mut ops = 0u64;
    while !input.is_empty() && (ops as usize) < MAX_OPS {
        ops += 1;
        // SAFETY (whole block): blocks passed back are live blocks of the
        // model with their recorded layouts.
        unsafe {
            match input.u8() % 8 {
                0..=2 => {
                    let l = input.layout();
                    O::before(talc);
                    let r = talc.malloc(l);
                    trace!("malloc({l:?}) -> {:?}", r.map(|p| rel(p.as_ptr())));
                    O::after(talc, r.is_ok(), "malloc");
                    if let Ok(p) = r {
                        let inside = |a, e| O::inside(talc, a, e);
                        model.add(p.as_ptr(), l.size(), l.align(), &inside, "malloc");
                    }
                }
                3 | 4 if !model.is_empty() => {
                    let i = model.pick(input);
                    let b = model.take(i, "free");
                    trace!("free(block {i}: {:#x}, {:?})", rel(b.ptr), b.layout());
                    talc.free(NonNull::new_unchecked(b.ptr), b.layout());
                }
                5 if !model.is_empty() => {
                    let i = model.pick(input);
                    let b = model.blocks[i];
                    let new_size = input.size().min(max_size(b.align));
                    model.check(i, "before realloc");
                    O::before(talc);
                    let r = talc.realloc(NonNull::new_unchecked(b.ptr), b.layout(), new_size);
                    trace!(
                        "realloc(block {i}: {:#x}, {:?}, {new_size}) -> {:?}",
                        rel(b.ptr),
                        b.layout(),
                        r.map(|p| rel(p.as_ptr()))
                    );
                    O::after(talc, r.is_ok(), "realloc");
                    match r {
                        Ok(p) => {
                            let inside = |a, e| O::inside(talc, a, e);
                            model.moved(i, p.as_ptr(), new_size, &inside, "realloc");
                        }
                        Err(()) => model.check(i, "after failed realloc"),
                    }
                }
                6 => O::extra(talc, input),
                _ => {
                    O::check(talc, "periodic check");
                    model.check_all("periodic check");
                }
            }
        }
        check_counters(talc.get_counters(), &model, Some(O::heaps(talc)));
    }
    O::check(talc, "final check");
    // SAFETY: as above.
    unsafe {
        model.check_all("final check");
        while !model.is_empty() {
            let b = model.take(model.len() - 1, "final free");
            talc.free(NonNull::new_unchecked(b.ptr), b.layout());
        }
    }
    check_counters(talc.get_counters(), &model, Some(O::heaps(talc)));
    ops
}
