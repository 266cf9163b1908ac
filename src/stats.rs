//! Heap statistics in linear memory, and a bounded heap walk (feature `stats`).
//!
//! A [`Talc`] with `stats` keeps a [`Stats`] block: a `#[repr(C)]` row of
//! `u32` figures at a fixed address (inside the `Talc`, so inside the global
//! allocator's `static`), brought up to date at the end of every operation
//! that changes the heap. A JavaScript page reads it straight from
//! `WebAssembly.Memory` at each frame, without calling into wasm, and
//! redraws when [`changes`](Stats::changes) moved.
//!
//! `stats` turns on `counters`: the block copies the counters' figures (kept
//! as the bins change) once per operation, instead of adding its own
//! bookkeeping to every bin update.
//!
//! [`Talc::walk`] visits the chunks of every heap, up to a bound, without
//! allocating; [`Talc::write_map`] writes them into a caller's buffer, and
//! [`export_stats!`](crate::export_stats) exports both to JavaScript.

use crate::bins::{LAST_SIZE_BIN, TOP_BIN};
use crate::chunk::{self, get, link, FREE, GRAIN, NEXT};
use crate::talc::{heap_ptr, sentinel_of};
use crate::{OomHandler, Span, Talc};

/// The layout version of [`Stats`], its first field. A reader checks it;
/// a change of the layout bumps it.
pub const STATS_VERSION: u32 = 1;

/// How many heaps the walk follows (the `Talc` notes their bounds as they
/// come and go). WebAssembly's handler keeps one heap, or a few when
/// something else grows memory in between; heaps past this many are counted
/// in [`Stats::heaps`] but not walked.
pub const WALK_HEAPS: usize = 16;

/// How many chunks of a bin are looked at for [`Stats::largest_free`].
const LARGEST_LOOKS: usize = 8;

/// The size class of a free chunk of `size` bytes: the bins' scale, not
/// clamped at the last size bin ([`crate::bins::size_class`]).
pub(crate) use crate::bins::size_class as class_of;

/// The smallest size (bytes) of class `class` (the inverse of [`class_of`]).
pub(crate) use crate::bins::class_base;

/// How many size classes there are: up to that of the largest size.
pub(crate) const CLASSES: usize = class_of(usize::MAX & !(GRAIN - 1)) + 1;
/// The words of the bitmap of non-empty classes.
const CLASS_WORDS: usize = CLASSES.div_ceil(64);

