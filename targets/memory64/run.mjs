// Runs the memory64 tests (tests.js) on the wasm64 module, in Node or in
// headless Chromium:
//
//   node --experimental-wasm-memory64 run.mjs node <module.wasm> [ops] [seeds]
//   node run.mjs chromium <module.wasm> [ops] [seeds]
//
// (Chromium through chromedriver's WebDriver API: CHROMEDRIVER, default
// /usr/bin/chromedriver; CHROME, default /usr/bin/chromium.) The verdict is
// the last line, `RESULT=0` (passed) or `RESULT=<reason>`.
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [where, path, ops = '30000', seeds = '3'] = process.argv.slice(2);
const here = dirname(fileURLToPath(import.meta.url));
const source = readFileSync(join(here, 'tests.js'), 'utf8');
const bytes = readFileSync(path);
// The block above 4 GiB: 4 GiB and 256 MiB. Required in Chromium (memory64
// there allows 16 GiB); in Node 20 it is reported when V8 refuses it.
const opts = { ops: Number(ops), seeds: Number(seeds), blocks: 800, above4GiB: 4352, require4GiB: where === 'chromium' };

async function inNode() {
  const runTests = new Function(`${source}\nreturn runTests;`)();
  return runTests(new Uint8Array(bytes), opts, (line) => console.log(line));
}

async function inChromium() {
  const port = 9500 + Math.floor(Math.random() * 400);
  const driver = spawn(process.env.CHROMEDRIVER ?? '/usr/bin/chromedriver', [`--port=${port}`], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  const call = async (method, route, body) => {
    const res = await fetch(url + route, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${route}: ${JSON.stringify(json.value ?? json).slice(0, 500)}`);
    return json.value;
  };
  try {
    for (let i = 0; ; i++) {
      try { await call('GET', '/status'); break; } catch (err) {
        if (i > 100) throw new Error(`chromedriver did not start: ${err.message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const session = await call('POST', '/session', {
      capabilities: { alwaysMatch: { 'goog:chromeOptions': {
        binary: process.env.CHROME ?? '/usr/bin/chromium',
        args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
          '--disable-component-update', '--no-first-run', '--disable-sync'],
      } } },
    });
    const id = session.sessionId;
    try {
      const version = session.capabilities.browserVersion;
      console.log(`chromium ${version}`);
      await call('POST', `/session/${id}/timeouts`, { script: 600000 });
      const script = `${source}
        const done = arguments[arguments.length - 1];
        const bin = atob(arguments[0]);
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        const lines = [];
        runTests(bytes, arguments[1], (line) => lines.push(line))
          .then((result) => done({ result, lines }), (err) => done({ result: 'trap or error: ' + (err && err.stack || err), lines }));`;
      const { result, lines } = await call('POST', `/session/${id}/execute/async`, { script, args: [bytes.toString('base64'), opts] });
      for (const line of lines) console.log(line);
      return result;
    } finally {
      await call('DELETE', `/session/${id}`).catch(() => {});
    }
  } finally {
    driver.kill();
  }
}

let result;
try {
  result = where === 'chromium' ? await inChromium() : await inNode();
} catch (err) {
  result = `trap or error: ${err && err.stack || err}`;
}
console.log(`RESULT=${result}`);
process.exit(result === 0 ? 0 : 1);
