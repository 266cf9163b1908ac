//! A workload for the heap viewer: blocks of many sizes allocated and freed
//! in a seeded pseudo-random order, some kept alive (fragmentation), some
//! large (growth). The page (`www/index.html`) shows talcum's statistics
//! block and heap map with `js/talcum-heap-viewer.mjs`.
//!
//! Build: `cargo build --release --target wasm32-unknown-unknown -p heap-viewer`,
//! then `wasm-bindgen --target web --out-dir www/pkg` on the `.wasm`.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;

// The recipe's first two steps: talcum as the global allocator (with the
// `stats` feature in Cargo.toml), and the block exported to JavaScript
// (`talcum_stats`, `talcum_heap_map`, `talcum_heap_map_buffer`).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOC: talcum::TalckWasm = unsafe { talcum::TalckWasm::new_global() };
#[cfg(target_arch = "wasm32")]
talcum::export_stats!(ALLOC, 4096);

struct Workload {
    rng: u64,
    live: Vec<Vec<u8>>,
}

thread_local! {
    static WORK: RefCell<Workload> = const { RefCell::new(Workload { rng: 0, live: Vec::new() }) };
}

impl Workload {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Runs `steps` steps of the workload from `seed`: each allocates a block
/// (mostly small, now and then up to 256 KiB), and frees a random live
/// block about every other step. Returns the number of live blocks.
#[wasm_bindgen]
pub fn run_workload(steps: u32, seed: u32) -> u32 {
    WORK.with(|w| {
        let mut w = w.borrow_mut();
        w.rng = u64::from(seed) * 0x9E37_79B9 + 1;
        w.live.reserve(steps as usize);
        for _ in 0..steps {
            let r = w.next();
            let size = match r % 16 {
                0 => (64 << 10) + (r >> 8) as usize % (192 << 10),
                1..=4 => 1024 + (r >> 8) as usize % 8192,
                _ => 8 + (r >> 8) as usize % 256,
            };
            let fill = r as u8;
            w.live.push(vec![fill; size]);
            if w.next() % 2 == 0 {
                let i = w.next() as usize % w.live.len();
                w.live.swap_remove(i);
            }
        }
        w.live.len() as u32
    })
}

/// Frees every second live block: holes, so the map shows fragmentation.
#[wasm_bindgen]
pub fn free_every_other() -> u32 {
    WORK.with(|w| {
        let mut w = w.borrow_mut();
        let mut i = 0;
        w.live.retain(|_| {
            i += 1;
            i % 2 == 0
        });
        w.live.len() as u32
    })
}

/// One figure of `Talc::get_counters()`, read without allocating (so that
/// reading does not change what is read): 0 live allocations, 1 allocated
/// bytes, 2 available bytes, 3 free chunks, 4 heaps, 5 claimed bytes.
#[wasm_bindgen]
pub fn counter(which: u32) -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        // SAFETY: called from JavaScript, between allocations: nothing else
        // uses the allocator now (single-threaded wasm).
        let c = unsafe { ALLOC.talc() }.get_counters();
        let v = match which {
            0 => c.allocation_count,
            1 => c.allocated_bytes,
            2 => c.available_bytes,
            3 => c.fragment_count,
            4 => c.heap_count,
            5 => c.claimed_bytes,
            _ => return f64::NAN,
        };
        v as f64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = which;
        f64::NAN
    }
}
