//! `wasm32-wasip1`: a std program whose global allocator is
//! `talcum::TalckWasm`, run under Node's WASI (preview 1) by `run.mjs`.
//!
//! wasi-libc keeps its own `malloc` (dlmalloc, growing memory through
//! `sbrk`) for libc's own needs: the environment, the preopened directories,
//! and whatever calls `malloc` directly. So two allocators grow the same
//! memory, and each finds pages grown by the other between two of its own
//! growths. This program makes libc allocate in every way it can (a large
//! environment, file paths resolved through the preopens, direct `malloc`,
//! `calloc`, `realloc`, `free`) interleaved with Rust allocations, and checks
//! every block of both: a pattern unique to the block, written after
//! allocation and checked before every free and realloc; no two blocks
//! overlap; zeroed memory is zero (also when reused); the common prefix
//! survives a realloc. It also allocates big blocks (up to 48 MiB) and uses
//! std's collections. It prints `wasip1: all checks passed` and exits with 0,
//! or names the failed check and exits with 1 (a panic traps: `run.mjs`
//! reports the trap).

use std::alloc::{alloc, alloc_zeroed, dealloc, realloc, Layout};
use std::collections::{BTreeMap, HashMap};

#[cfg(not(feature = "broken-growth"))]
#[global_allocator]
static ALLOC: talcum::TalckWasm = unsafe { talcum::TalckWasm::new_global() };

/// Only to see this test fail (`--features broken-growth`): talcum over a
/// memory that hands out the pages from the end of its last growth, so the
/// pages libc grew in between are taken as talcum's (the bug class "memory
/// grown by someone else merged or overwritten").
#[cfg(feature = "broken-growth")]
#[global_allocator]
static ALLOC: talcum::TalckSingleThreaded<talcum::WasmHandler<broken::Memory>> = unsafe {
    talcum::TalckSingleThreaded::new(talcum::Talc::new(talcum::WasmHandler::with_memory(
        broken::Memory(0),
    )))
};

#[cfg(feature = "broken-growth")]
mod broken {
    use talcum::{LinearMemory, Span};

    /// Pretends that memory ends where its own last growth ended.
    pub struct Memory(pub usize);

    unsafe impl LinearMemory for Memory {
        fn end(&self) -> usize {
            if self.0 != 0 {
                self.0
            } else {
                super::memory_bytes()
            }
        }

        fn grow(&mut self, pages: usize) -> Option<Span> {
            let old = core::arch::wasm32::memory_grow(0, pages);
            if old == usize::MAX {
                return None;
            }
            let base = if self.0 != 0 { self.0 } else { old * super::PAGE };
            self.0 = (old + pages) * super::PAGE;
            let base = core::ptr::with_exposed_provenance_mut::<u8>(base);
            Some(Span::new(base, base.with_addr(self.0)))
        }
    }
}

/// wasi-libc's allocator: not Rust's global allocator, a second one.
mod libc {
    extern "C" {
        pub fn malloc(size: usize) -> *mut u8;
        pub fn calloc(count: usize, size: usize) -> *mut u8;
        pub fn realloc(ptr: *mut u8, size: usize) -> *mut u8;
        pub fn free(ptr: *mut u8);
    }
}

/// Stops the program with a message and exit code 1 unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            eprintln!("wasip1: FAILED: {}", format_args!($($msg)+));
            std::process::exit(1);
        }
    };
}

const PAGE: usize = 65536;

/// The memory's size in bytes.
fn memory_bytes() -> usize {
    core::arch::wasm32::memory_size(0) * PAGE
}

/// talcum's counters (no allocation runs while we read them).
fn counters() -> talcum::Counters {
    // SAFETY: single-threaded, and no allocation is in progress.
    *unsafe { ALLOC.talc() }.get_counters()
}

/// The byte at offset `i` of the block with key `key`.
#[inline]
fn pattern(key: u32, i: usize) -> u8 {
    ((key ^ (i as u32)).wrapping_mul(0x9E37_79B1) >> 24) as u8
}

/// xorshift32.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        self.next() as usize % n
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Owner {
    /// Rust's global allocator: talcum.
    Talcum,
    /// wasi-libc's `malloc`.
    Libc,
}

/// A live block, patterned with its key.
struct Block {
    ptr: *mut u8,
    size: usize,
    align: usize,
    key: u32,
    owner: Owner,
}

