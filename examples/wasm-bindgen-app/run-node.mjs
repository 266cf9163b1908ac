// Loads the wasm-bindgen output (`wasm-bindgen --target nodejs --out-dir <dir>`) the way
// an application would and checks the results. Usage: node run-node.mjs <dir>
import { createRequire } from "node:module";
import path from "node:path";
import assert from "node:assert/strict";

const dir = path.resolve(process.argv[2] ?? "pkg");
const require = createRequire(import.meta.url);
const app = require(path.join(dir, "wasm_bindgen_app.js"));

let passed = 0;
let failed = 0;
function check(name, body) {
  try {
    body();
    passed++;
  } catch (e) {
    failed++;
    console.error(`FAILED ${name}:`, e.message);
  }
}

// Before anything else: a fresh instance serves its first small calls from
// the memory it starts with (talcum takes `__heap_base..__heap_end`), so
// memory does not grow.
check("first calls grow no memory", () => {
  const before = app.memory_bytes();
  assert.equal(app.word_counts("to be or not to be"), "be:2 to:2 not:1 or:1");
  assert.equal(app.distinct_words("a b c d e f g h"), 8);
  assert.equal(app.memory_bytes(), before, "memory grew for the first small calls");
});

check("small inputs", () => {
  assert.equal(app.word_counts("to be or not to be"), "be:2 to:2 not:1 or:1");
  assert.equal(app.top_word("a b b c c c"), "c");
  assert.equal(app.top_word(""), undefined);
  assert.deepEqual(Array.from(app.line_lengths("one\nthree\n")), [3, 5]);
});

// Enough calls and data to make the module's memory grow through talcum.
const text = Array.from({ length: 200_000 }, (_, i) => `word${i % 5000}`).join(" ");
check("repeated large calls", () => {
  for (let round = 0; round < 20; round++) {
    assert.equal(app.distinct_words(text), 5000);
  }
});
check("large word_counts result", () => {
  const counts = app.word_counts(text).split(" ");
  assert.equal(counts.length, 5000);
  assert.ok(counts.every((c) => c.endsWith(":40")));
});

console.log(`wasm-bindgen-app node script: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
