//! Attacks on the new core (branch `core-v2`): heaps at odd word offsets,
//! linear memory whose pages start a word past a grain, the zeroed-memory
//! watermark, realloc at the top, and the `surely_fits` promise while
//! memory grows. Each test says what it shows; a test that passes is an
//! attack that found nothing (it still asserts what could break).
#![cfg(feature = "checks")]

mod common;

use std::alloc::Layout;
use std::cell::{Cell, RefCell};
use std::ptr::NonNull;

use common::{Arena, Model, Rng, MIRI};
use talcum::{LinearMemory, Span, Talc, WasmHandler, WASM_PAGE_SIZE as PAGE};

const WORD: usize = core::mem::size_of::<usize>();
const GRAIN: usize = 2 * WORD;

fn l(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// A linear memory whose pages start `offset` bytes past a 16-byte
/// boundary (a word, on 64-bit targets: every region starts a word past a
/// grain and ends a word past one, unlike `SimMemory`, whose host buffer is
/// grain aligned in native runs). Foreign pages, an initial gap and the top
/// of the address space as in `common::sim`.
struct OddMemory {
    /// The buffer (grain aligned, owned) and its length in `u128`s.
    buf: *mut u128,
    len: usize,
    /// Page 0 starts here.
    base: *mut u8,
    cap: usize,
    pages: Cell<usize>,
    foreign_next: Cell<usize>,
    refuse_next: Cell<bool>,
    top_of_address_space: bool,
    grows: Cell<usize>,
    grown_pages: Cell<usize>,
    foreign: RefCell<Vec<(usize, usize)>>,
    gap: Cell<Option<(usize, usize)>>,
    taken_gap: Cell<Option<(usize, usize)>>,
}

fn foreign_byte(addr: usize) -> u8 {
    (addr >> 3) as u8 ^ 0xA5
}

impl OddMemory {
    fn new(cap: usize, initial: usize, offset: usize, top: bool) -> Self {
        let len = (cap * PAGE + offset).div_ceil(16) + 1;
        let buf = Box::into_raw(vec![0u128; len].into_boxed_slice()).cast::<u128>();
        let base = buf.cast::<u8>().wrapping_add(offset);
        let m = Self {
            buf,
            len,
            base,
            cap,
            pages: Cell::new(0),
            foreign_next: Cell::new(0),
            refuse_next: Cell::new(false),
            top_of_address_space: top,
            grows: Cell::new(0),
            grown_pages: Cell::new(0),
            foreign: RefCell::new(Vec::new()),
            gap: Cell::new(None),
            taken_gap: Cell::new(None),
        };
        m.grow_foreign(initial);
        m
    }

    /// As `new`, with `[start, end)` (offsets into the initial pages, any
    /// alignment) zeroed and handed over by `take_initial`.
    fn with_gap(cap: usize, initial: usize, offset: usize, start: usize, end: usize) -> Self {
        let m = Self::new(cap, initial, offset, false);
        let (s, e) = (m.page_addr(0) + start, m.page_addr(0) + end);
        // SAFETY: inside the buffer, nobody's yet.
        unsafe { m.base.with_addr(s).write_bytes(0, e - s) };
        m.gap.set(Some((s, e)));
        m
    }

    fn page_addr(&self, page: usize) -> usize {
        self.base.addr() + page * PAGE
    }

    fn grow_foreign(&self, n: usize) {
        let from = self.pages.get();
        if n == 0 || from + n > self.cap {
            return;
        }
        for addr in self.page_addr(from)..self.page_addr(from + n) {
            // SAFETY: inside the buffer, belonging to nobody else.
            unsafe { self.base.with_addr(addr).write(foreign_byte(addr)) };
        }
        self.pages.set(from + n);
        self.foreign.borrow_mut().push((from, from + n));
    }

    fn in_gap(&self, addr: usize) -> bool {
        self.gap_range().is_some_and(|(s, e)| (s..e).contains(&addr))
    }

    fn gap_range(&self) -> Option<(usize, usize)> {
        self.gap.get().or(self.taken_gap.get())
    }

    fn check_foreign(&self) {
        for &(from, to) in self.foreign.borrow().iter() {
            for addr in
                (self.page_addr(from)..self.page_addr(to)).step_by(if MIRI { 509 } else { 1 })
            {
                if self.in_gap(addr) {
                    continue;
                }
                // SAFETY: inside the buffer.
                let b = unsafe { *self.base.with_addr(addr) };
                assert_eq!(b, foreign_byte(addr), "foreign byte written at {addr:#x}");
            }
        }
    }

    fn overlaps_foreign(&self, addr: usize, len: usize) -> bool {
        let end = addr + len.max(1);
        self.foreign.borrow().iter().any(|&(from, to)| {
            let (s, e) = (addr.max(self.page_addr(from)), end.min(self.page_addr(to)));
            s < e && !(self.in_gap(s) && self.in_gap(e - 1))
        })
    }
}

impl Drop for OddMemory {
    fn drop(&mut self) {
        // SAFETY: from `Box::into_raw` in `new`.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.buf, self.len)) });
    }
}

// SAFETY: regions lie in the buffer past everything handed out before,
// are zero (the buffer starts zeroed; foreign pages are never ours), word
// aligned (`offset` is a word multiple), and off address 0; the gap lies in
// the initial pages and is handed over once.
unsafe impl LinearMemory for &OddMemory {
    fn end(&self) -> usize {
        if self.top_of_address_space && self.pages.get() == self.cap {
            0
        } else {
            self.page_addr(self.pages.get())
        }
    }

    fn grow(&mut self, n: usize) -> Option<Span> {
        self.grow_foreign(self.foreign_next.replace(0));
        if self.refuse_next.replace(false) {
            return None;
        }
        let from = self.pages.get();
        let to = from.checked_add(n).filter(|&t| t <= self.cap)?;
        self.pages.set(to);
        self.grows.set(self.grows.get() + 1);
        self.grown_pages.set(self.grown_pages.get() + n);
        let mut acme = self.page_addr(to);
        if self.top_of_address_space && to == self.cap {
            acme -= WORD;
        }
        Some(Span::new(self.base.with_addr(self.page_addr(from)), self.base.with_addr(acme)))
    }

    fn take_initial(&mut self) -> Option<Span> {
        let (s, e) = self.gap.take()?;
        self.taken_gap.set(Some((s, e)));
        Some(Span::new(self.base.with_addr(s), self.base.with_addr(e)))
    }
}

type OddTalc<'a> = Talc<WasmHandler<&'a OddMemory>>;

fn random_layout(rng: &mut Rng) -> Layout {
    let size = match rng.range(0, 9) {
        0 => 0,
        1 => rng.range(1, 3 * PAGE),
        2 => PAGE * rng.range(1, 3) - rng.range(0, 12) * WORD,
        _ => rng.size(900),
    };
    let align = if rng.chance(75) { 1 << rng.range(0, 4) } else { 1 << rng.range(5, 17) };
    l(size, align)
}

/// Random traffic over memory whose pages start `offset` bytes past a
/// grain: malloc (zeroed or not), realloc, grow in place, free, foreign
/// pages, refusals, truncating the arena, and claims of host memory at odd
/// word offsets. Checks after every step (feature `checks`), plus: blocks
/// aligned, in our memory and off foreign pages, contents kept; zeroed
/// blocks all zero; no growth for a request that `surely_fits`; at most two
/// growths per request (three with the initial gap).
fn odd_stress(seed: u64, offset: usize, top: bool, gap: Option<(usize, usize)>, steps: usize) {
    let cap = if MIRI { 24 } else { 160 };
    let mem = match gap {
        Some((s, e)) => OddMemory::with_gap(cap, 2, offset, s, e),
        None => OddMemory::new(cap, 1, offset, top),
    };
    let mut hosts: Vec<Arena> = Vec::new();
    let mut claimed: Vec<(Span, Span)> = Vec::new();
    let mut talc: OddTalc<'_> = Talc::new(WasmHandler::with_memory(&mem));
    let mut rng = Rng::new(seed);
    let mut model = Model::default();
    let buf = Span::new(mem.base, mem.base.wrapping_add(cap * PAGE));
    for step in 0..steps {
        let what = format!("seed {seed} offset {offset} top {top} gap {gap:?} step {step}");
        // SAFETY: heaps are the memory's or live host arenas'; blocks are
        // live with their layouts; heaps as last returned.
        unsafe {
            match rng.range(0, 99) {
                0..=1 => mem.foreign_next.set(rng.range(1, 2)),
                2 => mem.grow_foreign(1),
                3 => mem.refuse_next.set(true),
                4 if hosts.len() < 4 => {
                    let mut a = Arena::new(32 << 10);
                    let slot = a.span();
                    // Odd word offsets at both ends.
                    let lo = rng.range(0, 7) * WORD + rng.range(0, 1) * 3;
                    let hi = slot.size() - rng.range(0, 7) * WORD;
                    let s =
                        Span::new(slot.base().wrapping_add(lo), slot.base().wrapping_add(hi / 2));
                    if let Ok(h) = talc.claim(s) {
                        assert!(s.contains_span(h), "{what}: {h:?} outside {s:?}");
                        assert_eq!(h.base().addr() % GRAIN, WORD, "{what}");
                        claimed.push((slot, h));
                    }
                    hosts.push(a);
                }
                5 if !claimed.is_empty() => {
                    let i = rng.range(0, claimed.len() - 1);
                    let (slot, h) = claimed[i];
                    let to = rng.range(h.acme().addr() - slot.base().addr(), slot.size());
                    claimed[i].1 = talc.extend(h, Span::from_base_size(slot.base(), to));
                }
                6 if !claimed.is_empty() => {
                    let i = rng.range(0, claimed.len() - 1);
                    let (slot, h) = claimed[i];
                    let allocated = talc.get_allocated_span(h);
                    let want = if rng.chance(30) {
                        Span::empty()
                    } else {
                        Span::from_base_size(slot.base(), rng.range(0, slot.size()))
                    };
                    let t = talc.truncate(h, want);
                    assert!(t.is_empty() || t.contains_span(allocated), "{what}");
                    if t.is_empty() {
                        claimed.swap_remove(i);
                    } else {
                        claimed[i].1 = t;
                    }
                }
                7 => {
                    let a = talc.get_arena();
                    if !a.is_empty() && !claimed.iter().any(|c| c.1 == a) {
                        let to = rng.range(0, a.size());
                        let allocated = talc.get_allocated_span(a);
                        let t = talc.truncate(a, Span::from_base_size(a.base(), to));
                        assert!(t.contains_span(allocated), "{what}");
                    }
                }
                8..=50 => {
                    let layout = random_layout(&mut rng);
                    let zeroed = rng.chance(50);
                    let sure = talc.surely_fits(layout);
                    let grows = mem.grows.get();
                    let taken = mem.taken_gap.get().is_some();
                    let r = if zeroed { talc.malloc_zeroed(layout) } else { talc.malloc(layout) };
                    let grew = mem.grows.get() - grows;
                    let took = !taken && mem.taken_gap.get().is_some();
                    assert!(
                        !sure || (r.is_ok() && grew == 0 && !took),
                        "{what}: {layout:?} surely fits, grew {grew}"
                    );
                    assert!(grew <= 2, "{what}: {layout:?} grew memory {grew} times");
                    if let Ok(p) = r {
                        let a = p.as_ptr().addr();
                        if buf.contains(p.as_ptr()) {
                            assert!(!mem.overlaps_foreign(a, layout.size()), "{what}: foreign");
                            assert!(a + layout.size() <= mem.page_addr(mem.pages.get()), "{what}");
                        }
                        if zeroed {
                            let bytes = std::slice::from_raw_parts(p.as_ptr(), layout.size());
                            if let Some(i) = bytes.iter().position(|&b| b != 0) {
                                panic!(
                                    "{what}: zeroed {layout:?} at {a:#x}: byte {i} is {}",
                                    bytes[i]
                                );
                            }
                        }
                        model.insert(p, layout);
                    }
                }
                51..=65 => {
                    let Some(a) = model.pick(&mut rng) else { continue };
                    let b = model.remove(a);
                    let new_size = if rng.chance(50) {
                        rng.range(0, 2 * b.layout.size() + 100)
                    } else {
                        rng.range(0, 2 * PAGE)
                    };
                    let r = if rng.chance(25) {
                        talc.grow_in_place(b.ptr, b.layout, new_size)
                    } else {
                        talc.realloc(b.ptr, b.layout, new_size)
                    };
                    match r {
                        Ok(q) => {
                            let keep = b.layout.size().min(new_size);
                            let nl = l(new_size, b.layout.align());
                            // Check the kept bytes against the old pattern,
                            // then re-pattern as a new block.
                            for i in 0..keep {
                                assert_eq!(
                                    *q.as_ptr().add(i),
                                    common::pattern(b.id, i),
                                    "{what}: realloc lost byte {i}"
                                );
                            }
                            model.insert(q, nl);
                        }
                        Err(()) => {
                            // Still live, unchanged: put it back.
                            let id = b.id;
                            model.insert_with_id(b.ptr, b.layout, id, b.layout.size());
                        }
                    }
                }
                _ => {
                    if let Some(a) = model.pick(&mut rng) {
                        let b = model.remove(a);
                        talc.free(b.ptr, b.layout);
                    }
                }
            }
        }
        // The stats block (feature `stats`) against a walk of the heaps:
        // free bytes and chunks exact, `largest_free` within its promise.
        #[cfg(feature = "stats")]
        {
            let st = *talc.get_stats();
            let (mut max, mut sum, mut n, mut top) = (0, 0, 0, 0);
            let last = talc.get_last_heap_acme().addr();
            talc.for_each_free_chunk(|c| {
                max = max.max(c.size());
                sum += c.size();
                n += 1;
                if c.acme().addr() + WORD == last {
                    top = c.size();
                }
            });
            let what = format!("seed {seed} step {step}: {st:?}");
            assert_eq!(st.free_bytes as usize, sum, "{what}");
            assert_eq!(st.free_chunks as usize, n, "{what}");
            assert_eq!(st.live_allocations as usize, model.len(), "{what}");
            assert_eq!(st.live_bytes as usize, model.bytes, "{what}");
            let lf = st.largest_free as usize;
            assert!(lf <= max && lf * 5 >= max * 4, "{what}: largest {max}");
            if top == max {
                assert_eq!(lf, max, "{what}: the largest is the free top");
            }
        }
    }
    common::free_all(&mut talc, &mut model);
    mem.check_foreign();
}

/// Heaps in linear memory whose pages start a word past a grain (every
/// region's end rounds down a word; every growth that extends the last
/// heap starts a word above its acme), with foreign pages, refusals,
/// truncation and claimed host heaps at odd offsets.
#[test]
#[cfg_attr(miri, ignore)]
fn odd_linear_memory_random_traffic() {
    for seed in 0..if MIRI { 1 } else { 12 } {
        odd_stress(seed, WORD, false, None, if MIRI { 150 } else { 3000 });
        odd_stress(seed + 1000, 0, false, None, if MIRI { 150 } else { 3000 });
    }
}

/// As above, reaching the top of the address space (the last region a word
/// short: with pages a word past a grain it ends on one).
#[test]
#[cfg_attr(miri, ignore)]
fn odd_linear_memory_at_the_top_of_the_address_space() {
    for seed in 0..if MIRI { 1 } else { 12 } {
        odd_stress(seed + 2000, WORD, true, None, if MIRI { 150 } else { 3000 });
        odd_stress(seed + 3000, 0, true, None, if MIRI { 150 } else { 3000 });
    }
}

/// As above, with an initial gap at odd offsets and ends (ending at the
/// initial memory's end, which is a word past a grain, or below it).
#[test]
#[cfg_attr(miri, ignore)]
fn odd_linear_memory_with_initial_gaps() {
    for seed in 0..if MIRI { 1 } else { 12 } {
        let s = 3 + seed as usize * 1237 % PAGE;
        let e = if seed % 2 == 0 { 2 * PAGE } else { 2 * PAGE - 1 - seed as usize * 5 };
        odd_stress(seed + 4000, WORD, false, Some((s, e)), if MIRI { 150 } else { 3000 });
        odd_stress(seed + 5000, 0, false, Some((s, e)), if MIRI { 150 } else { 3000 });
    }
}

/// Attack that held (bloat, pinned in one heap): try to keep freed big
/// blocks behind eight too-small free chunks of their bin, so that the
/// search (eight looks per bin) never reaches them. Chunks of 2048 and 2559
/// grains share a bin. Each round frees the previous big block, frees eight
/// small blocks (in front of it), asks for a big block, pins it with a
/// 1-byte block, and takes the eight small ones back. It does not bloat:
/// the pin is cut from the first small chunk (the lowest non-empty bin),
/// the eighth small request then reaches the freed big chunk, and the big
/// request is served from the same place each round.
#[test]
#[cfg_attr(miri, ignore)]
fn bloat_attempt_with_pins_in_one_heap_holds() {
    use common::sim::SimMemory;
    let small = l(2048 * GRAIN - WORD, WORD);
    let big = l(2559 * GRAIN - WORD, WORD);
    let pin = l(1, 1);
    let rounds = 150;
    let sim = SimMemory::new(rounds * big.size() / PAGE + 64, 1);
    let mut talc = Talc::new(WasmHandler::with_memory(&sim));
    let (mut live, mut peak) = (0usize, 0usize);
    let mut note = |d: isize| {
        live = live.checked_add_signed(d).unwrap();
        peak = peak.max(live);
    };
    // SAFETY: the heaps are the simulated memory's; blocks are freed once
    // with their layouts (or left live when the memory goes).
    unsafe {
        let mut smalls = Vec::new();
        for _ in 0..8 {
            smalls.push(talc.malloc(small).unwrap());
            talc.malloc(pin).unwrap();
            note((small.size() + pin.size()) as isize);
        }
        let mut prev: Option<NonNull<u8>> = None;
        for _ in 0..rounds {
            if let Some(p) = prev.take() {
                talc.free(p, big);
                note(-(big.size() as isize));
            }
            for p in smalls.drain(..) {
                talc.free(p, small);
                note(-(small.size() as isize));
            }
            prev = Some(talc.malloc(big).unwrap());
            talc.malloc(pin).unwrap();
            note((big.size() + pin.size()) as isize);
            for _ in 0..8 {
                smalls.push(talc.malloc(small).unwrap());
                note(small.size() as isize);
            }
        }
    }
    let grown = sim.grown_pages.get() * PAGE;
    assert!(grown <= 4 * peak + 16 * PAGE, "memory grew {grown} bytes for a live peak of {peak}");
}

/// Finding (bloat): a fitting free chunk behind eight too-small ones in its
/// bin is never found, and with someone else growing a page before each of
/// our growths (JavaScript, another allocator: `WasmHandler` supports it),
/// every big block gets a heap of its own, whose sentinel pins it as no
/// live block need. Then every big block freed stays in its bin behind
/// the eight small ones, and memory grows one page per round while the live
/// bytes stay flat.
///
/// Sizes (in grains of two words, on 64-bit): a big block's chunk fills a one-page
/// heap (4094 grains, the heap's 4095 with the rest too small to stand),
/// and freed it is a chunk of 4095 grains; the small blocks' chunks are 3584
/// grains. Both lie in the bin of 3584..4096 grains. Each round frees the
/// eight small blocks (to the bin's head, in front of the big chunks freed
/// before), asks for a big block (the search looks at the eight small
/// chunks and stops; no chunk in a higher bin, and no free top: the last
/// heap is the previous big block's, full; the handler grows a page, a new
/// heap after the foreign page), takes the eight small blocks back (exact
/// fits at the head), then frees the previous big block (its heap is no
/// longer the last: to the bin's head, behind which the next round's small
/// chunks go). `surely_fits` is false for the big request, so `malloc`'s promise
/// holds; the price it names ("a fitting chunk deeper than this ... is not
/// found") is unbounded here: after 120 rounds 119 free chunks each hold the
/// request, and the allocator has grown 128 pages (8 MiB on 64-bit) for a
/// live peak of ten blocks (576 KiB). Memory grows linearly with the rounds.
///
/// Open, and ignored: the price of the bound on the search (now two chunks
/// of a bin; the small ones are freed in front of the big ones all the
/// same), documented in the README's adversaries. Keeping the larger chunk
/// first in its bin would serve this pattern; measured, it cost 41 B and
/// 4% more instructions (`size-report/EXPERIMENTS.md`).
#[test]
#[ignore = "open: a fitting chunk behind too-small ones is not looked for (see the docs)"]
fn bloat_freed_blocks_pile_up_behind_eight_small_chunks() {
    use common::sim::SimMemory;
    // A one-page heap's chunk: 4095 grains on 64-bit, 8191 on 32-bit; its
    // bin starts at seven eighths of the next power of two.
    let heap_grains = (PAGE - 2 * WORD) / GRAIN;
    let small = l((heap_grains + 1) / 8 * 7 * GRAIN - WORD, WORD);
    let big = l((heap_grains - 1) * GRAIN - WORD, WORD);
    let pin = l(1, 1);
    let rounds = 120;
    let sim = SimMemory::new(2 * rounds + 32, 1);
    let mut talc = Talc::new(WasmHandler::with_memory(&sim));
    let (mut live, mut peak) = (0usize, 0usize);
    let mut note = |d: isize| {
        live = live.checked_add_signed(d).unwrap();
        peak = peak.max(live);
    };
    // SAFETY: the heaps are the simulated memory's; blocks are freed once
    // with their layouts (or left live when the memory goes).
    unsafe {
        let mut smalls = Vec::new();
        for _ in 0..8 {
            smalls.push(talc.malloc(small).unwrap());
            talc.malloc(pin).unwrap();
            note((small.size() + pin.size()) as isize);
        }
        let mut prev: Option<NonNull<u8>> = None;
        for _ in 0..rounds {
            for p in smalls.drain(..) {
                talc.free(p, small);
                note(-(small.size() as isize));
            }
            sim.foreign_next.set(1);
            let next = talc.malloc(big).unwrap();
            note(big.size() as isize);
            for _ in 0..8 {
                smalls.push(talc.malloc(small).unwrap());
                note(small.size() as isize);
            }
            if let Some(p) = prev.replace(next) {
                talc.free(p, big);
                note(-(big.size() as isize));
            }
        }
    }
    let grown = sim.grown_pages.get() * PAGE;
    let mut fitting = 0;
    talc.for_each_free_chunk(|c| fitting += usize::from(c.size() >= big.size() + WORD));
    assert!(
        grown <= 4 * peak + 16 * PAGE,
        "the allocator grew {grown} bytes for a live peak of {peak} bytes; \
         {fitting} free chunks each hold the big request"
    );
}

/// A short run of the odd-memory traffic. (Not under Miri: the emulated
/// memory it sets up takes Miri over ten minutes; Miri runs the targeted
/// cases below, `aligned_block_in_uninitialized_memory` among them.)
#[test]
#[cfg_attr(miri, ignore)]
fn odd_linear_memory_short_run() {
    odd_stress(77, WORD, false, Some((5, 2 * PAGE - 3)), 600);
    odd_stress(78, WORD, true, None, 600);
}

/// Finding (UB under Miri): an aligned allocation whose block lands past
/// the start of a free chunk reads the word where its header will go
/// (`take` calls `occupy(block, ..)`, which keeps `get(block) & PREV_FREE`)
/// before anything was written there. In memory that was never written,
/// that is a read of uninitialized memory as a `usize`. A heap claimed
/// from uninitialized memory (a `Box<[MaybeUninit<u64>]>`, valid for reads
/// and writes as `claim` asks) and one `malloc` of 64-byte alignment whose
/// block does not start at the chunk's base show it: Miri reports "using
/// uninitialized data". (Natively the value read is discarded: `file` sets
/// the flag right after.)
#[test]
fn aligned_block_in_uninitialized_memory() {
    let words = 512;
    let mut buf: Box<[std::mem::MaybeUninit<u64>]> = Box::new_uninit_slice(words);
    let span = Span::from_slice_ptr(std::ptr::slice_from_raw_parts_mut(
        buf.as_mut_ptr().cast::<u8>(),
        words * 8,
    ));
    // Start the heap so that its first payload is 32 bytes past a 64-byte
    // boundary: a 64-aligned block then starts 32 bytes into the chunk.
    let first = span.base().addr() | WORD; // where `claim` puts the first chunk
                                           // Bytes to skip (a multiple of 16, so the first chunk moves as much).
    let skew = (64 + 32 - (first + WORD) % 64) % 64;
    let span = Span::new(span.base().wrapping_add(skew), span.acme());
    let mut talc = Talc::new(talcum::ErrOnOom);
    // SAFETY: `buf` outlives `talc` and is used by nothing else.
    let heap = unsafe { talc.claim(span) }.unwrap();
    assert_eq!((heap.base().addr() + WORD) % 64, 32);
    let layout = l(100, 64);
    // SAFETY: the heap is valid.
    let p = unsafe { talc.malloc(layout) }.unwrap();
    assert_eq!(p.as_ptr().addr() % 64, 0);
    assert!(p.as_ptr().addr() > heap.base().addr() + WORD, "the block starts past the chunk");
    // SAFETY: live, with its layout.
    unsafe { talc.free(p, layout) };
    drop(buf);
}

/// Finding (a word that is not the allocator's is taken over): memory that
/// starts a word above the last heap's acme is taken as an extension, on
/// the assumption that the word between "was the heap's, left out when its
/// end was rounded down" (`Talc::add_memory`, `wasm::joins`). That holds
/// when the heap came from a region that ended there, not when the heap's
/// memory ended on the grain itself. `LinearMemory` asks only for word
/// alignment, and `take_initial` may hand over memory that does not reach
/// `end`: here the pages start a word past a grain, and the initial gap
/// ends one word below the memory's end, on a grain. The word between is
/// the module's (foreign) data. When the first growth joins the gap's heap,
/// the extension's free chunk covers that word, and a block allocated over
/// it writes it. The growth also keeps `fresh` (the new pages are zero), so
/// the foreign word, non-zero, lies inside memory promised zero: with
/// `checks`, the check after the growth panics "fresh memory is not zero"
/// at that word (without `checks`, a `malloc_zeroed` block over it would
/// hand it out unzeroed). The same happens to a heap that a user `claim`s
/// from pages it grew itself, ending a word below the memory's end on a
/// grain. (On real wasm memory pages are grain aligned, so the memory's
/// end rounds to itself and no word lies between: a `LinearMemory` whose
/// pages start a word past a grain, as `SimMemory`'s may under Miri, is
/// needed.)
#[test]
#[cfg_attr(miri, ignore)]
fn growth_one_word_above_a_heap_that_ended_on_a_grain_takes_a_foreign_word() {
    // Pages at a word past a grain; two initial pages; the gap runs from
    // 64 bytes in to one word below their end (a grain boundary).
    let mem = OddMemory::with_gap(8, 2, WORD, 64, 2 * PAGE - WORD);
    let foreign_word = mem.page_addr(2) - WORD;
    assert_eq!(foreign_word % GRAIN, 0);
    assert!(!mem.in_gap(foreign_word));
    let mut talc: OddTalc<'_> = Talc::new(WasmHandler::with_memory(&mem));
    // SAFETY: the heaps are the memory's; blocks stay live until it goes.
    unsafe {
        // The gap's heap: it ends at the foreign word.
        let first = talc.malloc(l(16, 8)).unwrap();
        assert_eq!(talc.get_last_heap_acme().addr(), foreign_word);
        // Fill the gap's heap, then grow: the growth joins it.
        let rest = l(2 * PAGE - 64 - 16 * WORD, 8);
        let _fill = talc.malloc(rest).ok();
        let big = l(PAGE, 8);
        let p = talc.malloc(big).unwrap();
        assert_eq!(mem.grows.get(), 1);
        p.as_ptr().write_bytes(0xEE, big.size());
        let _ = first;
    }
    let byte = unsafe { *mem.base.with_addr(foreign_word) };
    assert_eq!(byte, foreign_byte(foreign_word), "the foreign word below the growth was written");
    mem.check_foreign();
}

/// Attack that held: the extreme layouts. Alignment `2^(BITS-1)` (size 0,
/// the only size it allows), sizes at `isize::MAX`, and resizes to
/// `usize::MAX` and to the largest size `realloc` accepts fail cleanly:
/// no overflow panic (tests build with overflow checks), no growth, the
/// heap intact (`checks`), and `surely_fits` false for all of them.
#[test]
fn extreme_layouts_fail_cleanly() {
    use common::sim::SimMemory;
    let sim = SimMemory::new(8, 1);
    let mut talc = Talc::new(WasmHandler::with_memory(&sim));
    let top_align = 1usize << (usize::BITS - 1);
    let layouts = [
        l(0, top_align),
        l(0, top_align >> 1),
        l(isize::MAX as usize, 1),
        l(isize::MAX as usize - (top_align >> 1) + 1, top_align >> 1),
        l((isize::MAX as usize) - 4 * WORD, 1),
        l((isize::MAX as usize) - 4 * WORD + 1, 1),
    ];
    // SAFETY: the heaps are the simulated memory's; blocks are live with
    // their layouts until freed.
    unsafe {
        let keep = talc.malloc(l(100, 16)).unwrap();
        let grows = sim.grows.get();
        for layout in layouts {
            assert!(!talc.surely_fits(layout), "{layout:?}");
            assert!(talc.malloc(layout).is_err(), "{layout:?}");
            assert!(talc.malloc_zeroed(layout).is_err(), "{layout:?}");
        }
        assert_eq!(sim.grows.get(), grows);
        let small = l(100, 16);
        for new_size in [
            usize::MAX,
            isize::MAX as usize,
            isize::MAX as usize + 1 - 16,
            isize::MAX as usize - 16,
        ] {
            assert!(talc.grow_in_place(keep, small, new_size).is_err(), "{new_size}");
            assert!(talc.realloc(keep, small, new_size).is_err(), "{new_size}");
        }
        assert_eq!(sim.grows.get(), grows);
        // Still live and whole.
        keep.as_ptr().write_bytes(1, 100);
        talc.free(keep, small);
    }
}

/// Attack that held: a `Talc` moved (bin heads live in it; a list's first
/// chunk links back by bin number, not address) keeps working: blocks
/// from before the move are freed after it, and the freed chunks are found.
#[test]
fn a_moved_talc_keeps_its_lists() {
    let mut arena = Arena::new(64 << 10);
    let mut talc = Talc::new(talcum::ErrOnOom);
    // SAFETY: the arena outlives `talc` (and its moved copies).
    unsafe { talc.init(arena.span()).unwrap() };
    let mut blocks = Vec::new();
    for i in 0..40 {
        let layout = l(16 + 24 * i, 8);
        // SAFETY: the heap is valid.
        blocks.push((unsafe { talc.malloc(layout) }.unwrap(), layout));
    }
    // SAFETY: every other block freed, once, with its layout.
    for (p, layout) in blocks.iter().step_by(2) {
        unsafe { talc.free(*p, *layout) };
    }
    let mut boxed = Box::new(talc);
    let moved: Talc<talcum::ErrOnOom> = *boxed;
    let mut talc = moved;
    for (p, layout) in blocks.iter().skip(1).step_by(2) {
        // SAFETY: live, with its layout.
        unsafe { talc.free(*p, *layout) };
    }
    // With feature `fast`, the held blocks merge when given back.
    // SAFETY: the heap is valid.
    #[cfg(feature = "fast")]
    unsafe {
        talc.release_held()
    };
    let whole = l(talc.get_allocatable_span().size() - 2 * WORD, WORD);
    assert!(talc.surely_fits(whole));
    // SAFETY: the heap is valid.
    let p = unsafe { talc.malloc(whole) }.expect("everything merged back");
    // SAFETY: live, with its layout.
    unsafe { talc.free(p, whole) };
    boxed = Box::new(talc);
    drop(boxed);
}

/// Finding (same cause as the test above, through `claim`): a program grows
/// a page itself and gives the allocator all of it but its last word (on a
/// grain, a word below the memory's end, since pages start a word past a
/// grain). The claimed heap is the last one and ends a word below the
/// memory's end, so the handler's next growth extends it across the word
/// the program kept, and a block over it is handed out.
#[test]
#[cfg_attr(miri, ignore)]
fn growth_after_a_claim_that_kept_its_last_word_takes_that_word() {
    let mem = OddMemory::new(8, 1, WORD, false);
    mem.grow_foreign(1);
    let kept = mem.page_addr(2) - WORD;
    // SAFETY: the program's own word, written before the claim.
    unsafe { mem.base.with_addr(kept).cast::<usize>().write(0x5EED) };
    let mut talc: OddTalc<'_> = Talc::new(WasmHandler::with_memory(&mem));
    let claimed = Span::new(mem.base.with_addr(mem.page_addr(1)), mem.base.with_addr(kept));
    // SAFETY: the page is the program's, given to the allocator but for
    // its last word; it outlives `talc`.
    let heap = unsafe { talc.claim(claimed) }.unwrap();
    assert_eq!(heap.acme().addr(), kept);
    // SAFETY: the heaps are valid; blocks are left live.
    unsafe {
        let fill = l(heap.size() - 3 * WORD, WORD);
        let a = talc.malloc(fill).unwrap();
        a.as_ptr().write_bytes(0x11, fill.size());
        let b = talc.malloc(l(PAGE / 2, 8)).unwrap();
        assert_eq!(mem.grows.get(), 1);
        b.as_ptr().write_bytes(0x22, PAGE / 2);
        let c = talc.malloc_zeroed(l(PAGE / 4, 8)).unwrap();
        let _ = c;
    }
    // SAFETY: the program's word.
    let word = unsafe { mem.base.with_addr(kept).cast::<usize>().read() };
    assert_eq!(word, 0x5EED, "the word kept by the program was overwritten");
}
