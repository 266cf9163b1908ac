//! The benchmark workloads, shared by the app module and the bench module.
//!
//! Each returns `Ok(count)` or `Err(code)`: [`E_CONTENT`] when a block's
//! contents changed while it was live (or a copy lost bytes), [`E_NULL`] when
//! the allocator failed a request that fits easily in 4 GiB, [`E_ALIGN`] when
//! a pointer lacks the requested alignment, [`E_ZERO`] when a block from
//! `alloc_zeroed` did not read zero.
//!
//! With `full`, every byte of every block is written and verified; without,
//! only a block's first byte is (a light touch: the allocator has just
//! written that cache line, so the timed runs measure the allocator rather
//! than memory traffic). Both modes make the same allocator calls. The
//! report runs each workload once with `full` for every allocator before
//! timing it.

// The app module uses only `app`.
#![cfg_attr(not(feature = "mod-bench"), allow(dead_code))]

use std::alloc::{alloc, dealloc, realloc, Layout};
use std::collections::{BTreeMap, VecDeque};
use std::ptr::{self, NonNull};

/// A block's contents changed while it was live.
pub const E_CONTENT: i32 = -1;
/// The allocator returned null.
pub const E_NULL: i32 = -2;
/// A pointer lacks its requested alignment.
pub const E_ALIGN: i32 = -3;
/// An impossible layout was requested (a bug in the workload itself).
pub const E_LAYOUT: i32 = -4;
/// A block from `alloc_zeroed` did not read zero.
pub const E_ZERO: i32 = -5;

/// SplitMix64: small, fast and good enough to drive workloads.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u32) -> Self {
        Rng(u64::from(seed) ^ 0x853c_49e6_748f_ea9b)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u32) -> u32 {
        (((self.next() >> 32) * u64::from(n)) >> 32) as u32
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below((hi - lo + 1) as u32) as usize
    }

    /// A fill byte: never zero, so fresh zeroed memory cannot pass a check.
    pub fn tag(&mut self) -> u8 {
        (self.next() as u8) | 1
    }

    /// Mostly word alignment: 1/8 byte (strings), 5/8 word (4 on wasm32),
    /// 3/16 eight bytes, 1/32 sixteen, 1/32 sixty-four.
    pub fn align(&mut self) -> usize {
        match self.below(32) {
            0..=3 => 1,
            4..=23 => 4,
            24..=29 => 8,
            30 => 16,
            _ => 64,
        }
    }
}

/// One live block of a workload.
#[derive(Clone, Copy)]
pub struct Block {
    pub ptr: *mut u8,
    pub size: usize,
    pub align: usize,
    pub tag: u8,
}

pub const EMPTY: Block = Block { ptr: ptr::null_mut(), size: 0, align: 1, tag: 0 };

/// The largest slot table of any churn workload.
const MAX_SLOTS: usize = 4096;

/// A random-actions workload: a table of slots, each step picks one; an
/// empty slot gets a new block, a full one is freed (or, with `realloc`,
/// resized half of the time).
pub struct Churn {
    pub slots: usize,
    pub min: usize,
    pub max: usize,
    pub realloc: bool,
}

/// Sizes 1..=10000, alloc and free.
pub const RANDOM: Churn = Churn { slots: 1024, min: 1, max: 10_000, realloc: false };
/// Sizes 1..=10000, alloc, free and realloc.
pub const REALLOC: Churn = Churn { slots: 1024, min: 1, max: 10_000, realloc: true };
/// Small objects, 8..=256 bytes.
pub const SMALL: Churn = Churn { slots: 4096, min: 8, max: 256, realloc: false };

/// The probes of a vector of `len` elements checked without `full`.
fn probe_offsets(len: usize) -> [usize; 3] {
    [0, len / 2, len - 1]
}

/// Writes `tag` over the block (`full`) or over its first byte.
///
/// # Safety
/// `p` is valid for `len >= 1` bytes of writes.
pub unsafe fn fill(p: *mut u8, len: usize, tag: u8, full: bool) {
    // SAFETY: in bounds per the contract.
    unsafe {
        if full {
            ptr::write_bytes(p, tag, len);
        } else {
            *p = tag;
        }
    }
}