/// libc's `malloc` alignment on wasm32.
const LIBC_ALIGN: usize = 16;

impl Block {
    /// Allocates `size` bytes from `owner` (zeroed or not), checks the
    /// address (and the zeroes), and writes the pattern.
    fn new(owner: Owner, size: usize, align: usize, zeroed: bool, key: u32) -> Block {
        let (ptr, align) = match owner {
            Owner::Talcum => {
                let layout = Layout::from_size_align(size, align).unwrap();
                (
                    unsafe {
                        if zeroed {
                            alloc_zeroed(layout)
                        } else {
                            alloc(layout)
                        }
                    },
                    align,
                )
            }
            Owner::Libc => (
                unsafe {
                    if zeroed {
                        libc::calloc(1, size)
                    } else {
                        libc::malloc(size)
                    }
                },
                LIBC_ALIGN,
            ),
        };
        ensure!(!ptr.is_null(), "{owner:?}: {size} bytes (align {align}) returned null");
        ensure!(
            (ptr as usize).is_multiple_of(align),
            "{owner:?}: {ptr:?} is not aligned to {align}"
        );
        if zeroed {
            let bytes = unsafe { std::slice::from_raw_parts(ptr, size) };
            if let Some(i) = bytes.iter().position(|&b| b != 0) {
                ensure!(
                    false,
                    "{owner:?}: zeroed block {ptr:?} of {size} bytes has {:#x} at {i}",
                    bytes[i]
                );
            }
        }
        let b = Block { ptr, size, align, key, owner };
        b.fill(0);
        b
    }

    fn fill(&self, from: usize) {
        let bytes = unsafe { std::slice::from_raw_parts_mut(self.ptr, self.size) };
        for (i, b) in bytes.iter_mut().enumerate().skip(from) {
            *b = pattern(self.key, i);
        }
    }

    /// Checks that the first `len` bytes hold the pattern.
    fn check_prefix(&self, len: usize, what: &str) {
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, len) };
        if let Some(i) = bytes.iter().enumerate().position(|(i, &b)| b != pattern(self.key, i)) {
            ensure!(
                false,
                "{what}: {:?} block {:?} ({} bytes, key {}) byte {i} is {:#x}, not {:#x}",
                self.owner,
                self.ptr,
                self.size,
                self.key,
                bytes[i],
                pattern(self.key, i)
            );
        }
    }

    fn check(&self, what: &str) {
        self.check_prefix(self.size, what);
    }

    /// Resizes in place or by moving; the common prefix must survive.
    fn resize(&mut self, size: usize) {
        self.check("before realloc");
        let ptr = match self.owner {
            Owner::Talcum => unsafe {
                realloc(self.ptr, Layout::from_size_align(self.size, self.align).unwrap(), size)
            },
            Owner::Libc => unsafe { libc::realloc(self.ptr, size) },
        };
        ensure!(!ptr.is_null(), "{:?}: realloc {} -> {size} returned null", self.owner, self.size);
        ensure!(
            (ptr as usize).is_multiple_of(self.align),
            "{:?}: realloc moved to unaligned {ptr:?}",
            self.owner
        );
        let kept = self.size.min(size);
        self.ptr = ptr;
        self.check_prefix(kept, "after realloc");
        self.size = size;
        self.fill(kept);
    }

    fn free(self) {
        self.check("before free");
        match self.owner {
            Owner::Talcum => unsafe {
                dealloc(self.ptr, Layout::from_size_align(self.size, self.align).unwrap())
            },
            Owner::Libc => unsafe { libc::free(self.ptr) },
        }
    }
}

/// Checks every block, and that no two overlap.
fn check_all(blocks: &[&Block], what: &str) {
    for b in blocks {
        b.check(what);
    }
    let mut spans: Vec<(usize, usize, Owner)> =
        blocks.iter().map(|b| (b.ptr as usize, b.ptr as usize + b.size, b.owner)).collect();
    spans.sort_unstable();
    for w in spans.windows(2) {
        ensure!(
            w[0].1 <= w[1].0,
            "{what}: {:?} block {:x?} overlaps {:?} block {:x?}",
            w[0].2,
            w[0],
            w[1].2,
            w[1]
        );
    }
}

