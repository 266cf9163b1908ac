//! Text statistics exported to JavaScript; every call allocates (strings, a
//! `HashMap`, vectors) through talcum.
//!
//! Build: `cargo build --target wasm32-unknown-unknown --release -p wasm-bindgen-app`,
//! then `wasm-bindgen --target nodejs` (or `web`, `bundler`) on the `.wasm`.

use std::collections::HashMap;

use wasm_bindgen::prelude::*;

// The two lines a wasm-pack project adds to use talcum.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOC: talcum::TalckWasm = unsafe { talcum::TalckWasm::new_global() };

fn counts(text: &str) -> Vec<(String, u32)> {
    let mut map: HashMap<String, u32> = HashMap::new();
    for word in text.split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()) {
        *map.entry(word.to_lowercase()).or_insert(0) += 1;
    }
    let mut v: Vec<(String, u32)> = map.into_iter().collect();
    // Most frequent first, ties alphabetically: the output does not depend on the
    // hash map's order.
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// Word frequencies of `text` (case-insensitive), most frequent first, as
/// `word:count` pairs separated by spaces.
#[wasm_bindgen]
pub fn word_counts(text: &str) -> String {
    counts(text).iter().map(|(w, n)| format!("{w}:{n}")).collect::<Vec<_>>().join(" ")
}

/// The most frequent word, if any.
#[wasm_bindgen]
pub fn top_word(text: &str) -> Option<String> {
    counts(text).into_iter().next().map(|(w, _)| w)
}

/// Number of distinct words.
#[wasm_bindgen]
pub fn distinct_words(text: &str) -> u32 {
    counts(text).len() as u32
}

/// The lengths of every line, as a `Uint32Array` on the JavaScript side.
#[wasm_bindgen]
pub fn line_lengths(text: &str) -> Vec<u32> {
    text.lines().map(|l| l.chars().count() as u32).collect()
}

/// Bytes of linear memory now. (For the Node script: a fresh instance's
/// first small calls are served from the memory the module starts with,
/// between `__heap_base` and `__heap_end`, and grow nothing.)
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen]
pub fn memory_bytes() -> f64 {
    (core::arch::wasm32::memory_size(0) * 65536) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_on_the_host() {
        assert_eq!(word_counts("b a B c b a"), "b:3 a:2 c:1");
        assert_eq!(top_word(""), None);
        assert_eq!(distinct_words("x y x"), 2);
        assert_eq!(line_lengths("ab\n\nxyz"), vec![2, 0, 3]);
    }
}