/// Whether the first `keep` bytes of a block filled with `tag` over
/// `written` bytes still hold it (all of them with `full`, else the first).
///
/// # Safety
/// `p` is valid for `keep` bytes of reads; `1 <= written`, `1 <= keep`.
pub unsafe fn holds(p: *const u8, written: usize, keep: usize, tag: u8, full: bool) -> bool {
    if !full {
        // SAFETY: `keep >= 1`.
        return unsafe { *p } == tag;
    }
    let len = keep.min(written);
    // Compared a word at a time (the verification pass reads hundreds of
    // MiB on the memory patterns); the ragged ends byte by byte.
    let word = u64::from_ne_bytes([tag; 8]);
    let head = p.align_offset(8).min(len);
    // SAFETY: `head <= len` bytes, in bounds per the contract.
    let (start, rest) = unsafe { std::slice::from_raw_parts(p, len) }.split_at(head);
    if start.iter().any(|&b| b != tag) {
        return false;
    }
    let words = rest.len() / 8;
    // SAFETY: `rest` starts 8-aligned and holds `words * 8` bytes and more.
    let body = unsafe { std::slice::from_raw_parts(rest.as_ptr().cast::<u64>(), words) };
    body.iter().all(|&w| w == word) && rest[words * 8..].iter().all(|&b| b == tag)
}

pub fn aligned(p: *mut u8, align: usize) -> Result<(), i32> {
    if p.is_null() {
        Err(E_NULL)
    } else if (p as usize) & (align - 1) != 0 {
        Err(E_ALIGN)
    } else {
        Ok(())
    }
}

/// Runs `n` steps of `cfg` from `seed`, then frees what is left; returns
/// the number of allocator calls made.
pub fn churn(seed: u32, n: u32, full: bool, cfg: &Churn) -> Result<u32, i32> {
    let mut rng = Rng::new(seed);
    let mut table = [EMPTY; MAX_SLOTS];
    let slots = &mut table[..cfg.slots.min(MAX_SLOTS)];
    let mut calls = 0u32;
    let mut result = Ok(());
    for _ in 0..n {
        let i = rng.below(slots.len() as u32) as usize;
        let b = &mut slots[i];
        let step = if b.ptr.is_null() {
            allocate(&mut rng, cfg, full, b)
        } else if cfg.realloc && rng.below(2) == 0 {
            resize(&mut rng, cfg, full, b)
        } else {
            release(full, b)
        };
        calls += 1;
        if let Err(e) = step {
            result = Err(e);
            break;
        }
    }
    for b in slots.iter_mut().filter(|b| !b.ptr.is_null()) {
        let step = release(full, b);
        calls += 1;
        if result.is_ok() {
            result = step;
        }
    }
    result.map(|()| calls)
}

pub fn layout(size: usize, align: usize) -> Result<Layout, i32> {
    Layout::from_size_align(size, align).map_err(|_| E_LAYOUT)
}

fn allocate(rng: &mut Rng, cfg: &Churn, full: bool, b: &mut Block) -> Result<(), i32> {
    let size = rng.range(cfg.min, cfg.max);
    let align = rng.align();
    let tag = rng.tag();
    // SAFETY: the layout has a non-zero size.
    let p = unsafe { alloc(layout(size, align)?) };
    aligned(p, align)?;
    // SAFETY: a fresh block of `size` bytes.
    unsafe { fill(p, size, tag, full) };
    *b = Block { ptr: p, size, align, tag };
    Ok(())
}

/// Verifies and frees `b`, leaving it empty.
pub fn release(full: bool, b: &mut Block) -> Result<(), i32> {
    // SAFETY: `b` is a live block of `b.size` bytes filled with `b.tag`.
    let ok = unsafe { holds(b.ptr, b.size, b.size, b.tag, full) };
    // SAFETY: allocated with this layout (valid: it was accepted before).
    unsafe { dealloc(b.ptr, layout(b.size, b.align)?) };
    *b = EMPTY;
    if ok {
        Ok(())
    } else {
        Err(E_CONTENT)
    }
}

fn resize(rng: &mut Rng, cfg: &Churn, full: bool, b: &mut Block) -> Result<(), i32> {
    let new_size = rng.range(cfg.min, cfg.max);
    // SAFETY: `b` is live with this layout; `new_size` is non-zero and small.
    let p = unsafe { realloc(b.ptr, layout(b.size, b.align)?, new_size) };
    aligned(p, b.align)?;
    let keep = b.size.min(new_size);
    // SAFETY: `p` holds `new_size >= keep` bytes, the first `keep` copied.
    let ok = unsafe { holds(p, b.size, keep, b.tag, full) };
    let tag = rng.tag();
    // SAFETY: `p` holds `new_size` bytes.
    unsafe { fill(p, new_size, tag, full) };
    *b = Block { ptr: p, size: new_size, align: b.align, tag };
    if ok {
        Ok(())
    } else {
        Err(E_CONTENT)
    }
}

