//! The exported functions, called from wasm in Node and headless Chromium.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_app::{distinct_words, line_lengths, top_word, word_counts};
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
fn counts_words() {
    assert_eq!(word_counts("The cat and the hat. THE end!"), "the:3 and:1 cat:1 end:1 hat:1");
    assert_eq!(top_word("one two two"), Some("two".to_string()));
    assert_eq!(top_word("  ...  "), None);
    assert_eq!(line_lengths("héllo\nwörld!\n"), vec![5, 6]);
}

#[wasm_bindgen_test]
fn large_input() {
    let text: String = (0..50_000).map(|i| format!("w{} ", i % 1000)).collect();
    assert_eq!(distinct_words(&text), 1000);
    let out = word_counts(&text);
    assert!(out.starts_with("w0:50 w1:50 w10:50"));
    assert_eq!(out.split(' ').count(), 1000);
}