/// On WASI the initial memory's free part, `[__heap_base, __heap_end)`,
/// belongs to libc's `malloc`: talcum's first heap must lie above it, in
/// pages it grew.
fn check_initial_memory() {
    extern "C" {
        static __heap_base: u8;
        static __heap_end: u8;
    }
    let (base, end) = ((&raw const __heap_base).addr(), (&raw const __heap_end).addr());
    // An allocation first, so that talcum has a heap.
    let probe = std::hint::black_box(Box::new(0u64));
    ensure!((&raw const *probe).addr() >= end, "a Box at {probe:p} lies in libc's initial memory");
    let arena = unsafe { ALLOC.talc() }.get_arena();
    let (arena_base, _) =
        arena.get_base_acme().unwrap_or((core::ptr::null_mut(), core::ptr::null_mut()));
    ensure!(
        arena_base.addr() >= end,
        "talcum's first heap {arena:?} starts below the end of libc's initial memory [{base:#x}, {end:#x})"
    );
}

/// Arguments: the runner passes `arg-<i>-<i*7 % 300 x's>` for i in 0..64.
fn check_args() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    ensure!(args.len() == 64, "{} arguments, expected 64", args.len());
    for (i, a) in args.iter().enumerate() {
        ensure!(*a == format!("arg-{i}-{}", "x".repeat(i * 7 % 300)), "argument {i} is {a:?}");
    }
}

/// The environment, which wasi-libc copies into `malloc`ed memory (about
/// 300 KB: libc must grow memory for it): the runner sets
/// `TALCUM_E<i>` to `<i>:` and `1000 + i` letters, for i in 0..256.
fn check_env() -> usize {
    let mut n = 0;
    for i in 0..256 {
        let v = std::env::var(format!("TALCUM_E{i}"));
        let want: String = format!("{i}:")
            + &(0..1000 + i).map(|j| (b'a' + ((i + j) % 26) as u8) as char).collect::<String>();
        ensure!(
            v.as_deref() == Ok(want.as_str()),
            "environment variable TALCUM_E{i} is wrong: {:?}",
            v.map(|v| v.len())
        );
        n += want.len();
    }
    ensure!(std::env::vars().count() >= 256, "std::env::vars() lists {}", std::env::vars().count());
    n
}

/// Files through the preopened `/sandbox` (libc resolves the path): reads
/// `input.bin` (3 MiB of `(i * 31 + i / 4096) as u8`), writes `output.bin`
/// (the same bytes, each xor 0x5a), which the runner checks.
fn check_files() {
    let data = std::fs::read("/sandbox/input.bin");
    ensure!(data.is_ok(), "reading /sandbox/input.bin: {:?}", data.err());
    let data = data.unwrap();
    ensure!(data.len() == 3 << 20, "input.bin has {} bytes", data.len());
    if let Some(i) = data.iter().enumerate().position(|(i, &b)| b != (i * 31 + i / 4096) as u8) {
        ensure!(false, "input.bin byte {i} is {:#x}", data[i]);
    }
    let out: Vec<u8> = data.iter().map(|b| b ^ 0x5a).collect();
    let written = std::fs::write("/sandbox/output.bin", &out);
    ensure!(written.is_ok(), "writing /sandbox/output.bin: {:?}", written.err());
}

