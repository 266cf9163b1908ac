// The memory64 tests, run by run.mjs in Node and, through chromedriver, in
// headless Chromium: the same source in both (no imports, no exports: the
// caller evaluates it and calls `runTests`).
//
// runTests(bytes, opts, log) instantiates the module (a Uint8Array) and runs
// its tests: `stress` with several seeds (random alloc/free/realloc, every
// block checked), `growth` (memory grows across hundreds of pages), with
// `beyond_max` (a request past the maximum memory returns null, no trap)
// and `above_4gib` (a block past wasm32's 4 GiB end). Returns 0 when all
// passed, else a string naming the failure.
// eslint-disable-next-line no-unused-vars
async function runTests(bytes, opts, log) {
  const { instance } = await WebAssembly.instantiate(bytes, {});
  const e = instance.exports;
  // The last failure: its code and three numbers (see src/lib.rs).
  const message = () => {
    const [code, a, b, c] = new BigUint64Array(e.memory.buffer, Number(e.failure()), 4);
    const hex = (x) => `0x${x.toString(16)}`;
    switch (Number(code)) {
      case 1: return `allocation of ${a} B (align ${b}) failed${c ? ' (realloc)' : ''}`;
      case 2: return `${hex(a)} is not aligned to ${b}`;
      case 3: return `block at ${hex(a)} (${b} B): byte ${c} is wrong`;
      case 4: return `${a} blocks live after the test, ${b} before`;
      case 5: return `memory grew by ${a} B from ${c} B for ${b} B of blocks`;
      case 6: return `memory grew again (${b} -> ${c} B) for ${a} B after freeing as much`;
      case 7: return `${a} heaps made (${b} before): growth did not extend the heap`;
      case 8: return `request ${a} (1 alloc, 2 alloc_zeroed, 3 realloc, 4 isize::MAX) of ${c} B beyond the maximum memory returned ${hex(b)}, not null`;
      case 100: return `${a} MiB: null (memory is ${b} B)`;
      case 11: return `the block above 4 GiB is at ${hex(a)}, ends at ${hex(b)}, memory ${c} B`;
      case 12: return `the block above 4 GiB at ${hex(a)}: byte ${hex(b)} is ${c}`;
      default: return `failure code ${code}`;
    }
  };
  const mib = () => (Number(e.memory_bytes()) / (1 << 20)).toFixed(1);
  // Addresses are 64-bit: BigInt at the JS boundary.
  if (typeof e.memory_bytes() !== 'bigint') return 'memory_bytes did not return a BigInt: not a memory64 module?';
  log(`memory at start: ${mib()} MiB`);
  const run = (name, f) => {
    const t0 = Date.now();
    const code = f();
    log(`${name}: ${code === 0 ? 'passed' : `code ${code}: ${message()}`} (${Date.now() - t0} ms, memory ${mib()} MiB)`);
    return code;
  };
  for (let seed = 1; seed <= opts.seeds; seed++) {
    if (run(`stress(${opts.ops}, ${seed})`, () => e.stress(opts.ops, seed)) !== 0) return `stress seed ${seed}: ${message()}`;
  }
  if (run(`growth(${opts.blocks})`, () => e.growth(opts.blocks)) !== 0) return `growth: ${message()}`;
  if (run('beyond_max', () => e.beyond_max()) !== 0) return `beyond_max: ${message()}`;
  if (opts.above4GiB) {
    const code = run(`above_4gib(${opts.above4GiB})`, () => e.above_4gib(opts.above4GiB));
    if (code === 100 && !opts.require4GiB) {
      log('above_4gib: the engine would not grow memory past 4 GiB (its own limit), not a failure here');
    } else if (code !== 0) {
      return `above_4gib: ${message()}`;
    }
  }
  if (run('beyond_max again', () => e.beyond_max()) !== 0) return `beyond_max again: ${message()}`;
  return 0;
}