/// The statistics block (feature `stats`): fixed layout, all `u32`, little
/// endian in WebAssembly memory, 56 bytes.
///
/// | offset | field | meaning |
/// |---:|---|---|
/// | 0 | [`version`](Stats::version) | [`STATS_VERSION`] (1) |
/// | 4 | [`size`](Stats::size) | the block's size in bytes (56) |
/// | 8 | [`changes`](Stats::changes) | bumped by every change (wraps) |
/// | 12 | [`live_bytes`](Stats::live_bytes) | bytes requested by live allocations |
/// | 16 | [`peak_live_bytes`](Stats::peak_live_bytes) | the most `live_bytes` ever |
/// | 20 | [`free_bytes`](Stats::free_bytes) | bytes in free chunks |
/// | 24 | [`free_chunks`](Stats::free_chunks) | free chunks |
/// | 28 | [`largest_free`](Stats::largest_free) | the largest free chunk, bytes |
/// | 32 | [`heaps`](Stats::heaps) | heaps in use |
/// | 36 | [`claimed_bytes`](Stats::claimed_bytes) | bytes in all heaps |
/// | 40 | [`pages_grown`](Stats::pages_grown) | WebAssembly pages grown |
/// | 44 | [`growth_steps`](Stats::growth_steps) | successful `memory.grow` calls |
/// | 48 | [`failed_allocations`](Stats::failed_allocations) | allocations that returned null |
/// | 52 | [`live_allocations`](Stats::live_allocations) | live allocations |
///
/// Figures saturate at `u32::MAX`: the byte figures only on 64-bit targets,
/// `failed_allocations` on any target after four billion failures. The
/// block is refreshed at the end of each `malloc`, `free`, resize, `claim`,
/// `extend` and `truncate`, and when an allocation fails; `init` forgets the
/// heaps but the cumulative figures (peak, growth, failures, changes) carry
/// on. Fragmentation is `1 - largest_free / free_bytes`.
///
/// `largest_free` is never more than the size of the largest free chunk,
/// and at least four fifths of it (before saturation). It is exact when
/// every other free chunk is at most four fifths of the largest's size,
/// and when the largest is the free top of the last heap (the one that
/// ends at [`get_last_heap_acme`](Talc::get_last_heap_acme)).
///
/// At a bounded cost per operation: a `Talc` with `stats` keeps the bytes
/// of its free chunks by size class, updated as chunks enter and leave the
/// bins (the bins' classes, continued past the last bin, so that the sizes
/// of a class are within a quarter of its smallest: 110 classes in 456
/// bytes on 32-bit targets, 234 in 1904 bytes on 64-bit ones). At each
/// refresh the highest class that holds any decides: when its bytes are
/// those of one chunk, they are the figure; else the figure is the largest
/// of the class's smallest size and of the first eight chunks of the two
/// bins that may hold the largest chunk (its size's bin, and the top bin,
/// which holds the last heap's free top). So it is exact, too, whenever the
/// largest chunk is among those eight of its bin (as it is when that bin
/// holds eight or fewer).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// The layout version: [`STATS_VERSION`].
    pub version: u32,
    /// The block's size in bytes.
    pub size: u32,
    /// Bumped (wrapping) whenever another figure may have changed: a reader
    /// redraws when it differs from the value it last drew.
    pub changes: u32,
    /// Bytes requested by live allocations (`Counters::allocated_bytes`).
    pub live_bytes: u32,
    /// The highest `live_bytes` seen at the end of an operation.
    pub peak_live_bytes: u32,
    /// Bytes in free chunks (`Counters::available_bytes`).
    pub free_bytes: u32,
    /// Free chunks (`Counters::fragment_count`).
    pub free_chunks: u32,
    /// The largest free chunk, in bytes (see the type's docs).
    pub largest_free: u32,
    /// Heaps in use (`Counters::heap_count`).
    pub heaps: u32,
    /// Bytes in all heaps (`Counters::claimed_bytes`).
    pub claimed_bytes: u32,
    /// WebAssembly pages grown by [`WasmHandler`](crate::WasmHandler).
    pub pages_grown: u32,
    /// Successful growths by [`WasmHandler`](crate::WasmHandler).
    pub growth_steps: u32,
    /// Allocations (and reallocations) that failed: returned null.
    pub failed_allocations: u32,
    /// Live allocations (`Counters::allocation_count`).
    pub live_allocations: u32,
}

const STATS_SIZE: u32 = core::mem::size_of::<Stats>() as u32;
const _: () = assert!(STATS_SIZE == 56);