/// Grows `n` vectors of `u32` to 1 MiB each by `push`, one after the
/// other; returns the number of pushes.
pub fn vec_push(seed: u32, n: u32, full: bool) -> Result<u32, i32> {
    const LEN: u32 = (1 << 20) / 4;
    let mut rng = Rng::new(seed);
    let mut pushes = 0u32;
    for _ in 0..n {
        let salt = rng.next() as u32;
        let mut v: Vec<u32> = Vec::new();
        for i in 0..LEN {
            v.push(i ^ salt);
        }
        pushes += LEN;
        aligned(NonNull::from(v.as_slice()).cast::<u8>().as_ptr(), 4)?;
        let ok = if full {
            v.iter().enumerate().all(|(i, &x)| x == i as u32 ^ salt)
        } else {
            probe_offsets(v.len()).into_iter().all(|i| v[i] == i as u32 ^ salt)
        };
        if !ok {
            return Err(E_CONTENT);
        }
    }
    Ok(pushes)
}

const KEYS: u32 = 512;
const WORDS: [&str; 8] = ["alloc", "free", "grow", "shrink", "heap", "chunk", "bin", "tag"];

/// The log line of `step`: its number in hex, then `step % 7` words.
fn log_line(step: u32) -> String {
    let mut line = format!("{step:08x}:");
    for k in 0..step % 7 {
        line.push(' ');
        line.push_str(WORDS[((step + k) % 8) as usize]);
    }
    line
}

/// A small application: an index of keyed records (`BTreeMap<String,
/// Vec<u32>>`) that grows and loses keys, a bounded log of formatted lines
/// (`VecDeque<String>`), scratch buffers, and sorted snapshots. Every record
/// carries its key's number and every log line is rebuilt and compared when
/// it leaves, so lost or overwritten memory is caught. Returns the number of
/// checks that passed.
pub fn app(seed: u32, n: u32, full: bool) -> Result<u32, i32> {
    let mut rng = Rng::new(seed);
    let mut index: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut log: VecDeque<String> = VecDeque::new();
    let mut records = 0usize;
    let mut checks = 0u32;
    for step in 0..n {
        match rng.below(8) {
            0..=3 => {
                let id = rng.below(KEYS);
                let value = (rng.next() as u32 & !(KEYS - 1)) | id;
                index.entry(format!("user-{id:04}")).or_default().push(value);
                records += 1;
            }
            4 => {
                let id = rng.below(KEYS);
                if let Some(values) = index.remove(&format!("user-{id:04}")) {
                    if values.iter().any(|v| v % KEYS != id) {
                        return Err(E_CONTENT);
                    }
                    records -= values.len();
                    checks += 1;
                }
            }
            5 => {
                log.push_back(log_line(step));
                if log.len() > 256 {
                    let old = log.pop_front().ok_or(E_CONTENT)?;
                    let old_step = old
                        .get(..8)
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .ok_or(E_CONTENT)?;
                    if old != log_line(old_step) {
                        return Err(E_CONTENT);
                    }
                    checks += 1;
                }
            }
            6 => {
                let len = rng.range(16, 4096);
                let tag = rng.tag();
                let buf = vec![tag; len].into_boxed_slice();
                // SAFETY: `buf` holds `len` bytes, all `tag`.
                if !unsafe { holds(buf.as_ptr(), len, len, tag, full) } {
                    return Err(E_CONTENT);
                }
                checks += 1;
            }
            _ => {
                let lo = format!("user-{:04}", rng.below(KEYS));
                let mut snapshot: Vec<u32> =
                    index.range(lo..).take(32).flat_map(|(_, v)| v.iter().copied()).collect();
                snapshot.sort_unstable();
                snapshot.dedup();
                if snapshot.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(E_CONTENT);
                }
                checks += 1;
            }
        }
    }
    let mut left = 0usize;
    for (key, values) in &index {
        let id = key.strip_prefix("user-").and_then(|d| d.parse::<u32>().ok()).ok_or(E_CONTENT)?;
        if values.iter().any(|v| v % KEYS != id) {
            return Err(E_CONTENT);
        }
        left += values.len();
    }
    if left != records {
        return Err(E_CONTENT);
    }
    Ok(checks + 1)
}
