//! dlmalloc (the crate), as the bench module's `alloc-dlmalloc`, over the
//! emulated memory (`icount::sources`).

#[global_allocator]
static GLOBAL: icount::Counted<icount::sources::DlGlobal> =
    // SAFETY: the program has one thread.
    icount::Counted(unsafe { icount::sources::DlGlobal::new() });

fn main() {
    icount::main()
}
