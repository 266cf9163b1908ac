//! `heaps`: heap management on a `Talc<ErrOnOom>`: `init`, `claim` of
//! several separate heaps in four distinct host buffers (heaps in one buffer
//! may touch), `extend` and `truncate` of them, interleaved with allocations.
//!
//! Every heap span the allocator returns is tracked. Every byte of the
//! buffers that is in no heap holds a sentinel (written when the memory was
//! never given, or was taken back by `truncate`/`init`), and the sentinels
//! must survive. `truncate` must never cut an allocation: all live blocks of
//! the heap lie under `get_allocated_span`, survive, and stay in the heap.
//! Every heap change is checked against the layout exactly: `init`/`claim`
//! give the span shrunk inward (its base to a word past a grain, its acme to
//! a word) or refuse it when less than a free chunk and the sentinel is left
//! (the arena needs no more: no metadata lives in a heap); `extend` takes
//! the new acme rounded down to a word when that adds a chunk's worth;
//! `truncate` stops at the wanted acme rounded down to a word, or at the
//! free top's base and sentinel when less than a chunk would be left.
//! The counters must agree with the heaps and the blocks. The free-chunk
//! oracles (`talcum_fuzz::fit`, over every heap): `malloc` must succeed when
//! a free chunk surely fits its layout (`Talc::surely_fits`, as
//! `Talc::malloc` promises) and may succeed only when one fits it;
//! `realloc` must succeed when one surely fits the new size, and succeeds
//! without any fitting one only in place.

#![no_main]

use core::ptr::NonNull;

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use talcum::{ErrOnOom, Span, Talc};
use talcum_fuzz::{
    check_alloc_fit, check_counters, check_kept_truncation, check_resize_fit, count_ops, fit,
    heap_span_of, layout, max_size, sentinel_of, trace, word_down, Input, Memory, Model, HEAP_MIN,
    KIB, MAX_OPS, MIN_CHUNK, WORD,
};

const BUFFERS: usize = 4;
const BUF_SIZE: usize = 256 * KIB;
/// Stays below the 64 heaps that the `checks` feature can follow.
const MAX_HEAPS: usize = 40;

struct Buffers {
    mem: Vec<Memory>,
    /// Per buffer, the range that may differ from the sentinel pattern.
    dirty: std::sync::Mutex<Vec<(usize, usize)>>,
}

fn buffers() -> &'static Buffers {
    static BUFS: OnceLock<Buffers> = OnceLock::new();
    BUFS.get_or_init(|| {
        let mem: Vec<Memory> = (0..BUFFERS).map(|_| Memory::leak(BUF_SIZE, 4 * KIB)).collect();
        for m in &mem {
            fill_sentinel(m.addr(), m.end());
        }
        Buffers { mem, dirty: std::sync::Mutex::new(vec![(usize::MAX, 0); BUFFERS]) }
    })
}

/// The salt of the sentinel pattern in memory outside every heap.
const SALT: usize = 0x5A5A;

fn fill_sentinel(from: usize, to: usize) {
    // SAFETY: callers pass ranges inside one of our buffers, not in a heap.
    unsafe { talcum_fuzz::fill_sentinel(from, to, SALT) }
}

fn check_sentinel(from: usize, to: usize, what: &str) {
    // SAFETY: as for `fill_sentinel`.
    unsafe {
        talcum_fuzz::check_sentinel(from, to, SALT, &format!("{what}: memory outside every heap"))
    }
}

#[derive(Clone, Copy, Debug)]
struct Heap {
    buf: usize,
    span: Span,
}

fn base(s: Span) -> usize {
    s.get_base_acme().map_or(0, |(b, _)| b as usize)
}

fn acme(s: Span) -> usize {
    s.get_base_acme().map_or(0, |(_, a)| a as usize)
}

struct State {
    talc: Talc<ErrOnOom>,
    heaps: Vec<Heap>,
    model: Model,
}

impl State {
    fn heap_of(&self, addr: usize) -> Option<usize> {
        self.heaps.iter().position(|h| base(h.span) <= addr && addr < acme(h.span))
    }

