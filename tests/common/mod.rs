//! Shared test helpers: a seeded PRNG, arenas, and a model of live blocks.
#![allow(dead_code)]

use std::alloc::Layout;
use std::collections::BTreeMap;
use std::ptr::NonNull;

use talcum::{OomHandler, Span, Talc};

pub mod sim;

/// xorshift64*: small, seeded, reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
    /// Roughly log-uniform in `1..=max`.
    pub fn size(&mut self, max: usize) -> usize {
        let bits = self.range(0, max.ilog2() as usize);
        self.range(1 << bits >> 1, (1 << bits).min(max)).max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// A zeroed, word-aligned buffer that outlives the allocator using it.
pub struct Arena(Vec<u64>);

impl Arena {
    pub fn new(bytes: usize) -> Self {
        Self(vec![0u64; bytes.div_ceil(8)])
    }
    /// The first `bytes` of the arena through a reference to just them: a
    /// span whose provenance does not cover the rest (so that Miri catches a
    /// write beyond it through this span's pointers).
    pub fn narrow_span(&mut self, bytes: usize) -> Span {
        let words: &mut [u64] = &mut self.0[..bytes / 8];
        Span::from_slice_ptr(std::ptr::slice_from_raw_parts_mut(words.as_mut_ptr().cast(), bytes))
    }

    pub fn span(&mut self) -> Span {
        Span::from_slice_ptr(std::ptr::slice_from_raw_parts_mut(
            self.0.as_mut_ptr().cast::<u8>(),
            self.0.len() * 8,
        ))
    }
}

/// The pattern byte at offset `i` of block `id`.
pub fn pattern(id: u64, i: usize) -> u8 {
    (id.wrapping_mul(31).wrapping_add(i as u64 * 7) >> 1) as u8 ^ (i >> 8) as u8
}

pub struct Block {
    pub ptr: NonNull<u8>,
    pub layout: Layout,
    pub id: u64,
}

/// The live blocks, keyed by address, with overlap and content checks.
#[derive(Default)]
pub struct Model {
    pub blocks: BTreeMap<usize, Block>,
    pub bytes: usize,
    next_id: u64,
    /// When set, only this many bytes at each end of a block are patterned
    /// and checked (for Miri, where every byte costs).
    pub probe: Option<usize>,
}

impl Model {
    /// Records a new block, fills it with its pattern, and checks that it is
    /// aligned and overlaps no live block.
    pub fn insert(&mut self, ptr: NonNull<u8>, layout: Layout) {
        let id = self.next_id;
        self.next_id += 1;
        self.insert_with_id(ptr, layout, id, 0);
    }

    /// As `insert`, keeping `id` and writing the pattern from `from` on.
    pub fn insert_with_id(&mut self, ptr: NonNull<u8>, layout: Layout, id: u64, from: usize) {
        let addr = ptr.as_ptr() as usize;
        assert_eq!(addr % layout.align(), 0, "misaligned block {addr:#x} for {layout:?}");
        let end = addr + layout.size();
        if let Some((&a, b)) = self.blocks.range(..=addr).next_back() {
            assert!(a + b.layout.size().max(1) <= addr, "block {addr:#x} overlaps {a:#x}");
        }
        if let Some((&a, _)) = self.blocks.range(addr + 1..).next() {
            assert!(end.max(addr + 1) <= a, "block {addr:#x}..{end:#x} overlaps {a:#x}");
        }
        // SAFETY: the block is live and `layout.size()` bytes long.
        unsafe {
            for i in from..layout.size() {
                if self.probed(i, layout.size()) {
                    *ptr.as_ptr().add(i) = pattern(id, i);
                }
            }
        }
        self.bytes += layout.size();
        assert!(
            self.blocks.insert(addr, Block { ptr, layout, id }).is_none(),
            "address handed out twice"
        );
    }

    /// Removes the block at `addr`, checking its first `check` bytes.
    pub fn remove(&mut self, addr: usize) -> Block {
        let b = self.blocks.remove(&addr).expect("no such block");
        self.bytes -= b.layout.size();
        match self.probe {
            None => verify(&b, b.layout.size()),
            Some(n) => {
                let len = b.layout.size();
                // SAFETY: the block is live and `len` bytes long.
                let bytes = unsafe { std::slice::from_raw_parts(b.ptr.as_ptr(), len) };
                for i in (0..len.min(n)).chain(len.saturating_sub(n).max(n)..len) {
                    assert_eq!(bytes[i], pattern(b.id, i), "block {} corrupted at byte {i}", b.id);
                }
            }
        }
        b
    }

    /// The address of a random live block.
    pub fn pick(&self, rng: &mut Rng) -> Option<usize> {
        if self.blocks.is_empty() {
            return None;
        }
        let n = rng.range(0, self.blocks.len() - 1);
        self.blocks.keys().nth(n).copied()
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// A model that patterns only `n` bytes at each end of every block.
    pub fn probing(n: usize) -> Self {
        Self { probe: Some(n), ..Self::default() }
    }

    fn probed(&self, i: usize, len: usize) -> bool {
        self.probe.is_none_or(|n| i < n || i >= len.saturating_sub(n))
    }

    /// The addresses of the live blocks.
    pub fn addrs(&self) -> Vec<usize> {
        self.blocks.keys().copied().collect()
    }
}

/// Checks the first `len` bytes of a block against its pattern.
pub fn verify(b: &Block, len: usize) {
    // SAFETY: the block is live and at least `len` bytes long.
    let bytes = unsafe { std::slice::from_raw_parts(b.ptr.as_ptr(), len) };
    for (i, &byte) in bytes.iter().enumerate() {
        assert_eq!(byte, pattern(b.id, i), "block {} corrupted at byte {i} of {}", b.id, len);
    }
}

/// Frees every live block of the model.
pub fn free_all<O: OomHandler>(talc: &mut Talc<O>, model: &mut Model) {
    while let Some((&addr, _)) = model.blocks.iter().next() {
        let b = model.remove(addr);
        // SAFETY: the block is live, with this layout.
        unsafe { talc.free(b.ptr, b.layout) };
    }
}

/// Whether tests run under Miri (fewer iterations there).
pub const MIRI: bool = cfg!(miri);

/// Whether some free chunk of `talc` can hold `layout`: the block's chunk
/// (its size and a one-word header, rounded up to two words, at least four
/// words) at the chunk's first place where the block lands aligned with
/// nothing below it or a free chunk's worth (four words): `malloc` with
/// `ErrOnOom` succeeds only then. (It must succeed when one *surely* fits:
/// [`surely_fits`].)
#[cfg(feature = "checks")]
pub fn fits<O: OomHandler>(talc: &Talc<O>, layout: Layout) -> bool {
    const WORD: usize = core::mem::size_of::<usize>();
    let Some(need) =
        layout.size().checked_add(WORD).and_then(|n| n.checked_next_multiple_of(2 * WORD))
    else {
        return false;
    };
    let need = need.max(4 * WORD);
    let mut found = false;
    let mut fits_in = |base: usize, acme: usize| {
        let mut below = (base + WORD).wrapping_neg() & (layout.align() - 1);
        if below == 2 * WORD {
            below += layout.align();
        }
        found |= below.checked_add(need).is_some_and(|n| n <= acme - base);
    };
    // Free chunks that touch are one when merged: with feature `fast`, the
    // blocks the front end holds (free here) merge before memory grows.
    let mut run: Option<(usize, usize)> = None;
    talc.for_each_free_chunk(|chunk| {
        let (base, acme) = (chunk.base().addr(), chunk.acme().addr());
        run = match run {
            Some((b, a)) if a == base => Some((b, acme)),
            Some((b, a)) => {
                fits_in(b, a);
                Some((base, acme))
            }
            None => Some((base, acme)),
        };
    });
    if let Some((b, a)) = run {
        fits_in(b, a);
    }
    found
}

/// Whether a free chunk of `talc` surely fits `layout`, as `malloc` promises
/// (`Talc::surely_fits`): then `malloc` must succeed without asking the OOM
/// handler.
#[cfg(feature = "checks")]
pub fn surely_fits<O: OomHandler>(talc: &Talc<O>, layout: Layout) -> bool {
    talc.surely_fits(layout)
}
