//! Threaded WebAssembly (`+atomics`, shared memory): several Node workers
//! instantiate this module over one shared `WebAssembly.Memory` and run
//! [`stress`] at once, each with its own seed, through one global
//! `Talck<spin::Mutex<()>, WasmHandler>`. Every block carries a pattern
//! unique to it (thread, block number), written after allocation and checked
//! before every free and realloc and at the end; blocks also move between
//! threads through [`EXCHANGE`] (allocated by one thread, checked and freed
//! by another). The driver is `run.mjs`: it sets each worker's stack and
//! thread-local block (allocated here, through talcum), grows memory from
//! JavaScript while the workers run (pages talcum must never touch), and
//! checks the results.

use std::alloc::{alloc, alloc_zeroed, dealloc, realloc, Layout};
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use talcum::{Talc, Talck, WasmHandler};

#[cfg(not(feature = "no-lock"))]
type Lock = spin::Mutex<()>;

/// A lock that does not lock: only to see this test fail (`--features no-lock`).
#[cfg(feature = "no-lock")]
struct Lock;

#[cfg(feature = "no-lock")]
unsafe impl lock_api::RawMutex for Lock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = Lock;
    type GuardMarker = lock_api::GuardSend;
    fn lock(&self) {}
    fn try_lock(&self) -> bool {
        true
    }
    unsafe fn unlock(&self) {}
}

#[global_allocator]
static ALLOC: Talck<Lock, WasmHandler> = Talc::new(WasmHandler::new()).lock();

/// Failure codes returned by [`stress`] and [`drain_exchange`].
const FAIL_NULL: u32 = 1;
const FAIL_ALIGN: u32 = 2;
const FAIL_PATTERN: u32 = 3;
const FAIL_ZEROED: u32 = 4;
const FAIL_PARCEL: u32 = 5;

/// Per thread: the operation at which it failed, for the driver's message.
static FAIL_OP: [AtomicU32; 64] = [const { AtomicU32::new(0) }; 64];

/// A block handed from one thread to another: its address, layout and key.
struct Parcel {
    ptr: *mut u8,
    layout: Layout,
    key: u32,
}

/// Slots through which threads swap blocks: a thread puts one in and takes
/// out (checks and frees) whatever another thread left there.
static EXCHANGE: [AtomicPtr<Parcel>; 32] = [const { AtomicPtr::new(ptr::null_mut()) }; 32];

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

    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }
}

/// The byte at offset `i` of the block with key `key`.
#[inline]
fn pattern(key: u32, i: usize) -> u8 {
    ((key ^ (i as u32)).wrapping_mul(0x9E37_79B1) >> 24) as u8
}

/// Writes `key`'s pattern into `[from, to)` of the block at `p`.
unsafe fn fill(p: *mut u8, key: u32, from: usize, to: usize) {
    for i in from..to {
        unsafe { p.add(i).write(pattern(key, i)) };
    }
}

/// Whether `[0, len)` of the block at `p` holds `key`'s pattern.
unsafe fn holds(p: *const u8, key: u32, len: usize) -> bool {
    (0..len).all(|i| unsafe { p.add(i).read() } == pattern(key, i))
}

/// A random layout: mostly small, some medium, a few large (up to 64 KiB)
/// and, rarely, big (256 KiB to 4 MiB); alignments mostly up to 8, some up
/// to 4 KiB and, rarely, 64 KiB (a whole page).
fn random_layout(rng: &mut Rng) -> Layout {
    let size = match rng.below(1000) {
        0..=699 => 1 + rng.below(128),
        700..=949 => 129 + rng.below(4096 - 128),
        950..=997 => 4097 + rng.below(65536 - 4096),
        _ => (256 << 10) + rng.below((4 << 20) - (256 << 10)),
    } as usize;
    let align = match rng.below(100) {
        0..=79 => 1 << rng.below(4),
        80..=97 => 16 << rng.below(9),
        _ => 65536,
    };
    Layout::from_size_align(size, align).unwrap()
}

struct Block {
    ptr: *mut u8,
    layout: Layout,
    key: u32,
}

/// Checks and frees a parcel taken out of [`EXCHANGE`].
unsafe fn receive(parcel: *mut Parcel) -> Result<(), u32> {
    let parcel = unsafe { Box::from_raw(parcel) };
    if parcel.ptr.is_null() || !(parcel.ptr as usize).is_multiple_of(parcel.layout.align()) {
        return Err(FAIL_PARCEL);
    }
    if !unsafe { holds(parcel.ptr, parcel.key, parcel.layout.size()) } {
        return Err(FAIL_PATTERN);
    }
    unsafe { dealloc(parcel.ptr, parcel.layout) };
    Ok(())
}