    /// The free gap of buffer `buf` around offset `off`: `(lo, hi)` addresses,
    /// or None if `off` lies in a heap.
    fn gap(&self, bufs: &Buffers, buf: usize, off: usize) -> Option<(usize, usize)> {
        let m = &bufs.mem[buf];
        let at = m.addr() + off;
        let mut lo = m.addr();
        let mut hi = m.end();
        for h in self.heaps.iter().filter(|h| h.buf == buf) {
            let (b, a) = (base(h.span), acme(h.span));
            if b <= at && at < a {
                return None;
            }
            if a <= at {
                lo = lo.max(a);
            }
            if at < b {
                hi = hi.min(b);
            }
        }
        Some((lo, hi))
    }

    fn check_arena(&self) {
        let arena = self.talc.get_arena();
        if arena.is_empty() {
            assert!(self.heaps.is_empty(), "no arena, but heaps {:?}", self.heaps);
        } else {
            assert!(
                self.heaps.first().is_some_and(|h| h.span == arena),
                "get_arena() = {arena:?}, but the first heap is {:?}",
                self.heaps.first()
            );
        }
    }

    fn check_counters(&self) {
        let bytes = self.heaps.iter().map(|h| h.span.size()).sum();
        check_counters(self.talc.get_counters(), &self.model, Some((self.heaps.len(), bytes)));
    }

    /// Checks every sentinel byte of every buffer.
    fn check_foreign(&self, bufs: &Buffers, what: &str) {
        for (i, m) in bufs.mem.iter().enumerate() {
            let mut owned: Vec<(usize, usize)> = self
                .heaps
                .iter()
                .filter(|h| h.buf == i)
                .map(|h| (base(h.span), acme(h.span)))
                .collect();
            owned.sort_unstable();
            let mut at = m.addr();
            for (b, a) in owned {
                check_sentinel(at, b, what);
                at = a;
            }
            check_sentinel(at, m.end(), what);
        }
    }

