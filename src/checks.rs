//! The integrity checker (feature `checks`).
//!
//! After every public operation, [`Talc::check`] walks every heap chunk by
//! chunk and every bin node by node, and panics with a message naming the
//! broken invariant. Before a free or resize, the pointer is checked to be a
//! live allocation, which catches double frees and foreign pointers. It is
//! slow (each operation costs a walk of all memory) and meant for tests.

use crate::bins::{bin_of, LAST_SIZE_BIN, TOP_BIN};
use crate::chunk::{
    self, chunk_size, get, link, linked_bin, FREE, GRAIN, MIN_CHUNK, NEXT, PREV, PREV_FREE, WORD,
};
use crate::span::Span;
use crate::talc::{heap_ptr, sentinel_of};
use crate::{OomHandler, Talc};
use core::alloc::Layout;
use core::ptr::{null, null_mut, NonNull};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Panics with the message unless the condition holds (see [`HeapList::fail`]).
macro_rules! ensure {
    ($list:expr, $cond:expr, $($msg:tt)+) => {
        if !$cond {
            $list.fail(format_args!($($msg)+))
        }
    };
}

/// Panics with the message and both values unless they are equal.
macro_rules! ensure_eq {
    ($list:expr, $a:expr, $b:expr, $($msg:tt)+) => {
        match (&$a, &$b) {
            (a, b) => {
                if a != b {
                    $list.fail(format_args!("{} ({:?} != {:?})", format_args!($($msg)+), a, b))
                }
            }
        }
    };
}

/// How many heaps the checker can follow.
const MAX_HEAPS: usize = 256;

/// The heaps of a `Talc`, as the checker knows them.
pub(crate) struct HeapList {
    heaps: [Span; MAX_HEAPS],
    len: usize,
    /// The fault flag of the wrapper that holds this `Talc` during the
    /// current call (see [`Reporting`]), or null.
    pub(crate) fault: *const AtomicBool,
}

impl HeapList {
    pub(crate) const fn new() -> Self {
        Self { heaps: [Span::empty(); MAX_HEAPS], len: 0, fault: null() }
    }

    /// Reports a broken invariant: a panic naming it. When a global wrapper
    /// holds the `Talc`, its flag is raised first, so that the panic's own
    /// allocations are served from the reserve instead of waiting for the
    /// lock this call holds (a hang) or re-entering this `Talc`.
    #[cold]
    #[track_caller]
    pub(crate) fn fail(&self, what: core::fmt::Arguments<'_>) -> ! {
        // SAFETY: a non-null `fault` points into the wrapper that is running
        // this call, which outlives it.
        if let Some(flag) = unsafe { self.fault.as_ref() } {
            flag.store(true, Ordering::SeqCst);
        }
        panic!("{what}")
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    pub(crate) fn add(&mut self, heap: Span) {
        ensure!(self, self.len < MAX_HEAPS, "talcum checks: more than {MAX_HEAPS} heaps");
        self.heaps[self.len] = heap;
        self.len += 1;
    }

    pub(crate) fn top_moved(&mut self, old: *mut u8, new: *mut u8) {
        let Some(i) = self.all().iter().position(|h| h.acme() == old) else {
            self.fail(format_args!("talcum checks: no heap of this allocator ends at {old:p}"));
        };
        self.heaps[i] = Span::new(self.heaps[i].base(), new);
    }

    pub(crate) fn remove(&mut self, heap: Span) {
        let Some(i) = self.all().iter().position(|&h| h == heap) else {
            self.fail(format_args!("talcum checks: {heap:?} is not a heap of this allocator"));
        };
        self.len -= 1;
        self.heaps[i] = self.heaps[self.len];
    }

    fn all(&self) -> &[Span] {
        &self.heaps[..self.len]
    }
}

impl<O: OomHandler> Talc<O> {
    /// Walks every heap and bin and panics on any broken invariant.
    pub(crate) fn check(&self) {
        if self.get_arena().is_empty() {
            ensure_eq!(self.heaps, self.heaps.len, 0, "talcum checks: heaps without an arena");
        }
        let mut free_chunks = 0;
        for &heap in self.heaps.all() {
            // SAFETY: the heaps are valid memory of this allocator.
            free_chunks += unsafe { self.check_heap(heap) };
        }
        // SAFETY: as above.
        let listed = unsafe { self.check_bins(free_chunks) };
        ensure_eq!(
            self.heaps,
            listed,
            free_chunks,
            "talcum checks: free chunks missing from the bins"
        );
        for &heap in self.heaps.all() {
            // SAFETY: as above.
            unsafe { self.check_listed(heap, free_chunks) };
        }
        self.check_fresh();
        #[cfg(feature = "fast")]
        self.check_held();
        #[cfg(feature = "stats")]
        self.check_classes();
    }