/// Talcum and libc grow memory in turn: each finds the other's pages on top
/// of its last growth. Blocks of both stay live and are checked after every
/// step; then half of each are freed in mixed order and the rest grown by
/// realloc.
fn interleaved_growth(rng: &mut Rng, key: &mut u32) {
    let mut blocks: Vec<Block> = Vec::new();
    let heaps_before = counters().heap_count;
    for round in 0..16 {
        *key += 1;
        let size = (256 << 10) + rng.below(2 << 20);
        let align = [8, 64, 4096, PAGE][rng.below(4)];
        blocks.push(Block::new(Owner::Talcum, size, align, round % 3 == 0, *key));
        *key += 1;
        let size = (128 << 10) + rng.below(1 << 20);
        blocks.push(Block::new(Owner::Libc, size, LIBC_ALIGN, round % 3 == 1, *key));
        // Small ones of both too, which fill what the big ones left.
        for _ in 0..8 {
            *key += 1;
            let owner = if rng.below(2) == 0 { Owner::Talcum } else { Owner::Libc };
            blocks.push(Block::new(owner, 1 + rng.below(3000), 8, false, *key));
        }
        check_all(&blocks.iter().collect::<Vec<_>>(), "interleaved growth");
    }
    let heaps = counters().heap_count;
    ensure!(heaps >= heaps_before + 2, "talcum has {heaps} heaps after interleaved growth (before: {heaps_before}): it never found libc's pages on top of its own");
    // Free every other block, in mixed order.
    let mut kept = Vec::new();
    for (i, b) in blocks.into_iter().enumerate() {
        if i % 2 == 0 {
            b.free();
        } else {
            kept.push(b);
        }
    }
    check_all(&kept.iter().collect::<Vec<_>>(), "after frees");
    // Grow the rest: into freed neighbours, or by moving (and growing memory).
    for b in kept.iter_mut() {
        let size = b.size * 2 + rng.below(100_000);
        b.resize(size);
        check_all(&[&*b], "grown");
    }
    check_all(&kept.iter().collect::<Vec<_>>(), "after grow");
    for b in kept.iter_mut().step_by(3) {
        let size = 1 + b.size / 5;
        b.resize(size);
    }
    check_all(&kept.iter().collect::<Vec<_>>(), "after shrink");
    for b in kept {
        b.free();
    }
}

/// Random operations on both allocators: mostly talcum, some libc; sizes
/// mostly small, some up to 256 KiB; alignments up to 64 KiB; a quarter
/// zeroed; frees, reallocs; every block checked when touched and at the end.
fn random_ops(rng: &mut Rng, key: &mut u32, ops: usize) {
    let mut slots: Vec<Option<Block>> = (0..512).map(|_| None).collect();
    for op in 0..ops {
        let i = rng.below(slots.len());
        match slots[i].take() {
            None => {
                let owner = if rng.below(100) < 15 { Owner::Libc } else { Owner::Talcum };
                let size = match rng.below(1000) {
                    0..=699 => 1 + rng.below(128),
                    700..=969 => 129 + rng.below(8192),
                    _ => 8193 + rng.below(256 << 10),
                };
                let align = match rng.below(100) {
                    0..=79 => 1 << rng.below(4),
                    80..=97 => 16 << rng.below(9),
                    _ => PAGE,
                };
                *key += 1;
                slots[i] = Some(Block::new(owner, size, align, rng.below(4) == 0, *key));
            }
            Some(mut b) => match rng.below(10) {
                0..=5 => b.free(),
                _ => {
                    let size = match rng.below(3) {
                        0 => 1 + rng.below(b.size),
                        1 => b.size + 1 + rng.below(512),
                        _ => 1 + rng.below(64 << 10),
                    };
                    b.resize(size);
                    slots[i] = Some(b);
                }
            },
        }
        if op % 2000 == 0 {
            check_all(&slots.iter().flatten().collect::<Vec<_>>(), "random operations");
        }
    }
    check_all(&slots.iter().flatten().collect::<Vec<_>>(), "random operations, end");
    for b in slots.into_iter().flatten() {
        b.free();
    }
}

/// Big blocks: across bit 24 of the size, aligned to 1 MiB, zeroed fresh and
/// zeroed reused, grown by realloc to 48 MiB and shrunk, with libc growing
/// memory in between.
fn big_blocks(key: &mut u32) {
    const MIB: usize = 1 << 20;
    let mut next = || {
        *key += 1;
        *key
    };
    let a = Block::new(Owner::Talcum, 8 * MIB, 8, false, next());
    let l1 = Block::new(Owner::Libc, 4 * MIB, LIBC_ALIGN, false, next());
    let mut b = Block::new(Owner::Talcum, 16 * MIB + 1, 16, false, next());
    let c = Block::new(Owner::Talcum, 32 * MIB, MIB, false, next());
    let z = Block::new(Owner::Talcum, 24 * MIB, 8, true, next());
    check_all(&[&a, &l1, &b, &c, &z], "big blocks");
    b.resize(48 * MIB);
    let l2 = Block::new(Owner::Libc, 6 * MIB, LIBC_ALIGN, true, next());
    check_all(&[&a, &l1, &b, &c, &z, &l2], "big blocks, grown");
    b.resize(3 * MIB);
    check_all(&[&a, &l1, &b, &c, &z, &l2], "big blocks, shrunk");
    let memory = memory_bytes();
    a.free();
    c.free();
    z.free();
    // Reused memory, written before: alloc_zeroed must clear it.
    let z2 = Block::new(Owner::Talcum, 40 * MIB, 8, true, next());
    let z3 = Block::new(Owner::Talcum, 20 * MIB, MIB, true, next());
    check_all(&[&l1, &b, &z2, &z3, &l2], "big blocks, zeroed after reuse");
    ensure!(
        memory_bytes() <= memory + 2 * MIB,
        "reusing 60 MiB of freed blocks grew memory from {memory} to {} bytes",
        memory_bytes()
    );
    for x in [l1, b, z2, z3, l2] {
        x.free();
    }
}