    /// Checks that get_allocated_span covers every live block of heap `h`
    /// and lies in the heap; returns its acme.
    fn allocated_top(&self, h: usize, what: &str) -> usize {
        let heap = self.heaps[h].span;
        // SAFETY: `heap` is a heap of this Talc as last returned.
        let used = unsafe { self.talc.get_allocated_span(heap) };
        let (hb, ha) = (base(heap), acme(heap));
        if used.is_empty() {
            assert!(
                self.model.extent_within(hb, ha).is_none(),
                "{what}: get_allocated_span({heap:?}) is empty but the heap holds blocks"
            );
            return hb;
        }
        assert!(
            heap.contains_span(used),
            "{what}: get_allocated_span {used:?} is outside its heap {heap:?}"
        );
        assert_eq!(
            base(used),
            hb,
            "{what}: get_allocated_span {used:?} does not start at the heap's base {heap:?}"
        );
        if let Some((lo, hi)) = self.model.extent_within(hb, ha) {
            assert!(
                hb <= lo && hi <= acme(used),
                "{what}: blocks {lo:#x}..{hi:#x} of heap {heap:?} outside get_allocated_span {used:?}"
            );
        }
        acme(used)
    }
}

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let bufs = buffers();
    {
        // Restore the sentinels that the previous run's heaps overwrote.
        let mut dirty = bufs.dirty.lock().unwrap();
        for d in dirty.iter_mut() {
            if d.0 < d.1 {
                fill_sentinel(d.0, d.1);
            }
            *d = (usize::MAX, 0);
        }
    }
    let mut input = Input::new(data);
    let mut st = State { talc: Talc::new(ErrOnOom), heaps: Vec::new(), model: Model::new() };
    let mut ops = 0u64;
    let mark_dirty = |buf: usize, s: Span| {
        let mut dirty = bufs.dirty.lock().unwrap();
        let d = &mut dirty[buf];
        d.0 = d.0.min(base(s));
        d.1 = d.1.max(acme(s));
    };

    while !input.is_empty() && (ops as usize) < MAX_OPS {
        ops += 1;
        // SAFETY (whole block): the spans handed over are parts of our
        // buffers outside every heap; blocks passed back are live blocks of
        // the model with their recorded layouts; heaps passed back are as
        // last returned.
        unsafe {
            match input.u8() % 24 {
                // init: forget everything; the old heaps become foreign memory.
                0 => {
                    let buf = input.index(BUFFERS);
                    let off = input.u32() as usize % BUF_SIZE;
                    let len = heap_len(&mut input).min(BUF_SIZE - off);
                    let m = &bufs.mem[buf];
                    let span = Span::from_base_size(m.base.add(off), len);
                    // init forgets every heap: their memory is the caller's
                    // again and gets its sentinels back, before init writes
                    // its new arena (which may overlap them).
                    for h in st.heaps.drain(..) {
                        fill_sentinel(base(h.span), acme(h.span));
                    }
                    st.model.forget_all();
                    let result = st.talc.init(span);
                    trace!("init({}) -> {:?}", loc_span(span), result.map(loc_span));
                    match result {
                        Ok(heap) => {
                            check_new_heap(heap, span, "init");
                            mark_dirty(buf, heap);
                            st.heaps.push(Heap { buf, span: heap });
                        }
                        Err(()) => check_refused(span, "init"),
                    }
                    st.check_arena();
                }
                // claim a separate heap in the free gap around an offset.
                1..=3 if st.heaps.len() < MAX_HEAPS => {
                    let buf = input.index(BUFFERS);
                    let off = input.u32() as usize % BUF_SIZE;
                    let len = heap_len(&mut input);
                    let Some((_, hi)) = st.gap(bufs, buf, off) else { continue };
                    let m = &bufs.mem[buf];
                    let at = m.addr() + off;
                    let span = Span::from_base_size(m.base.add(off), len.min(hi - at));
                    let result = st.talc.claim(span);
                    trace!("claim({}) -> {:?}", loc_span(span), result.map(loc_span));
                    match result {
                        Ok(heap) => {
                            check_new_heap(heap, span, "claim");
                            mark_dirty(buf, heap);
                            st.heaps.push(Heap { buf, span: heap });
                        }
                        Err(()) => check_refused(span, "claim"),
                    }
                    st.check_arena();
                }
                // extend a heap's top, up to the next heap or the buffer's end.
                4 | 5 if !st.heaps.is_empty() => {
                    let h = input.index(st.heaps.len());
                    let Heap { buf, span: heap } = st.heaps[h];
                    let m = &bufs.mem[buf];
                    let limit = st
                        .heaps
                        .iter()
                        .filter(|o| o.buf == buf && base(o.span) >= acme(heap))
                        .map(|o| base(o.span))
                        .min()
                        .unwrap_or(m.end());
                    let want = (acme(heap) + heap_len(&mut input)).min(limit);
                    // The top of the allocations is where the heap's free top
                    // begins: the base of the free chunk under the sentinel, or
                    // the sentinel itself.
                    let free_top = st.allocated_top(h, "before extend");
                    let new = st
                        .talc
                        .extend(heap, Span::new(heap.get_base_acme().unwrap().0, want as *mut u8));
                    trace!(
                        "extend(heap {h}: {}, to {}) -> {}",
                        loc_span(heap),
                        loc(want),
                        loc_span(new)
                    );
                    assert_eq!(
                        base(new),
                        base(heap),
                        "extend moved the heap's base: {heap:?} -> {new:?}"
                    );
                    // The new acme is `want` rounded down to a word; growth by
                    // less than a chunk (too little to stand as a free chunk)
                    // leaves the heap as it was.
                    let expect = if word_down(want) >= acme(heap) + MIN_CHUNK {
                        word_down(want)
                    } else {
                        acme(heap)
                    };
                    assert_eq!(
                        acme(new),
                        expect,
                        "extend({heap:?} to {want:#x}) returned {new:?}; free top was {free_top:#x}"
                    );
                    mark_dirty(buf, new);
                    st.heaps[h].span = new;
                    st.check_arena();
                }
                // truncate a heap: by some bytes, or to nothing.
                6 | 7 if !st.heaps.is_empty() => {
                    let h = input.index(st.heaps.len());
                    let heap = st.heaps[h].span;
                    let to_empty = input.u8() < 64;
                    let cut = heap_len(&mut input);
                    let top = st.allocated_top(h, "before truncate");
                    let is_arena = heap == st.talc.get_arena();
                    let had_blocks = st.model.extent_within(base(heap), acme(heap)).is_some();
                    let want = if to_empty {
                        Span::empty()
                    } else {
                        Span::new(
                            heap.get_base_acme().unwrap().0,
                            acme(heap).saturating_sub(cut).max(base(heap)) as *mut u8,
                        )
                    };
                    // "Empty" as the allocator sees it (a span shorter than a
                    // word aligns inward to nothing).
                    let to_empty = want.word_align_inward().is_empty();
                    let new = st.talc.truncate(heap, want);
                    trace!(
                        "truncate(heap {h}: {}, {}) -> {}",
                        loc_span(heap),
                        loc_span(want),
                        loc_span(new)
                    );
                    assert!(
                        !had_blocks || top > base(heap),
                        "truncate: heap {heap:?} holds blocks, but nothing is allocated in it"
                    );
                    if new.is_empty() {
                        assert!(
                            to_empty && !is_arena && !had_blocks,
                            "truncate({heap:?}, {want:?}) removed the heap"
                        );
                        st.heaps.remove(h);
                        fill_sentinel(base(heap), acme(heap));
                    } else {
                        check_kept_truncation(heap, want, new, to_empty, !is_arena, top);
                        st.heaps[h].span = new;
                        fill_sentinel(acme(new), acme(heap));
                        st.allocated_top(h, "after truncate");
                    }
                    // Every block that was in this heap must still be intact.
                    for i in 0..st.model.len() {
                        let b = st.model.blocks[i];
                        if base(heap) <= b.addr() && b.addr() < acme(heap) {
                            st.model.check(i, "after truncate");
                        }
                    }
                    st.check_arena();
                }
                8..=12 => {
                    let l = input.layout();
                    let fit = fit(&st.talc, l);
                    let r = st.talc.malloc(l);
                    trace!("malloc({l:?}) -> {:?} ({fit:?})", r.map(|p| loc(p.as_ptr() as usize)));
                    check_alloc_fit(fit, r.is_ok(), l, "malloc");
                    if let Ok(p) = r {
                        let inside = inside_heaps(&st.heaps);
                        st.model.add(p.as_ptr(), l.size(), l.align(), &inside, "malloc");
                    }
                }
                13..=16 if !st.model.is_empty() => {
                    let i = st.model.pick(&mut input);
                    let b = st.model.take(i, "free");
                    trace!("free(block {i}: {}, {:?})", loc(b.addr()), b.layout());
                    st.talc.free(NonNull::new_unchecked(b.ptr), b.layout());
                }
                17 | 18 if !st.model.is_empty() => {
                    let i = st.model.pick(&mut input);
                    let b = st.model.blocks[i];
                    let new_size = input.size().min(max_size(b.align));
                    st.model.check(i, "before realloc");
                    let new = layout(new_size, b.align);
                    let fit = fit(&st.talc, new);
                    let r = st.talc.realloc(NonNull::new_unchecked(b.ptr), b.layout(), new_size);
                    check_resize_fit(fit, b.ptr, r.ok().map(|p| p.as_ptr()), new, "realloc");
                    trace!(
                        "realloc(block {i}: {}, {:?}, {new_size}) -> {:?}",
                        loc(b.addr()),
                        b.layout(),
                        r.map(|p| loc(p.as_ptr() as usize))
                    );
                    match r {
                        Ok(p) => {
                            let inside = inside_heaps(&st.heaps);
                            st.model.moved(i, p.as_ptr(), new_size, &inside, "realloc");
                        }
                        Err(()) => {
                            assert!(new_size > b.size, "realloc shrinking to {new_size} failed");
                            st.model.check(i, "after failed realloc");
                        }
                    }
                }
                19 if !st.model.is_empty() => {
                    let i = st.model.pick(&mut input);
                    let b = st.model.blocks[i];
                    let new_size = b.size - input.size() % (b.size + 1);
                    trace!("shrink(block {i}: {}, {:?}, {new_size})", loc(b.addr()), b.layout());
                    st.talc.shrink(NonNull::new_unchecked(b.ptr), b.layout(), new_size);
                    let inside = inside_heaps(&st.heaps);
                    st.model.moved(i, b.ptr, new_size, &inside, "shrink");
                }
                20 => {
                    st.check_foreign(bufs, "periodic check");
                    st.model.check_all("periodic check");
                    for h in 0..st.heaps.len() {
                        st.allocated_top(h, "periodic check");
                    }
                    for b in &st.model.blocks {
                        assert!(st.heap_of(b.addr()).is_some(), "block {b:?} is in no heap");
                    }
                }
                _ => {
                    let arena = st.talc.get_arena();
                    let allocatable = st.talc.get_allocatable_span();
                    assert!(
                        arena.contains_span(allocatable),
                        "get_allocatable_span {allocatable:?} outside the arena {arena:?}"
                    );
                    // All of the arena below its sentinel (a word or two
                    // below its acme).
                    let expect = match arena.get_base_acme() {
                        Some((b, a)) => Span::new(b, a.with_addr(sentinel_of(a as usize))),
                        None => Span::empty(),
                    };
                    assert_eq!(allocatable, expect, "get_allocatable_span of the arena {arena:?}");
                    for b in &st.model.blocks {
                        if arena.contains(b.ptr) {
                            assert!(
                                allocatable.contains(b.ptr),
                                "block {b:?} outside get_allocatable_span {allocatable:?}"
                            );
                        }
                    }
                }
            }
        }
        st.check_counters();
    }

    st.check_foreign(bufs, "final check");
    // SAFETY: as above.
    unsafe {
        st.model.check_all("final check");
        while !st.model.is_empty() {
            let b = st.model.take(st.model.len() - 1, "final free");
            st.talc.free(NonNull::new_unchecked(b.ptr), b.layout());
        }
        // With no allocations, every heap but the arena can be removed, and
        // the arena truncated down to its sentinel word (no metadata).
        let arena = st.talc.get_arena();
        for h in std::mem::take(&mut st.heaps) {
            if h.span == arena {
                st.heaps.push(h);
                continue;
            }
            let new = st.talc.truncate(h.span, Span::empty());
            assert!(new.is_empty(), "an empty heap {:?} could not be removed: {new:?}", h.span);
            fill_sentinel(base(h.span), acme(h.span));
        }
        if let Some(h) = st.heaps.first().copied() {
            let new = st.talc.truncate(h.span, Span::empty());
            assert!(
                base(new) == base(h.span) && acme(new) == base(h.span) + WORD,
                "the empty arena {:?} truncated to {new:?}, not to its sentinel",
                h.span
            );
            fill_sentinel(acme(new), acme(h.span));
            st.heaps[0].span = new;
        }
        st.check_counters();
    }
    st.check_foreign(bufs, "after removing every heap");
    count_ops(ops);
}