fn sat(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The block and the heap bounds the walk follows.
pub(crate) struct StatsState {
    pub(crate) block: Stats,
    /// `(base, acme)` of the heaps, as addresses; the first `len` are used.
    heaps: [(usize, usize); WALK_HEAPS],
    len: usize,
    /// The bytes of the free chunks of each size class ([`class_of`]): zero
    /// when the class has none, one chunk's size when under twice the
    /// class's smallest size (two chunks make at least that). Sums of
    /// disjoint chunks of the address space: they cannot overflow.
    class_bytes: [usize; CLASSES],
    /// Bit `c % 64` of word `c / 64` is set when class `c` has free chunks.
    classes: [u64; CLASS_WORDS],
}

impl StatsState {
    pub(crate) const fn new() -> Self {
        Self {
            block: Stats {
                version: STATS_VERSION,
                size: STATS_SIZE,
                changes: 0,
                live_bytes: 0,
                peak_live_bytes: 0,
                free_bytes: 0,
                free_chunks: 0,
                largest_free: 0,
                heaps: 0,
                claimed_bytes: 0,
                pages_grown: 0,
                growth_steps: 0,
                failed_allocations: 0,
                live_allocations: 0,
            },
            heaps: [(0, 0); WALK_HEAPS],
            len: 0,
            class_bytes: [0; CLASSES],
            classes: [0; CLASS_WORDS],
        }
    }

    /// Forgets the heaps and their free chunks (`init`).
    pub(crate) fn clear_heaps(&mut self) {
        self.len = 0;
        self.class_bytes = [0; CLASSES];
        self.classes = [0; CLASS_WORDS];
    }

    /// A free chunk of `size` bytes was filed in a bin (`delta` is `size`),
    /// or left its bin (`delta` is `size.wrapping_neg()`).
    // One copy for both: smaller wasm.
    #[inline(never)]
    pub(crate) fn free_changed(&mut self, size: usize, delta: usize) {
        let class = class_of(size);
        if let (Some(bytes), Some(bits)) =
            (self.class_bytes.get_mut(class), self.classes.get_mut(class / 64))
        {
            // No overflow (see `class_bytes`): a chunk that leaves was
            // counted when it came. Wrapping: no panic path.
            *bytes = bytes.wrapping_add(delta);
            let bit = 1 << (class % 64);
            *bits = if *bytes == 0 { *bits & !bit } else { *bits | bit };
        }
    }

    /// The bytes of the free chunks of class `class`, as kept.
    #[cfg(feature = "checks")]
    pub(crate) fn class_bytes(&self, class: usize) -> usize {
        self.class_bytes[class]
    }

    /// Whether class `class` is marked as holding free chunks.
    #[cfg(feature = "checks")]
    pub(crate) fn class_marked(&self, class: usize) -> bool {
        self.classes[class / 64] >> (class % 64) & 1 == 1
    }

    /// The highest class that holds free chunks, if any.
    fn top_class(&self) -> Option<usize> {
        let mut i = CLASS_WORDS;
        while i > 0 {
            i -= 1;
            let bits = self.classes.get(i).copied().unwrap_or(0);
            if bits != 0 {
                return Some(i * 64 + 63 - bits.leading_zeros() as usize);
            }
        }
        None
    }

    // No indexing that could panic below: a panic path would pull
    // formatting into the module (hundreds of bytes).

    pub(crate) fn heap_added(&mut self, heap: Span) {
        if let Some(slot) = self.heaps.get_mut(self.len) {
            *slot = (heap.base().addr(), heap.acme().addr());
            self.len += 1;
        }
    }

    pub(crate) fn top_moved(&mut self, old: *mut u8, new: *mut u8) {
        for h in self.heaps.iter_mut().take(self.len) {
            if h.1 == old.addr() {
                h.1 = new.addr();
            }
        }
    }

    pub(crate) fn heap_removed(&mut self, heap: Span) {
        let base = heap.base().addr();
        let len = self.len;
        if let Some(i) = self.heaps.iter().take(len).position(|h| h.0 == base) {
            // Swap in the last one; `i < len <= WALK_HEAPS`.
            self.heaps.swap(i, len - 1);
            self.len = len - 1;
        }
    }

    /// `pages` pages were grown in one step.
    pub(crate) fn grown(&mut self, pages: usize) {
        self.block.pages_grown = self.block.pages_grown.saturating_add(sat(pages));
        self.block.growth_steps = self.block.growth_steps.saturating_add(1);
    }
}

/// What a chunk is, as the walk sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkState {
    /// A free chunk, in a bin.
    Free = 0,
    /// An allocated chunk: a live block with its header (and any rounding).
    Allocated = 1,
    /// The allocator's own: a heap's sentinel (one word, or two when the heap ends a word past two words).
    Allocator = 2,
}

/// One chunk of a heap, from [`Talc::walk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// Where the chunk starts.
    pub addr: usize,
    /// Its size in bytes, tag included.
    pub size: usize,
    /// Free, allocated, or the allocator's.
    pub state: ChunkState,
}

impl<O: OomHandler> Talc<O> {
    /// The statistics block; its address stays put for as long as the
    /// `Talc` does (see [`Stats`] for the layout).
    pub fn get_stats(&self) -> &Stats {
        &self.stats.block
    }

    /// Brings the block up to date after a change.
    pub(crate) fn stats_changed(&mut self) {
        let largest = sat(self.largest_free());
        let c = &self.counters;
        let s = &mut self.stats.block;
        s.changes = s.changes.wrapping_add(1);
        s.live_bytes = sat(c.allocated_bytes);
        s.peak_live_bytes = s.peak_live_bytes.max(s.live_bytes);
        s.free_bytes = sat(c.available_bytes);
        s.free_chunks = sat(c.fragment_count);
        s.largest_free = largest;
        s.heaps = sat(c.heap_count);
        s.claimed_bytes = sat(c.claimed_bytes);
        s.live_allocations = sat(c.allocation_count);
    }

