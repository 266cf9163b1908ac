//! talcum's default core, as `TalckWasm` sets it up on wasm32: a `Talc`
//! over `WasmHandler`, no lock; the handler grows the emulated memory.

use talcum::{Talc, TalckSingleThreaded, WasmHandler};

#[global_allocator]
static GLOBAL: icount::Counted<TalckSingleThreaded<WasmHandler<icount_talcum::Linear>>> =
    // SAFETY: the program has one thread and one allocator over the memory.
    icount::Counted(unsafe {
            TalckSingleThreaded::new(Talc::new(WasmHandler::with_memory(icount_talcum::Linear)))
        });

fn main() {
    icount::main()
}