/// std's collections, on top of talcum: `n` elements each (with `checks`,
/// every allocation walks every live block, so fewer there).
fn collections(n: u64) {
    let v: Vec<u64> = (0..n * 20).collect();
    ensure!(v.iter().sum::<u64>() == n * 20 * (n * 20 - 1) / 2, "Vec sum");
    let mut s = String::new();
    let mut len = 0;
    for i in 0..n {
        s.push_str(&i.to_string());
        len += 1 + i.checked_ilog10().unwrap_or(0) as usize;
    }
    ensure!(s.len() == len, "String length {}, expected {len}", s.len());
    let m: HashMap<u64, String> = (0..n).map(|i| (i, format!("v{i}"))).collect();
    ensure!((0..n).all(|i| m[&i] == format!("v{i}")), "HashMap contents");
    let mut t = BTreeMap::new();
    for i in (0..n * 2).rev() {
        t.insert(i.wrapping_mul(2_654_435_761), i);
    }
    ensure!(
        t.len() as u64 == n * 2 && t.values().sum::<u64>() == n * 2 * (n * 2 - 1) / 2,
        "BTreeMap contents"
    );
}

/// Runs one phase and prints its time (unless `TALCUM_SKIP` names it).
fn phase(name: &str, f: impl FnOnce()) {
    if std::env::var("TALCUM_SKIP")
        .is_ok_and(|skip| skip.split(',').any(|s| !s.is_empty() && name.contains(s)))
    {
        println!("wasip1: {name}: skipped");
        return;
    }
    let t = std::time::Instant::now();
    f();
    println!(
        "wasip1: {name}: ok ({} ms, memory {:.1} MiB, {} talcum heaps)",
        t.elapsed().as_millis(),
        memory_bytes() as f64 / (1 << 20) as f64,
        counters().heap_count
    );
}

fn main() {
    let ops: usize =
        std::env::var("TALCUM_OPS").ok().and_then(|s| s.parse().ok()).unwrap_or(30_000);
    let seed: u32 = std::env::var("TALCUM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut rng = Rng(seed.wrapping_mul(0x2545_F491) | 1);
    let mut key = 0;
    let start_memory = memory_bytes();

    let mut env_bytes = 0;
    phase("arguments, environment (copied by libc), files (paths through libc's preopens)", || {
        check_initial_memory();
        check_args();
        // A Rust allocation before libc's environment copy, so libc's growth
        // (if it copies lazily) lands on top of talcum's.
        let early = Block::new(Owner::Talcum, 200_000, 8, false, 0);
        env_bytes = check_env();
        check_files();
        early.free();
    });
    let live = counters().allocation_count;

    phase("talcum and libc growing memory in turn", || interleaved_growth(&mut rng, &mut key));
    phase(&format!("{ops} random operations on talcum and libc"), || {
        random_ops(&mut rng, &mut key, ops)
    });
    phase("big blocks", || big_blocks(&mut key));
    phase("std collections", || collections(if cfg!(feature = "checks") { 2_000 } else { 50_000 }));

    let c = counters();
    ensure!(
        c.allocation_count == live,
        "{} live allocations at the end, {live} before the tests",
        c.allocation_count
    );
    println!(
        "wasip1: memory {:.1} -> {:.1} MiB; talcum: {} heaps, {} allocations in all; {} B of environment and 3 MiB of files through libc; {ops} random operations (seed {seed})",
        start_memory as f64 / (1 << 20) as f64,
        memory_bytes() as f64 / (1 << 20) as f64,
        c.heap_count,
        c.total_allocation_count,
        env_bytes,
    );
    println!("wasip1: all checks passed");
}
