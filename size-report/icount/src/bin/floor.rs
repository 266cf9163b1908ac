//! The floor: the bench's bump allocator (`module/src/floor.rs`), whose
//! count is the harness's own; the others' counts are taken over it.

#[global_allocator]
static GLOBAL: icount::Counted<icount::floor::Floor> = icount::Counted(icount::floor::Floor::new());

fn main() {
    icount::main()
}