    /// Checks the front end's lists (feature `fast`): every held chunk is
    /// an allocated chunk of a heap, flagged held, of its list's class, and
    /// listed once; every chunk flagged held is listed.
    #[cfg(feature = "fast")]
    fn check_held(&self) {
        use crate::chunk::HELD;
        use crate::front::CLASSES;
        let mut flagged = 0usize;
        for &heap in self.heaps.all() {
            let mut at = heap.base();
            while at.addr() != sentinel_of(heap.acme().addr()) {
                // SAFETY: `check_heap` proved this tiling just now.
                let word = unsafe { get(at) };
                if word & HELD != 0 {
                    ensure!(
                        self.heaps,
                        word & FREE == 0,
                        "talcum checks: chunk {at:p} is both free and held"
                    );
                    flagged += 1;
                }
                at = at.wrapping_add(chunk::size_of(word));
            }
        }
        let mut listed = 0usize;
        for class in 0..CLASSES {
            let mut c = self.held[class];
            while !c.is_null() {
                ensure!(
                    self.heaps,
                    listed < flagged,
                    "talcum checks: more chunks held than flagged (a block freed twice?)"
                );
                ensure!(
                    self.heaps,
                    self.heaps.all().iter().any(|h| h.contains(c)),
                    "talcum checks: held chunk {c:p} outside every heap"
                );
                // SAFETY: inside a heap; the walk above found it flagged or
                // the count check stops a walk through foreign memory.
                let word = unsafe { get(c) };
                ensure!(
                    self.heaps,
                    word & HELD != 0,
                    "talcum checks: held chunk {c:p} not flagged"
                );
                ensure_eq!(
                    self.heaps,
                    chunk::size_of(word),
                    MIN_CHUNK + class * GRAIN,
                    "talcum checks: held chunk {c:p} on the list of another size"
                );
                listed += 1;
                // SAFETY: a held chunk links the next through its payload.
                c = unsafe { link(c.add(WORD)) };
            }
        }
        ensure_eq!(
            self.heaps,
            listed,
            flagged,
            "talcum checks: flagged chunks missing from the held lists"
        );
    }

    /// Checks the bytes of free chunks by size class that `stats` keeps
    /// against the heaps' free chunks, and the marks of non-empty classes.
    #[cfg(feature = "stats")]
    fn check_classes(&self) {
        use crate::stats::{class_of, CLASSES};
        let mut bytes = [0usize; CLASSES];
        self.for_each_free_chunk(|c| bytes[class_of(c.size())] += c.size());
        for (class, &b) in bytes.iter().enumerate() {
            ensure_eq!(
                self.heaps,
                self.stats.class_bytes(class),
                b,
                "talcum checks: stats keep wrong bytes for the free chunks of class {class}"
            );
            ensure_eq!(
                self.heaps,
                self.stats.class_marked(class),
                b != 0,
                "talcum checks: stats mark class {class} wrong"
            );
        }
    }

    /// Checks that the memory `fresh` promises zero holds zeros: all of it
    /// up to 64 KiB, then its last 4 KiB (a full scan of a large fresh top
    /// after every operation would be too slow; under Miri, 64 bytes each).
    fn check_fresh(&self) {
        let last = self.get_last_heap_acme();
        let (from, to) =
            (self.fresh.saturating_add(3 * WORD), sentinel_of(last.addr()).wrapping_sub(WORD));
        if last.is_null() || from >= to {
            return;
        }
        ensure!(
            self.heaps,
            self.heaps.all().iter().any(|h| h.acme() == last && h.base().addr() <= from),
            "talcum checks: fresh memory {from:#x}..{to:#x} outside the last heap"
        );
        // Under Miri, where every read is slow, a few words at each end.
        let (head_len, tail_len) = if cfg!(miri) { (64, 64) } else { (64 << 10, 4 << 10) };
        let head = (from..to.min(from + head_len)).step_by(WORD);
        let tail = (to.saturating_sub(tail_len).max(from)..to).step_by(WORD);
        for addr in head.chain(tail) {
            // SAFETY: inside the last heap: in its free top.
            let word = unsafe { *heap_ptr::<usize>(addr) };
            ensure_eq!(
                self.heaps,
                word,
                0,
                "talcum checks: fresh memory is not zero at {addr:#x} ({from:#x}..{to:#x})"
            );
        }
    }

