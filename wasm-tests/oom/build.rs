//! Caps linear memory of this crate's test binaries at 64 MiB, so that the allocator
//! really runs out. Cargo has no per-test link argument, hence a crate of its own.

const MAX_MEMORY: u64 = 64 * 1024 * 1024;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-tests=--max-memory={MAX_MEMORY}");
    }
}