    /// Counts a failed allocation.
    pub(crate) fn stats_failed(&mut self) {
        let s = &mut self.stats.block;
        s.failed_allocations = s.failed_allocations.saturating_add(1);
        s.changes = s.changes.wrapping_add(1);
    }

    /// The largest free chunk's size, or a bound of it (see [`Stats`]).
    fn largest_free(&self) -> usize {
        let Some(class) = self.stats.top_class() else {
            return 0;
        };
        let bytes = self.stats.class_bytes.get(class).copied().unwrap_or(0);
        let base = class_base(class);
        // Each chunk of the class is at least `base`: one chunk alone when
        // the bytes are under twice that (`bytes >= base`, no overflow).
        if bytes - base < base {
            return bytes;
        }
        let largest_in = |bin: usize| {
            let mut best = 0;
            let mut at = self.heads()[bin];
            for _ in 0..LARGEST_LOOKS {
                if at.is_null() {
                    break;
                }
                // SAFETY: the lists are well formed, each a free chunk with
                // a valid header and links.
                unsafe {
                    best = best.max(chunk::size_of(get(at)));
                    at = link(at.add(NEXT));
                }
            }
            best
        };
        // The class's chunks are in the bin of their size, or in the top
        // bin (the last heap's free top): every chunk seen there is real, so the
        // result is never more than the truth.
        base.max(largest_in(class.min(LAST_SIZE_BIN))).max(largest_in(TOP_BIN))
    }

    /// Visits the chunks of every heap, bottom to top, heap by heap, at most
    /// `max` of them; returns how many were visited. Never allocates.
    ///
    /// At most [`WALK_HEAPS`] heaps are walked: a heap is noted when it is
    /// added if fewer than that are noted then, and its note goes when it is
    /// removed. A heap added while the notes are full is never walked, even
    /// after a noted one goes (a heap added later may take the free note).
    pub fn walk(&self, max: usize, mut visit: impl FnMut(Chunk)) -> usize {
        let mut n = 0;
        for &(base, acme) in self.stats.heaps.iter().take(self.stats.len) {
            let mut at = base;
            while at < acme {
                if n == max {
                    return n;
                }
                // SAFETY: a heap of this `Talc` is valid memory (`claim`'s
                // contract), tiled by chunks from its base to its acme: `at`
                // is the start of one, whose first word tells its kind.
                let word = unsafe { get(heap_ptr(at)) };
                // A block the front end holds is free (feature `fast`).
                #[cfg(feature = "fast")]
                let free = word & (FREE | crate::chunk::HELD) != 0;
                #[cfg(not(feature = "fast"))]
                let free = word & FREE != 0;
                let (size, state) = if free {
                    (chunk::size_of(word), ChunkState::Free)
                } else if at == sentinel_of(acme) {
                    // The sentinel (its header says size 0), with the word
                    // above it if the heap ends a word past a grain.
                    (acme - at, ChunkState::Allocator)
                } else {
                    (chunk::size_of(word), ChunkState::Allocated)
                };
                visit(Chunk { addr: at, size, state });
                n += 1;
                at += size;
            }
        }
        n
    }

    /// Writes the heap map into `buf`, two words per chunk (as many chunks
    /// as fit): the chunk's address with its [`ChunkState`] in the two low
    /// bits (addresses are word aligned), then its size. Returns how many
    /// chunks were written.
    pub fn write_map(&self, buf: &mut [usize]) -> usize {
        let max = buf.len() / 2;
        let mut pairs = buf.chunks_exact_mut(2);
        self.walk(max, |c| {
            if let Some(pair) = pairs.next() {
                pair[0] = c.addr | c.state as usize;
                pair[1] = c.size;
            }
        })
    }
}