    /// Walks `heap` chunk by chunk; returns its number of free chunks.
    unsafe fn check_heap(&self, heap: Span) -> usize {
        let (base, acme) = heap.get_base_acme().expect("talcum checks: empty heap");
        ensure!(
            self.heaps,
            base.addr() % GRAIN == WORD && acme.addr() % WORD == 0,
            "talcum checks: heap {heap:?} not aligned to chunk boundaries"
        );
        let mut at = base;
        let mut below_free = false;
        let mut free_chunks = 0;
        loop {
            ensure!(
                self.heaps,
                at.addr() < acme.addr(),
                "talcum checks: chunks overrun the heap {heap:?}"
            );
            // SAFETY: `at` lies inside the heap.
            let word = unsafe { get(at) };
            let size = chunk::size_of(word);
            if word & FREE == 0 {
                ensure_eq!(
                    self.heaps,
                    word & PREV_FREE != 0,
                    below_free,
                    "talcum checks: wrong below-free flag at {at:p}"
                );
                if size == 0 {
                    ensure_eq!(
                        self.heaps,
                        at.addr(),
                        sentinel_of(acme.addr()),
                        "talcum checks: a chunk of size 0 below the heap's top: not its sentinel"
                    );
                    return free_chunks;
                }
                ensure!(
                    self.heaps,
                    size >= MIN_CHUNK && size < acme.addr() - at.addr(),
                    "talcum checks: bad chunk size {size} at {at:p}"
                );
                below_free = false;
            } else {
                ensure!(self.heaps, !below_free, "talcum checks: two free chunks touch at {at:p}");
                ensure!(
                    self.heaps,
                    word & PREV_FREE == 0,
                    "talcum checks: free chunk {at:p} flags a free chunk below"
                );
                ensure!(
                    self.heaps,
                    size >= MIN_CHUNK && size < acme.addr() - at.addr(),
                    "talcum checks: bad free chunk size {size} at {at:p}"
                );
                // SAFETY: the chunk is in the heap.
                let footer = unsafe { get(at.add(size - WORD)) };
                ensure_eq!(
                    self.heaps,
                    size,
                    footer,
                    "talcum checks: free chunk footer differs at {at:p}"
                );
                free_chunks += 1;
                below_free = true;
            }
            at = at.wrapping_add(size);
        }
    }

    /// The bin of the free chunk at `at` of `size` bytes: the top bin for
    /// the free top of the last heap, and for no other chunk (a former last
    /// heap's free top goes to its size's bin when another heap becomes
    /// last); else its size's.
    fn bin_expected(&self, at: *mut u8, size: usize) -> usize {
        if at.addr() + size == sentinel_of(self.get_last_heap_acme().addr()) {
            TOP_BIN
        } else {
            bin_of(size)
        }
    }

    /// Walks every bin list forward; returns the number of chunks listed.
    unsafe fn check_bins(&self, limit: usize) -> usize {
        let mut count = 0;
        for (bin, &head) in self.heads().iter().enumerate() {
            let bit = self.avail_bits() >> bin & 1 == 1;
            ensure_eq!(
                self.heaps,
                bit,
                !head.is_null(),
                "talcum checks: bin {bin}'s bit says wrong whether it holds chunks"
            );
            let mut prev = chunk::bin_link(bin);
            let mut at = head;
            while !at.is_null() {
                count += 1;
                ensure!(
                    self.heaps,
                    count <= limit,
                    "talcum checks: bin lists hold more chunks than are free"
                );
                ensure!(
                    self.heaps,
                    self.heaps.all().iter().any(|h| h.contains(at)),
                    "talcum checks: bin {bin} links to {at:p}, outside every heap"
                );
                // SAFETY: `at` lies in a heap; its header was checked by the
                // walk if it is a real free chunk, else the asserts fail.
                unsafe {
                    ensure_eq!(
                        self.heaps,
                        link(at.add(PREV)),
                        prev,
                        "talcum checks: broken back link at {at:p}"
                    );
                    let word = get(at);
                    ensure!(
                        self.heaps,
                        word & FREE != 0,
                        "talcum checks: bin {bin} lists {at:p}, not free"
                    );
                    ensure_eq!(
                        self.heaps,
                        self.bin_expected(at, chunk::size_of(word)),
                        bin,
                        "talcum checks: chunk {at:p} in wrong bin"
                    );
                    prev = at.add(NEXT);
                    at = link(at.add(NEXT));
                }
            }
        }
        count
    }

