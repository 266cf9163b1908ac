// Drives the wasm32-wasip2 test component (transpiled by jco) from Node:
//
//   node run.mjs <out-dir>/talcum.js [calls] [stress-ops] [seed]
//
// Calls the component's exports `calls` times in a random order with random
// sizes (strings from empty to ~1 MiB with 1- to 4-byte UTF-8 characters,
// lists of up to 256 Ki numbers, results of up to 4 MiB), checks every
// result against the same computation in JavaScript, and runs the
// component's own stress test (`stress-ops` random allocations, frees and
// reallocations, every block checked) now and then in between. Every
// argument goes into the component through its `cabi_realloc`, so through
// talcum; every result is freed by talcum after jco lifts it. At the end,
// talcum's counters must show that traffic and no block left over. The
// verdict is the last line, `RESULT=0` (passed) or `RESULT=<reason>`.
import { pathToFileURL } from 'node:url';

const [path, callsArg = '3000', opsArg = '20000', seedArg = '1'] = process.argv.slice(2);
const calls = Number(callsArg);
const ops = Number(opsArg);

// xorshift32, as in the component.
let state = (Number(seedArg) | 1) >>> 0;
function next() {
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state;
}
const below = (n) => next() % n;
// Mostly small, sometimes large: a length up to 2^(0..max) - 1.
const length = (maxBits) => below(1 << below(maxBits + 1));

const CHARS = ['a', 'Z', '0', ' ', 'é', 'ß', 'Ж', '漢', '字', '€', '😀', '🦀', '\u0000'];
function randomString(maxBits) {
  const n = length(maxBits);
  const out = [];
  for (let i = 0; i < n; i++) out.push(CHARS[below(CHARS.length)]);
  return out.join('');
}
function randomList(maxBits) {
  const xs = new Uint32Array(length(maxBits));
  for (let i = 0; i < xs.length; i++) xs[i] = next();
  return xs;
}
function sameList(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
const short = (v) => JSON.stringify(String(v)).slice(0, 80);

let result = 0;
const counts = {};
try {
  const c = await import(pathToFileURL(path).href);
  const start = c.counters().map(BigInt);
  // Non-empty arguments (each one a `cabi_realloc` allocation), and
  // allocations made by `stress` in the component.
  let crossings = 0;
  let inComponent = 0n;
  for (let call = 0; call < calls && result === 0; call++) {
    const which = call % 500 === 250 ? 0 : 1 + below(6);
    const name = ['stress', 'reverse', 'sum', 'sort', 'fill', 'join', 'split'][which];
    counts[name] = (counts[name] ?? 0) + 1;
    let fail = null;
    if (name === 'reverse') {
      const s = randomString(below(8) === 0 ? 19 : 10);
      const got = c.reverse(s);
      crossings += s.length > 0;
      if (got !== [...s].reverse().join('')) fail = `reverse of ${s.length} UTF-16 units: ${short(got)}`;
    } else if (name === 'sum') {
      const xs = randomList(below(8) === 0 ? 18 : 10);
      const got = c.sum(xs);
      let want = 0n;
      for (const x of xs) want += BigInt(x);
      want &= (1n << 64n) - 1n;
      crossings += xs.length > 0;
      if (got !== want) fail = `sum of ${xs.length}: ${got}, want ${want}`;
    } else if (name === 'sort') {
      const xs = randomList(below(8) === 0 ? 18 : 10);
      const got = c.sort(xs);
      crossings += xs.length > 0;
      if (!sameList(got, xs.slice().sort())) fail = `sort of ${xs.length}`;
    } else if (name === 'fill') {
      const n = length(below(16) === 0 ? 22 : 12);
      const seed = below(1000);
      const got = c.fill(n, seed);
      let bad = got.length !== n;
      for (let i = 0; !bad && i < n; i++) bad = got[i] !== (i * 7 + seed) % 251;
      if (bad) fail = `fill(${n}, ${seed}): ${got.length} bytes, wrong`;
    } else if (name === 'join') {
      const parts = [];
      for (let i = length(8); i > 0; i--) parts.push(randomString(below(4) === 0 ? 12 : 5));
      const sep = randomString(3);
      const got = c.join(parts, sep);
      crossings += (parts.length > 0) + (sep.length > 0) + parts.filter((p) => p.length > 0).length;
      if (got !== parts.join(sep)) fail = `join of ${parts.length} parts: ${short(got)}`;
    } else if (name === 'split') {
      const parts = [];
      for (let i = length(8); i > 0; i--) parts.push(randomString(6).replaceAll(',', ''));
      const s = parts.join(',');
      const got = c.split(s, ',');
      crossings += s.length > 0;
      if (!Array.isArray(got) || got.length !== s.split(',').length || got.some((p, i) => p !== s.split(',')[i])) {
        fail = `split of ${s.length} UTF-16 units: ${got.length} parts`;
      }
    } else {
      try {
        const before = c.counters()[1];
        console.log(`stress: ${c.stress(ops, next())}`);
        inComponent += c.counters()[1] - before;
      } catch (err) {
        fail = `stress: ${err && err.payload || err}`;
      }
    }
    if (fail) result = `call ${call}: ${fail}`;
  }
  const end = c.counters().map(BigInt);
  console.log(`calls: ${JSON.stringify(counts)}; ${crossings} non-empty arguments; ${end[1] - start[1] - inComponent} allocations outside stress`);
  console.log(`talcum counters [live blocks, allocations, live bytes, heaps, heaps ever, claimed bytes]: start ${start.join(' ')}, end ${end.join(' ')}`);
  if (result === 0 && end[0] !== start[0]) {
    result = `live blocks ${start[0]} at the start, ${end[0]} at the end: a leak through cabi_realloc/cabi_post`;
  } else if (result === 0 && end[1] - start[1] - inComponent < BigInt(crossings)) {
    result = `only ${end[1] - start[1] - inComponent} allocations by talcum outside stress for ${crossings} non-empty arguments`;
  }
} catch (err) {
  result = `trap or error: ${err && err.stack || err}`;
}
console.log(`RESULT=${result}`);
process.exit(result === 0 ? 0 : 1);
