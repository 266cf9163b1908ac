// Runs the wasm32-wasip1 test program under Node's WASI (preview 1):
//
//   node --single-threaded-gc run.mjs <program.wasm> [ops] [seed]
//
// (Node 20's WASI crashes now and then, SIGSEGV or V8 heap corruption, in
// a program that grows memory to ~180 MiB: also in one that only executes
// memory.grow and prints, with std's own allocator and no talcum; about 1
// run in 4 on the CI machine. With V8's garbage collector on one thread,
// --single-threaded-gc, 110 runs in a row passed.)
//
// It passes 64 arguments and a ~300 KB environment (which wasi-libc copies
// with its own malloc), preopens a fresh directory as /sandbox with a 3 MiB
// input.bin, and checks the output.bin the program writes there. The verdict
// is the last line, `RESULT=0` (passed) or `RESULT=<reason>`, printed before
// Node tears down; the exit status follows it.
import { WASI } from 'node:wasi';
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [path, ops = '30000', seed = '1'] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'talcum-wasip1-'));
const MIB = 1 << 20;
const input = new Uint8Array(3 * MIB);
for (let i = 0; i < input.length; i++) input[i] = (i * 31 + Math.floor(i / 4096)) & 255;
writeFileSync(join(dir, 'input.bin'), input);

const args = ['talcum-wasip1'];
for (let i = 0; i < 64; i++) args.push(`arg-${i}-${'x'.repeat(i * 7 % 300)}`);
const env = { TALCUM_OPS: ops, TALCUM_SEED: seed, TALCUM_SKIP: process.env.TALCUM_SKIP ?? '' };
for (let i = 0; i < 256; i++) {
  let v = `${i}:`;
  for (let j = 0; j < 1000 + i; j++) v += String.fromCharCode(97 + (i + j) % 26);
  env[`TALCUM_E${i}`] = v;
}

let result;
try {
  const wasi = new WASI({ version: 'preview1', args, env, preopens: { '/sandbox': dir }, returnOnExit: true });
  const module = await WebAssembly.compile(readFileSync(path));
  const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
  const code = wasi.start(instance);
  console.log(`wasi.start returned ${code}`);
  result = code === 0 ? 0 : `exit code ${code}`;
  if (result === 0) {
    let out;
    try { out = readFileSync(join(dir, 'output.bin')); } catch (e) { out = null; }
    if (!out || out.length !== input.length || out.some((b, i) => b !== (input[i] ^ 0x5a))) {
      result = 'output.bin is missing or wrong';
    }
  }
} catch (err) {
  result = `trap or error: ${err && err.message || err}`;
}
rmSync(dir, { recursive: true, force: true });
console.log(`RESULT=${result}`);
process.exit(result === 0 ? 0 : 1);
