//! talc 5, as the bench module's `alloc-talc` (`WasmDynamicTalc`), over the
//! emulated memory (`icount::sources`).

#[global_allocator]
static GLOBAL: icount::Counted<icount::sources::TalcGlobal> =
    // SAFETY: the program has one thread.
    icount::Counted(unsafe { icount::sources::talc_global() });

fn main() {
    icount::main()
}