/// An address as "buffer+offset", for traces.
fn loc(addr: usize) -> String {
    let bufs = buffers();
    match bufs.mem.iter().position(|m| m.addr() <= addr && addr <= m.end()) {
        Some(i) => format!("b{i}+{:#x}", addr - bufs.mem[i].addr()),
        None => format!("{addr:#x}"),
    }
}

fn loc_span(s: Span) -> String {
    if s.is_empty() {
        "empty".to_string()
    } else {
        format!("{}..{}", loc(base(s)), loc(acme(s)))
    }
}

/// "The block `a..e` lies in one of `heaps`", for the model.
fn inside_heaps(heaps: &[Heap]) -> impl Fn(usize, usize) -> bool + '_ {
    |a, e| heaps.iter().any(|h| base(h.span) <= a && e <= acme(h.span))
}

/// A heap length: tiny (to hit the size limits), small, or large.
fn heap_len(input: &mut Input) -> usize {
    match input.u8() % 4 {
        0 => input.u8() as usize * 4,
        1 => input.u16() as usize % (16 * KIB),
        _ => input.u32() as usize % BUF_SIZE,
    }
}

/// A new heap from `init`/`claim` is the given span shrunk inward to chunk
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

/// `init`/`claim` refused `given`: it must leave less than a free chunk and
/// the sentinel once shrunk inward.
fn check_refused(given: Span, what: &str) {
    assert!(
        heap_span_of(given.base() as usize, given.acme() as usize).is_none(),
        "{what}: refused {given:?}, which leaves {HEAP_MIN} bytes or more"
    );
}