    /// Checks that every free chunk of `heap` is reachable from its bin's
    /// head by following the back links.
    unsafe fn check_listed(&self, heap: Span, limit: usize) {
        let mut at = heap.base();
        while at.addr() != sentinel_of(heap.acme().addr()) {
            // SAFETY: the heap walk above proved this tiling.
            let word = unsafe { get(at) };
            let size = chunk::size_of(word);
            if word & FREE != 0 {
                let mut prev = at.wrapping_add(NEXT);
                let mut bin = None;
                for _ in 0..=limit {
                    // SAFETY: links were checked to stay in heaps, or to be
                    // a bin's number; `prev` is a chunk's `next` link.
                    prev = unsafe { link(prev.wrapping_sub(NEXT).add(PREV)) };
                    bin = linked_bin(prev);
                    if bin.is_some() {
                        break;
                    }
                }
                ensure_eq!(
                    self.heaps,
                    bin,
                    Some(self.bin_expected(at, size)),
                    "talcum checks: free chunk {at:p} not listed in its bin"
                );
            }
            at = at.wrapping_add(size);
        }
    }

    /// Panics unless `ptr` is a live allocation of this allocator, made with
    /// `layout`'s alignment.
    pub(crate) fn check_allocation(&self, ptr: NonNull<u8>, layout: Layout) {
        let ptr = ptr.as_ptr();
        let Some(&heap) = self.heaps.all().iter().find(|h| h.contains(ptr)) else {
            self.heaps.fail(format_args!(
                "talcum checks: {ptr:p} is outside every heap: not allocated by this allocator"
            ));
        };
        let mut at = heap.base();
        loop {
            // SAFETY: walking the tiling of a valid heap.
            let word = unsafe { get(at) };
            let size = chunk::size_of(word);
            ensure!(self.heaps, size != 0, "talcum checks: {ptr:p} is not an allocation");
            let top = at.addr() + size;
            if ptr.addr() < top {
                ensure!(
                    self.heaps,
                    word & FREE == 0,
                    "talcum checks: {ptr:p} lies in a free chunk: double free or use after free"
                );
                #[cfg(feature = "fast")]
                ensure!(
                    self.heaps,
                    word & crate::chunk::HELD == 0,
                    "talcum checks: {ptr:p} lies in a block the front end holds: double free or \
                     use after free"
                );
                ensure_eq!(
                    self.heaps,
                    ptr.addr(),
                    at.addr() + WORD,
                    "talcum checks: {ptr:p} is not the start of an allocation"
                );
                ensure!(
                    self.heaps,
                    ptr.addr() % layout.align() == 0,
                    "talcum checks: {ptr:p} is not aligned as {layout:?} says"
                );
                return;
            }
            at = at.with_addr(top);
        }
    }
}

/// Clears a wrapper's fault flag when a call ends (also when a fault unwinds
/// through it), while the call still holds the `Talc`: only the holder can
/// raise the flag, so no other thread's call can clear it under a fault
/// that is still being reported. While it is raised, the wrapper serves
/// every allocation from the reserve.
pub(crate) struct Reporting<'a>(pub(crate) &'a AtomicBool);

impl Drop for Reporting<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// The memory that a panic reporting a fault allocates from: bump
/// allocated, never reused.
const RESERVE_SIZE: usize = 64 << 10;
static mut RESERVE: [u8; RESERVE_SIZE] = [0; RESERVE_SIZE];
static RESERVE_USED: AtomicUsize = AtomicUsize::new(0);

/// A block from the reserve for `layout`. When the reserve is used up (a
/// panic hook that captures a backtrace can ask for megabytes), it panics
/// again: a panic inside the hook makes std abort at once, after the
/// fault's message was printed. (Returning null would wait forever in std's
/// allocation-error hook, for the backtrace lock the panic hook holds.)
pub(crate) fn reserve_alloc(layout: Layout) -> *mut u8 {
    let p = reserve_try(layout);
    if p.is_null() {
        panic!("talcum checks: the reserve for reporting a fault ran out (RUST_BACKTRACE=0 needs less)");
    }
    p
}

/// [`reserve_alloc`], zeroed.
pub(crate) fn reserve_alloc_zeroed(layout: Layout) -> *mut u8 {
    let p = reserve_alloc(layout);
    // SAFETY: `p` holds `layout.size()` bytes of the reserve, ours alone.
    unsafe { p.write_bytes(0, layout.size()) };
    p
}

fn reserve_try(layout: Layout) -> *mut u8 {
    let base = (&raw mut RESERVE).cast::<u8>();
    let mut used = RESERVE_USED.load(Ordering::Relaxed);
    loop {
        let start = (base.addr() + used).next_multiple_of(layout.align()) - base.addr();
        let Some(end) = start.checked_add(layout.size()).filter(|&e| e <= RESERVE_SIZE) else {
            return null_mut();
        };
        match RESERVE_USED.compare_exchange(used, end, Ordering::Relaxed, Ordering::Relaxed) {
            // SAFETY: `start..end` lies in the reserve, and is handed out once.
            Ok(_) => return unsafe { base.add(start) },
            Err(now) => used = now,
        }
    }
}