/// Exports the statistics block and the heap map of a
/// `TalckWasm` global allocator (on wasm32) to JavaScript, as three
/// functions of the wasm module (feature `stats`):
///
/// * `talcum_stats() -> *const Stats`: the block's address (fixed);
/// * `talcum_heap_map() -> usize`: walks the heaps into a static buffer of
///   `$chunks` chunks (outside the heaps, so the map is not disturbed) and
///   returns how many chunks it wrote (as many as fit: a full buffer may
///   mean the map was cut short);
/// * `talcum_heap_map_buffer() -> *const usize`: that buffer's address (two
///   `u32`s per chunk, see [`Talc::write_map`]).
///
/// ```ignore
/// #[global_allocator]
/// static ALLOC: talcum::TalckWasm = unsafe { talcum::TalckWasm::new_global() };
/// talcum::export_stats!(ALLOC, 4096);
/// ```
#[macro_export]
macro_rules! export_stats {
    ($alloc:path, $chunks:expr) => {
        /// The address of talcum's statistics block.
        #[unsafe(no_mangle)]
        pub extern "C" fn talcum_stats() -> *const $crate::Stats {
            // SAFETY: called from JavaScript between allocations: nothing
            // else uses the allocator now (single-threaded wasm).
            unsafe { $alloc.talc() }.get_stats()
        }

        static mut TALCUM_HEAP_MAP: [usize; 2 * $chunks] = [0; 2 * $chunks];

        /// Writes the heap map to `talcum_heap_map_buffer()`; returns the
        /// number of chunks written.
        #[unsafe(no_mangle)]
        pub extern "C" fn talcum_heap_map() -> usize {
            // SAFETY: as above; the buffer is used by this function only,
            // and wasm without atomics has one thread.
            unsafe { $alloc.talc().write_map(&mut *(&raw mut TALCUM_HEAP_MAP)) }
        }

        /// The address of the heap map's buffer.
        #[unsafe(no_mangle)]
        pub extern "C" fn talcum_heap_map_buffer() -> *const usize {
            (&raw const TALCUM_HEAP_MAP).cast()
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bins::bin_of;
    use crate::chunk::WORD;

    /// Sizes (bytes) from two grains up: every one to `2^16` grains, then
    /// a few about every power of two up to the largest.
    fn sizes() -> impl Iterator<Item = usize> {
        let small = (2..1 << 16).map(|g| g * GRAIN);
        let big = (17..usize::BITS).flat_map(|b| {
            let p = 1usize << b;
            [p - GRAIN, p, p + GRAIN, p + p / 4 - GRAIN, p + p / 4]
        });
        small.chain(big).chain([usize::MAX & !(GRAIN - 1)])
    }

    #[test]
    #[cfg_attr(miri, ignore = "slow under Miri; pure arithmetic")]
    fn classes_continue_the_bins() {
        for size in sizes() {
            let class = class_of(size);
            assert_eq!(class.min(LAST_SIZE_BIN), bin_of(size), "{size}");
            assert!(class < CLASSES);
            // In its class: from its smallest size up to the next class's.
            assert!(class_base(class) <= size, "{size}");
            if class + 1 < CLASSES {
                assert!(size < class_base(class + 1), "{size}");
            }
        }
    }

    #[test]
    fn class_bounds() {
        assert_eq!(CLASSES, if WORD == 8 { 234 } else { 110 });
        let bytes = core::mem::size_of::<[usize; CLASSES]>() + 8 * CLASS_WORDS;
        assert_eq!(bytes, if WORD == 8 { 1904 } else { 456 }, "as the docs of `Stats` say");
        assert_eq!(class_base(0), 2 * GRAIN);
        assert_eq!(class_base(LAST_SIZE_BIN), (4 << 15) * GRAIN);
        for class in 0..CLASSES {
            let base = class_base(class);
            assert_eq!(class_of(base), class);
            // The sizes of a class are within a quarter of its smallest:
            // so the largest free chunk is at most five fourths of its
            // class's smallest size.
            if class + 1 < CLASSES {
                let last = class_base(class + 1) - GRAIN;
                assert!(last >= base && (last - base) * 4 <= base, "{class}");
                assert_eq!(class_of(last), class);
            }
        }
        // The last class reaches the largest size.
        assert_eq!(class_of(usize::MAX & !(GRAIN - 1)), CLASSES - 1);
    }
}