fn run(thread: u32, seed: u32, ops: u32) -> Result<(), (u32, u32)> {
    let mut rng = Rng(seed.wrapping_mul(0x2545_F491) | 1);
    let mut slots: Vec<Option<Block>> = (0..256).map(|_| None).collect();
    // Keys: the thread in the top byte, a block counter below it.
    let mut next_key = thread << 24;
    for op in 0..ops {
        let fail = |code| (code, op);
        let i = rng.below(slots.len() as u32) as usize;
        match slots[i].take() {
            None => {
                let layout = random_layout(&mut rng);
                let zeroed = rng.below(4) == 0;
                let p = unsafe {
                    if zeroed {
                        alloc_zeroed(layout)
                    } else {
                        alloc(layout)
                    }
                };
                if p.is_null() {
                    return Err(fail(FAIL_NULL));
                }
                if !(p as usize).is_multiple_of(layout.align()) {
                    return Err(fail(FAIL_ALIGN));
                }
                if zeroed && !(0..layout.size()).all(|j| unsafe { p.add(j).read() } == 0) {
                    return Err(fail(FAIL_ZEROED));
                }
                next_key += 1;
                unsafe { fill(p, next_key, 0, layout.size()) };
                slots[i] = Some(Block { ptr: p, layout, key: next_key });
            }
            Some(b) => {
                if !unsafe { holds(b.ptr, b.key, b.layout.size()) } {
                    return Err(fail(FAIL_PATTERN));
                }
                match rng.below(10) {
                    // Free.
                    0..=4 => unsafe { dealloc(b.ptr, b.layout) },
                    // Realloc: the common prefix survives, the rest is new.
                    5..=7 => {
                        let new_size = match rng.below(3) {
                            0 => 1 + rng.below(b.layout.size() as u32) as usize,
                            1 => b.layout.size() + 1 + rng.below(256) as usize,
                            _ => random_layout(&mut rng).size(),
                        };
                        let p = unsafe { realloc(b.ptr, b.layout, new_size) };
                        if p.is_null() {
                            return Err(fail(FAIL_NULL));
                        }
                        if !(p as usize).is_multiple_of(b.layout.align()) {
                            return Err(fail(FAIL_ALIGN));
                        }
                        let kept = new_size.min(b.layout.size());
                        if !unsafe { holds(p, b.key, kept) } {
                            return Err(fail(FAIL_PATTERN));
                        }
                        unsafe { fill(p, b.key, kept, new_size) };
                        let layout = Layout::from_size_align(new_size, b.layout.align()).unwrap();
                        slots[i] = Some(Block { ptr: p, layout, key: b.key });
                    }
                    // Hand it to another thread; check and free what was there.
                    _ => {
                        let parcel = Box::into_raw(Box::new(Parcel {
                            ptr: b.ptr,
                            layout: b.layout,
                            key: b.key,
                        }));
                        let j = rng.below(EXCHANGE.len() as u32) as usize;
                        let old = EXCHANGE[j].swap(parcel, Ordering::AcqRel);
                        if !old.is_null() {
                            unsafe { receive(old) }.map_err(fail)?;
                        }
                    }
                }
            }
        }
    }
    for b in slots.into_iter().flatten() {
        if !unsafe { holds(b.ptr, b.key, b.layout.size()) } {
            return Err((FAIL_PATTERN, ops));
        }
        unsafe { dealloc(b.ptr, b.layout) };
    }
    Ok(())
}

/// One worker's run: `ops` random operations, every block checked; then
/// every block it still holds is checked and freed. Returns 0, or a failure
/// code (the failing operation is in [`fail_op`]).
#[no_mangle]
pub extern "C" fn stress(thread: u32, seed: u32, ops: u32) -> u32 {
    match run(thread, seed, ops) {
        Ok(()) => 0,
        Err((code, op)) => {
            FAIL_OP[thread as usize % FAIL_OP.len()].store(op, Ordering::Relaxed);
            code
        }
    }
}

/// The operation at which `thread` failed.
#[no_mangle]
pub extern "C" fn fail_op(thread: u32) -> u32 {
    FAIL_OP[thread as usize % FAIL_OP.len()].load(Ordering::Relaxed)
}

/// After the workers: checks and frees the blocks left in [`EXCHANGE`].
/// Returns 0 or a failure code.
#[no_mangle]
pub extern "C" fn drain_exchange() -> u32 {
    for slot in &EXCHANGE {
        let p = slot.swap(ptr::null_mut(), Ordering::AcqRel);
        if !p.is_null() {
            if let Err(code) = unsafe { receive(p) } {
                return code;
            }
        }
    }
    0
}

/// A block for a worker's stack or thread-local data (never freed).
#[no_mangle]
pub extern "C" fn alloc_area(size: usize, align: usize) -> *mut u8 {
    match Layout::from_size_align(size, align) {
        Ok(layout) => unsafe { alloc_zeroed(layout) },
        Err(_) => ptr::null_mut(),
    }
}

/// The allocator's counters: 0 live allocations, 1 heaps.
#[no_mangle]
pub extern "C" fn counter(which: u32) -> usize {
    let talc = ALLOC.lock();
    let c = talc.get_counters();
    match which {
        0 => c.allocation_count,
        1 => c.heap_count,
        _ => usize::MAX,
    }
}
