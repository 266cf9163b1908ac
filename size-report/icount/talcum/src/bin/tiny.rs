//! talcum's tiny allocator, as `TalckWasm` is with feature `tiny`: a
//! `TinyGlobal` growing the emulated memory.

use talcum::tiny::TinyGlobal;

#[global_allocator]
static GLOBAL: icount::Counted<TinyGlobal<icount_talcum::Linear>> =
    // SAFETY: the program has one thread and one allocator over the memory.
    icount::Counted(unsafe { TinyGlobal::new(icount_talcum::Linear) });

fn main() {
    icount::main()
}