/// Whether `ptr` came from the reserve (freeing it does nothing).
pub(crate) fn in_reserve(ptr: *mut u8) -> bool {
    let base = (&raw mut RESERVE).cast::<u8>().addr();
    (base..base + RESERVE_SIZE).contains(&ptr.addr())
}

/// `GlobalAlloc::realloc` while a fault is reported, or of a reserve block:
/// a reserve block, or one from `alloc`; the old block is left as it is
/// (its `Talc` may be the one being reported).
///
/// # Safety
/// As for `GlobalAlloc::realloc`.
pub(crate) unsafe fn reserve_realloc(
    alloc: impl FnOnce(Layout) -> *mut u8,
    ptr: *mut u8,
    layout: Layout,
    new_size: usize,
) -> *mut u8 {
    // SAFETY: `GlobalAlloc::realloc`'s contract makes the layout valid.
    let new = alloc(unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) });
    if !new.is_null() {
        // SAFETY: both blocks hold at least the bytes copied, and differ.
        unsafe { new.copy_from_nonoverlapping(ptr, layout.size().min(new_size)) };
    }
    new
}

impl<O: OomHandler> Talc<O> {
    /// Whether a free chunk *surely* fits `layout` (feature `checks`): then
    /// [`malloc`](Talc::malloc) must succeed without the OOM handler. That
    /// is, a free chunk other than the last heap's free top lies in a size
    /// bin above the one of the request's chunk size (its payload and
    /// header, rounded up to two words, at least four words) plus the
    /// alignment's most padding (the alignment and two words, for an
    /// alignment past two words), where every chunk holds the request; or a
    /// chunk that holds it is the last heap's free top, or lies in the last
    /// size bin (which has no upper bound, so the search walks it whole).
    /// A test oracle for the search's promise; found from the heaps, not
    /// from the bins' lists. With feature `fast`, a block the front end holds
    /// counts as a free chunk (it is given back before memory grows), and a
    /// held block of the request's own size (aligned to at most two words)
    /// surely fits.
    pub fn surely_fits(&self, layout: Layout) -> bool {
        if layout.size() > isize::MAX as usize - 4 * WORD {
            return false;
        }
        let need = chunk_size(layout.size());
        let slack = if layout.align() > GRAIN { layout.align() + GRAIN } else { 0 };
        let Some(sure) = need.checked_add(slack) else {
            return false;
        };
        let last_top = self.get_last_heap_acme().addr();
        // A held block of the request's own size (feature `fast`); any other
        // held block counts below as the free chunk it becomes before memory
        // grows.
        #[cfg(feature = "fast")]
        let mut any = layout.align() <= GRAIN
            && self.held.get(crate::front::class_of(need)).is_some_and(|c| !c.is_null());
        #[cfg(not(feature = "fast"))]
        let mut any = false;
        self.for_each_free_chunk(|c| {
            let (base, acme) = (c.base().addr(), c.acme().addr());
            // The block's first aligned start in the chunk, as `take` finds it.
            let mut below = (base + WORD).wrapping_neg() & (layout.align() - 1);
            if below == GRAIN {
                below += layout.align();
            }
            let fits = below.checked_add(need).is_some_and(|n| n <= acme - base);
            let bin = bin_of(acme - base);
            // The top bin and the last size bin are looked at whole.
            let top = acme == sentinel_of(last_top);
            let whole = top || bin == LAST_SIZE_BIN;
            any |= whole && fits || bin > bin_of(sure) && !top;
        });
        any
    }

    /// Calls `f` with every free chunk of every heap (feature `checks`): a
    /// test oracle can tell from them whether a request must succeed
    /// without the OOM handler.
    pub fn for_each_free_chunk(&self, mut f: impl FnMut(Span)) {
        for &heap in self.heaps.all() {
            let mut at = heap.base();
            while at.addr() != sentinel_of(heap.acme().addr()) {
                // SAFETY: `check` proved this tiling after the last operation.
                let word = unsafe { get(at) };
                let next = at.wrapping_add(chunk::size_of(word));
                // Blocks the front end holds are free here (feature `fast`).
                #[cfg(feature = "fast")]
                let free = word & (FREE | crate::chunk::HELD) != 0;
                #[cfg(not(feature = "fast"))]
                let free = word & FREE != 0;
                if free {
                    f(Span::new(at, next));
                }
                at = next;
            }
        }
    }
}
