//! talcum's side of `size-report/icount`: the emulated linear memory
//! (`icount::linear`) as talcum's [`LinearMemory`], which its binaries'
//! `WasmHandler` and `TinyGlobal` grow.

use talcum::{LinearMemory, Span, WASM_PAGE_SIZE};

use icount::linear::{grow, memory_grow, PAGE};

// The emulation's page is wasm's.
const _: () = assert!(PAGE == WASM_PAGE_SIZE);

/// The emulated memory as talcum's [`LinearMemory`].
#[derive(Debug, Default)]
pub struct Linear;

// SAFETY: `grow` returns pages of a private mapping that nothing else
// touches (a binary has one allocator over this memory), zero until
// written, 64 KiB aligned and never at address 0, and never the same page
// twice; `end` is where the next growth starts. No initial memory.
unsafe impl LinearMemory for Linear {
    fn end(&self) -> usize {
        // Growing by nothing returns the size in pages (and maps the
        // reservation on first use), as `memory.grow(0)` does.
        memory_grow(0, 0) * PAGE
    }

    fn grow(&mut self, pages: usize) -> Option<Span> {
        let start = grow(pages)?;
        Some(Span::new(start, start.wrapping_add(pages * PAGE)))
    }
}
