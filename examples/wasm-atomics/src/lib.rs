//! Threaded WebAssembly (`-C target-feature=+atomics,+bulk-memory`): the
//! single-threaded `TalckWasm` is unavailable, and `Talck` over a real lock
//! is the global allocator.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use talcum::{Talc, Talck, WasmHandler};

#[cfg(not(feature = "expect-talckwasm"))]
#[global_allocator]
static ALLOC: Talck<spin::Mutex<()>, WasmHandler> = Talc::new(WasmHandler::new()).lock();

// With `atomics` this must not compile: there is no `TalckWasm`.
#[cfg(feature = "expect-talckwasm")]
#[global_allocator]
static ALLOC: talcum::TalckWasm = unsafe { talcum::TalckWasm::new_global() };

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// Sums `0..n` through a vector on the heap.
#[no_mangle]
pub extern "C" fn sum_to(n: u32) -> u64 {
    let v: Vec<u64> = (0..n as u64).collect();
    v.iter().sum()
}
