import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import type { FunctionSpec } from '@tributary/contracts';
import { buildZip, waitFor } from '@tributary/testing';
import { SandboxPool, readableBy } from './sandbox-pool.js';
import { PRIVATE_IPC, SETPRIV, SHARED_WRITABLE_DIRS } from './sandbox.js';
import { extractZip } from './code-cache.js';
import { ScratchDirs, isRunning } from './scratch-dirs.js';
import { nodeRuntimes } from './node-runtimes.js';

const HANDLERS: Record<string, string> = {
  'index.js': `
    exports.handler = async (event, context) => {
      if (event.mode === 'throw') throw new TypeError('bad input: ' + event.value);
      // Busy until killed: a pending timer keeps the loop from emptying (an idle one would end it, as on AWS).
      if (event.mode === 'hang') return new Promise(() => { setInterval(() => {}, 1000); });
      if (event.mode === 'exit') process.exit(3);
      if (event.mode === 'reject') { Promise.reject(new Error('floating')); return new Promise(() => {}); }
      console.log('hello from', context.functionName, { n: 1 });
      return {
        pid: process.pid,
        event,
        secret: process.env.WORKER_SECRET ?? null,
        path: process.env.PATH,
        greeting: process.env.GREETING ?? null,
        context: {
          awsRequestId: context.awsRequestId, functionName: context.functionName, functionVersion: context.functionVersion,
          invokedFunctionArn: context.invokedFunctionArn, memoryLimitInMB: context.memoryLimitInMB,
          logGroupName: context.logGroupName, logStreamName: context.logStreamName,
          remaining: context.getRemainingTimeInMillis(),
        },
      };
    };`,
  'esm.mjs': `export const handler = async (event) => ({ esm: true, got: event });`,
  'cb.js': `exports.handler = (event, context, callback) => { setTimeout(() => callback(null, { callback: event.x }), 5); };`,
  'nested/deep.js': `exports.api = { handler: async () => 'deep' };`,
};

describe('SandboxPool (real child processes)', { timeout: 60_000 }, () => {
  let codeDir: string;
  /** Where handlers leave what the test reads: outside /tmp, which is the sandbox's own. */
  let exchange: string;
  let pool: SandboxPool;
  const zips = new Map<string, Uint8Array>();
  const logs: string[] = [];

  const spec = (overrides: Partial<FunctionSpec> = {}, files: Record<string, string> = HANDLERS): FunctionSpec => {
    const zip = buildZip(files);
    const codeKey = createHash('sha256').update(zip).digest('hex');
    zips.set(codeKey, zip);
    return {
      name: 'fn', version: '$LATEST', arn: 'arn:aws:lambda:us-east-1:000000000000:function:fn', runtime: 'nodejs20.x',
      handler: 'index.handler', timeout: 3, memorySize: 128, ephemeralStorageMb: 512, environment: { GREETING: 'hi' }, codeKey, revisionId: 'r1', logGroup: '/aws/lambda/fn',
      ...overrides,
    };
  };
  const call = (s: FunctionSpec, event: unknown, wantLogTail = false) =>
    pool.invoke(s, { requestId: randomUUID(), payload: JSON.stringify(event), wantLogTail });

  before(async () => {
    process.env['WORKER_SECRET'] = 'must-not-leak';
    codeDir = await mkdtemp(join(tmpdir(), 'trib-runtime-'));
    // Where sandboxes leave files for the test: not under /tmp nor SHARED_WRITABLE_DIRS, which
    // sandboxes with mounts of their own cannot write to (these run as the test's own user).
    exchange = await mkdtemp(join(homedir(), '.trib-runtime-exchange-'));
    pool = new SandboxPool({
      codeDir,
      region: 'us-east-1',
      idleTimeoutMs: 60_000,
      fetchCode: async (key) => zips.get(key) ?? Promise.reject(new Error('no such code')),
      onLog: (_s, _id, text) => logs.push(text),
    });
  });

  after(async () => {
    await pool.close();
    await rm(codeDir, { recursive: true, force: true });
    await rm(exchange, { recursive: true, force: true });
    delete process.env['WORKER_SECRET'];
  });

  it('runs a CommonJS handler with a complete context and a scrubbed environment, then reuses the sandbox', async () => {
    const s = spec();
    const first = await call(s, { a: 1 });
    assert.equal(first.functionError, undefined, first.payload);
    const body = JSON.parse(first.payload);
    assert.deepEqual(body.event, { a: 1 });
    assert.equal(body.secret, null);
    // As AWS's (/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin): Node.js's directory and the
    // system's, not the worker's (npm puts every node_modules/.bin of the checkout on it).
    const node = nodeRuntimes().execPaths[s.runtime] ?? process.execPath;
    assert.equal(body.path, [...new Set([dirname(node), '/usr/local/bin', '/usr/bin', '/bin'])].join(':'));
    assert.equal(body.greeting, 'hi');
    assert.equal(body.context.functionName, 'fn');
    assert.equal(body.context.functionVersion, '$LATEST');
    assert.equal(body.context.invokedFunctionArn, s.arn);
    assert.equal(body.context.memoryLimitInMB, '128');
    assert.equal(body.context.logGroupName, '/aws/lambda/fn');
    assert.match(body.context.logStreamName, /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    assert.match(body.context.awsRequestId, /^[0-9a-f-]{36}$/);
    assert.ok(body.context.remaining > 0 && body.context.remaining <= 3000);
    assert.equal(first.coldStart, true);
    assert.ok(first.initDurationMs !== undefined && first.initDurationMs > 0);
    const second = await call(s, { a: 2 });
    assert.equal(JSON.parse(second.payload).pid, body.pid);
    assert.equal(second.coldStart, false);
    assert.equal(second.initDurationMs, undefined);
  });

  it('loads ES modules, callback handlers and nested export paths', async () => {
    assert.deepEqual(JSON.parse((await call(spec({ handler: 'esm.handler', revisionId: 'esm' }), { q: 1 })).payload), { esm: true, got: { q: 1 } });
    assert.deepEqual(JSON.parse((await call(spec({ handler: 'cb.handler', revisionId: 'cb' }), { x: 7 })).payload), { callback: 7 });
    assert.equal(JSON.parse((await call(spec({ handler: 'nested/deep.api.handler', revisionId: 'deep' }), {})).payload), 'deep');
  });

  it('hands over the response before the log is complete, and reports memory the runtime measured', async () => {
    const s = spec({ revisionId: 'early' }, { 'index.js': `exports.handler = async (event) => { console.log('working'); return { doubled: event.n * 2 }; };` });
    const seen: string[] = [];
    const outcome = await pool.invoke(s, {
      requestId: randomUUID(),
      payload: JSON.stringify({ n: 21 }),
      wantLogTail: true,
      onResponse: (response) => seen.push(`response ${response.payload} ${response.functionError ?? ''}`),
    });
    seen.push('outcome');
    assert.deepEqual(seen, ['response {"doubled":42} ', 'outcome']);
    assert.equal(outcome.payload, '{"doubled":42}');
    // Max Memory Used comes from the runtime's own peak RSS: a Node.js process holds well over 10 MB.
    assert.ok(outcome.maxMemoryUsedMb > 10 && outcome.maxMemoryUsedMb < 512, String(outcome.maxMemoryUsedMb));
    const failed: string[] = [];
    await pool.invoke(spec({ revisionId: 'early' }, { 'index.js': `exports.handler = async (event) => { console.log('working'); return { doubled: event.n * 2 }; };` }), {
      requestId: randomUUID(),
      payload: 'null',
      wantLogTail: false,
      onResponse: (response) => failed.push(response.functionError ?? 'none', JSON.parse(response.payload).errorType),
    });
    assert.deepEqual(failed, ['Unhandled', 'TypeError']);
  });

  it('frames the log with START, END and REPORT and returns the Tail', async () => {
    const outcome = await call(spec({ revisionId: 'logs' }), { a: 1 }, true);
    const tail = Buffer.from(outcome.logTail ?? '', 'base64').toString();
    assert.match(tail, /START RequestId: \S+ Version: \$LATEST/);
    assert.match(tail, /\tINFO\thello from fn \{ n: 1 \}/);
    assert.match(tail, /END RequestId: \S+\nREPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration: [\d.]+ ms\t\n$/);
  });

  it('keeps all a handler wrote before returning, to stdout and stderr, in that invocation’s log', async () => {
    const s = spec({ revisionId: 'burst' }, {
      'index.js': `exports.handler = async (event) => {
        for (let i = 0; i < 3000; i++) console.log('burst', i, 'x'.repeat(90));
        process.stderr.write('from stderr ' + event.n + '\\n');
        console.log('last line', event.n);
        process.stdout.write('no newline ' + event.n);
        return event.n;
      };`,
    });
    for (const n of [1, 2]) {
      const outcome = await call(s, { n }, true);
      const tail = Buffer.from(outcome.logTail ?? '', 'base64').toString();
      const last = tail.indexOf(`\tINFO\tlast line ${n}\n`);
      assert.ok(last > 0 && last < tail.indexOf('\nEND RequestId: '), tail.slice(-600));
      // Both pipes are read to the end before END (the order between the two is not kept).
      const log = logs.find((l) => l.includes(`last line ${n}`)) ?? '';
      assert.ok(log.startsWith('START RequestId: '), log.slice(0, 200));
      assert.ok(log.indexOf(`from stderr ${n}\n`) > 0 && log.indexOf(`from stderr ${n}\n`) < log.indexOf('\nEND RequestId: '));
      // A last write without a newline ends up in this log, not at the head of the next.
      const unterminated = log.indexOf(`\nno newline ${n}\n`);
      assert.ok(unterminated > 0 && unterminated < log.indexOf('\nEND RequestId: '), log.slice(-400));
      assert.ok(!log.includes(`no newline ${n - 1}`), log.slice(0, 200));
      // 300 KB of lines just before the result: all of them in this log, none left for the next.
      assert.equal(log.split('\tINFO\tburst ').length - 1, 3000);
      assert.ok(log.includes(`\tINFO\tburst 2999 ${'x'.repeat(90)}\n`));
    }
  });

  it('reports a thrown error in AWS shape and keeps serving', async () => {
    const s = spec({ revisionId: 'errors' });
    const outcome = await call(s, { mode: 'throw', value: 42 });
    assert.equal(outcome.functionError, 'Unhandled');
    const error = JSON.parse(outcome.payload);
    assert.equal(error.errorType, 'TypeError');
    assert.equal(error.errorMessage, 'bad input: 42');
    assert.match(error.trace[0], /^TypeError: bad input: 42/);
    assert.equal((await call(s, {})).functionError, undefined);
  });

  it('times out, kills the sandbox, and the next invocation succeeds', async () => {
    const s = spec({ revisionId: 'timeout', timeout: 1 });
    const outcome = await call(s, { mode: 'hang' }, true);
    assert.equal(outcome.functionError, 'Unhandled');
    const error = JSON.parse(outcome.payload);
    assert.equal(error.errorType, 'Sandbox.Timedout');
    assert.match(error.errorMessage, /^RequestId: \S+ Error: Task timed out after 1\.00 seconds$/);
    // AWS's current log format: the timeout is REPORT's status, not a line of its own.
    const log = Buffer.from(outcome.logTail ?? '', 'base64').toString();
    assert.match(log, /\nEND RequestId: \S+\nREPORT RequestId: \S+\tDuration: .*\tStatus: timeout\t\n$/);
    assert.doesNotMatch(log, /Task timed out/);
    assert.equal((await call(s, {})).functionError, undefined);
  });

  it('kills what a timed-out handler started along with the sandbox', async () => {
    const pidFile = join(exchange, 'grandchild.pid');
    const s = spec({ revisionId: 'grandchild', timeout: 1 }, {
      'index.js': `const { spawn } = require('node:child_process');
        exports.handler = async () => {
          const sleeper = spawn('sleep', ['300'], { stdio: 'ignore' });
          require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(sleeper.pid));
          return new Promise(() => {});
        };`,
    });
    const outcome = await call(s, {});
    assert.equal(JSON.parse(outcome.payload).errorType, 'Sandbox.Timedout');
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    await waitFor('the handler\'s own child process to be gone', () => {
      try {
        return readFileSync(`/proc/${grandchild}/stat`, 'utf8').split(' ')[2] === 'Z';
      } catch {
        return true;
      }
    }, { timeoutMs: 5000 });
  });

  it('reports Runtime.ExitError when the process exits, and recovers', async () => {
    const s = spec({ revisionId: 'exit' });
    const outcome = await call(s, { mode: 'exit' }, true);
    const message = `RequestId: ${JSON.parse(outcome.payload).errorMessage.split(' ')[1]} Error: Runtime exited with error: exit status 3`;
    assert.deepEqual(JSON.parse(outcome.payload), { errorType: 'Runtime.ExitError', errorMessage: message });
    // As AWS's log: REPORT says the invocation ended in error, and which.
    const log = Buffer.from(outcome.logTail ?? '', 'base64').toString('utf8');
    assert.match(log, /\nEND RequestId: \S+\nREPORT RequestId: \S+\tDuration: .*\tStatus: error\tError Type: Runtime\.ExitError\t\n$/);
    assert.doesNotMatch(log, /Runtime exited/);
    assert.equal((await call(s, {})).functionError, undefined);
    // A signal is named as AWS's runtime names it.
    const killed = await call(spec({ revisionId: 'killed' }, { 'index.js': `exports.handler = async () => process.kill(process.pid, 'SIGKILL');` }), {});
    assert.match(JSON.parse(killed.payload).errorMessage, /Runtime exited with error: signal: killed$/);
    // Status 0 is no error to Go's os/exec, so AWS names none.
    const quiet = await call(spec({ revisionId: 'exit-0' }, { 'index.js': `exports.handler = async () => process.exit(0);` }), {});
    assert.match(JSON.parse(quiet.payload).errorMessage, /^RequestId: \S+ Error: Runtime exited without providing a reason$/);
  });

  it("sizes the heap from the memory size, unless the function's NODE_OPTIONS does", async () => {
    const files = { 'index.js': `exports.handler = async () => Math.round(require('node:v8').getHeapStatistics().heap_size_limit / 1048576);` };
    const limit = async (environment: Record<string, string>) =>
      JSON.parse((await call(spec({ revisionId: `heap-${Object.keys(environment).length}`, memorySize: 1024, environment }, files), {})).payload) as number;
    assert.ok((await limit({})) > 900);
    assert.ok((await limit({ NODE_OPTIONS: '--max-old-space-size=300' })) < 400);
  });

  it('reports a handler error even when the handler broke console.error', async () => {
    const s = spec({ revisionId: 'console' }, {
      'index.js': `exports.handler = async () => { console.error = () => { throw new Error('console is gone'); }; throw new TypeError('boom'); };`,
    });
    const outcome = await call(s, {}, true);
    assert.equal(outcome.functionError, 'Unhandled');
    assert.equal(JSON.parse(outcome.payload).errorType, 'TypeError');
    assert.equal(JSON.parse(outcome.payload).errorMessage, 'boom');
  });

  it('reports handlers that cannot be loaded as AWS does', async () => {
    const missing = await call(spec({ handler: 'nope.handler', revisionId: 'missing' }), {});
    assert.equal(JSON.parse(missing.payload).errorType, 'Runtime.ImportModuleError');
    assert.match(JSON.parse(missing.payload).errorMessage, /Cannot find module 'nope'/);
    const notExported = await call(spec({ handler: 'index.nothing', revisionId: 'noexport' }), {});
    assert.equal(JSON.parse(notExported.payload).errorType, 'Runtime.HandlerNotFound');
    assert.equal(JSON.parse(notExported.payload).errorMessage, 'index.nothing is undefined or not exported');
    const syntax = await call(spec({ revisionId: 'syntax' }, { 'index.js': 'exports.handler = async () => {' }), {});
    assert.equal(JSON.parse(syntax.payload).errorType, 'Runtime.UserCodeSyntaxError');
  });

  it('retires sandboxes of a replaced revision', async () => {
    const s = spec({ revisionId: 'old' });
    const pid = JSON.parse((await call(s, {})).payload).pid;
    pool.retire('fn', 'new');
    const after = await call({ ...s, revisionId: 'new' }, {});
    assert.notEqual(JSON.parse(after.payload).pid, pid);
    assert.equal(after.coldStart, true);
  });

  /** Process state from /proc (R, S, T for stopped, Z), or undefined once it is gone. */
  const stateOf = (pid: number): string | undefined => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[0];
    } catch {
      return undefined;
    }
  };

  /**
   * Starts a worker process whose pool runs `handlerSource` once, waits until `ready` holds for
   * its sandbox, SIGKILLs the worker and expects the sandbox to go too.
   */
  const sandboxOutlivesKilledWorker = async (name: string, handlerSource: string, ready: (sandboxPid: number) => boolean): Promise<void> => {
    const zip = buildZip({ 'index.js': handlerSource });
    const key = createHash('sha256').update(zip).digest('hex');
    const worker = join(codeDir, `${name}.mjs`);
    await writeFile(
      worker,
      `import { SandboxPool } from ${JSON.stringify(fileURLToPath(new URL('./index.js', import.meta.url)))};
       const zip = Buffer.from(${JSON.stringify(Buffer.from(zip).toString('base64'))}, 'base64');
       const pool = new SandboxPool({ codeDir: ${JSON.stringify(join(codeDir, name))}, region: 'us-east-1', idleTimeoutMs: 60000, fetchCode: async () => zip });
       pool.invoke({ name: 'o', version: '$LATEST', arn: 'a', runtime: 'nodejs20.x', handler: 'index.handler', timeout: 900, memorySize: 128, ephemeralStorageMb: 512, environment: {}, codeKey: '${key}', revisionId: 'r' },
         { requestId: 'x', payload: '{}', wantLogTail: false });`,
    );
    const parent = spawn(process.execPath, [worker], { stdio: ['ignore', 'ignore', 'inherit'] });
    const childPid = await waitFor('the sandbox to start', () => {
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try {
          const running = readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('bootstrap.js');
          if (running && readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[3] === String(parent.pid)) return Number(pid);
        } catch {
          // gone meanwhile
        }
      }
      return undefined;
    });
    await waitFor('the sandbox to be ready', () => ready(childPid));
    parent.kill('SIGKILL');
    await waitFor('the orphaned sandbox to exit', () => [undefined, 'Z'].includes(stateOf(childPid)), { timeoutMs: 5000 });
  };

  it('does not outlive a worker that is killed mid-invocation', async () => {
    const started = join(exchange, 'handler-started');
    // The handler says it is running, then never returns.
    await sandboxOutlivesKilledWorker(
      'orphan',
      `exports.handler = () => { require('node:fs').writeFileSync(${JSON.stringify(started)}, 'x'); return new Promise(() => { setInterval(() => {}, 1000); }); };`,
      () => existsSync(started),
    );
  });

  it('freezes a sandbox that waits for work, as AWS freezes an idle execution environment', { skip: !SETPRIV && 'needs util-linux setpriv' }, async () => {
    // A timer the handler leaves running writes its count to a file; a stopped process writes nothing.
    const ticksFile = join(exchange, 'ticks');
    const s = spec({ name: 'frozen' }, {
      'index.js': `const fs = require('node:fs'); let ticks = 0; let timer;
        exports.handler = async () => {
          timer ??= setInterval(() => { ticks += 1; fs.writeFileSync(${JSON.stringify(ticksFile)}, String(ticks)); }, 5);
          return { pid: process.pid };
        };`,
    });
    const ticks = () => Number(readFileSync(ticksFile, 'utf8'));
    const { pid } = JSON.parse((await call(s, {})).payload) as { pid: number };
    await waitFor('the timer to tick', () => existsSync(ticksFile));
    await waitFor('the idle sandbox to be stopped', () => stateOf(pid) === 'T');
    const frozenAt = ticks();
    await new Promise((done) => setTimeout(done, 300));
    assert.equal(stateOf(pid), 'T');
    assert.equal(ticks(), frozenAt, 'no tick while frozen');
    // The next invocation thaws it: the same warm sandbox, its timer running again.
    assert.equal((JSON.parse((await call(s, {})).payload) as { pid: number }).pid, pid);
    await waitFor('the timer to tick again', () => ticks() > frozenAt);
    // Retiring a frozen sandbox kills it.
    await waitFor('the idle sandbox to be stopped again', () => stateOf(pid) === 'T');
    pool.retire('frozen');
    await waitFor('the frozen sandbox to exit', () => [undefined, 'Z'].includes(stateOf(pid)));
  });

  it('does not freeze an invocation that runs for longer than a sandbox may idle', { skip: !SETPRIV && 'needs util-linux setpriv' }, async () => {
    const s = spec({ name: 'slow' }, {
      'index.js': `exports.handler = async (event) => { if (event.slow) await new Promise((done) => setTimeout(done, 1500)); return { pid: process.pid }; };`,
    });
    // A quick invocation first; the slow one comes once the runtime waits on /next again, with the
    // second before a freeze counting (well within it: 200 ms).
    const { pid } = JSON.parse((await call(s, {})).payload) as { pid: number };
    await new Promise((done) => setTimeout(done, 200));
    const outcome = await call(s, { slow: true });
    assert.equal(outcome.functionError, undefined, outcome.payload);
    assert.equal((JSON.parse(outcome.payload) as { pid: number }).pid, pid);
  });

  it('does not outlive a worker that is killed while the sandbox is frozen', { skip: !SETPRIV && 'needs util-linux setpriv' }, async () => {
    await sandboxOutlivesKilledWorker('orphan-frozen', 'exports.handler = async () => 1;', (pid) => stateOf(pid) === 'T');
  });

  it('frees the disk of unpacked code no function and no sandbox uses, and unpacks it again when needed', async () => {
    const kept = spec({ name: 'kept', revisionId: 'k1' }, { 'index.js': `exports.handler = async () => 'kept';` });
    const gone = spec({ name: 'gone', revisionId: 'g1' }, { 'index.js': `exports.handler = async () => 'gone';` });
    await call(kept, {});
    await call(gone, {});
    // A warm sandbox still uses `gone`'s code, and a grace period protects fresh code. (Code of
    // earlier tests' sandboxes that are gone may be removed here; that is not this test's concern.)
    const first = await pool.removeUnusedCode([kept.codeKey], 0);
    assert.ok(!first.includes(kept.codeKey) && !first.includes(gone.codeKey), String(first));
    assert.deepEqual(await pool.removeUnusedCode([kept.codeKey], 60_000), []);
    pool.retire('gone');
    const removed = await waitFor('the retired sandbox to exit and its code to go', async () => {
      const r = await pool.removeUnusedCode([kept.codeKey], 0);
      return r.includes(gone.codeKey) ? r : undefined;
    });
    assert.ok(!removed.includes(kept.codeKey));
    assert.ok(existsSync(join(codeDir, kept.codeKey)));
    assert.ok(!existsSync(join(codeDir, gone.codeKey)));
    // Deployed again, the same package is fetched and unpacked anew.
    const back = await call({ ...gone, revisionId: 'g2' }, {});
    assert.equal(back.payload, '"gone"');
  });

  it('fails an invocation whose sandbox cannot be spawned, and does not take the worker down', async () => {
    const s = spec({ name: 'vanishing', revisionId: 'v1' }, { 'index.js': `exports.handler = async () => 'here';` });
    assert.equal((await call(s, {})).payload, '"here"');
    pool.retire('vanishing');
    // The unpacked package disappears behind the pool's back; the next cold start cannot spawn.
    await rm(join(codeDir, s.codeKey), { recursive: true, force: true });
    const failed = await call({ ...s, revisionId: 'v2' }, {});
    assert.equal(failed.functionError, 'Unhandled');
    assert.equal(JSON.parse(failed.payload).errorType, 'Runtime.ExitError');
  });

  it('survives function code that misuses the Runtime API, and a runtime that never asks for more', async () => {
    // A malformed request id in the path once threw URIError inside the Runtime API server.
    const prying = spec({ name: 'prying', revisionId: 'p1' }, {
      'index.js': `const http = require('node:http');
exports.handler = async () => {
  const status = await new Promise((resolve) => {
    const req = http.request('http://' + process.env.AWS_LAMBDA_RUNTIME_API + '/2018-06-01/runtime/invocation/%E0%A4%A/response', { method: 'POST' }, (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', () => resolve('error'));
    req.end('{}');
  });
  return { status };
};`,
    });
    assert.deepEqual(JSON.parse((await call(prying, {})).payload), { status: 400 });
    // A handler that returns but leaves the runtime spinning: the next invocation times out
    // instead of waiting for ever, and the one after that gets a fresh sandbox.
    const spinning = spec({ name: 'spinning', revisionId: 's1', timeout: 1 }, {
      'index.js': `exports.handler = async (event) => { if (event.spin) setImmediate(() => { for (;;) {} }); return 'ok'; };`,
    });
    assert.equal((await call(spinning, { spin: true })).payload, '"ok"');
    const stuck = await call(spinning, {});
    assert.equal(stuck.errorType, 'Sandbox.Timedout');
    assert.equal((await call(spinning, {})).payload, '"ok"');
  });

  it('stops unpacking a package that grows past the unzipped limit (a zip bomb)', async () => {
    const bomb = buildZip({ 'a.bin': '0'.repeat(600), 'b.bin': '0'.repeat(600) });
    await assert.rejects(extractZip(bomb, join(codeDir, 'bomb'), 1000), /unzipped size must be smaller than 1000 bytes/);
    await extractZip(bomb, join(codeDir, 'fits'), 2000);
    assert.ok(existsSync(join(codeDir, 'fits', 'b.bin')));
  });

  it('unpacks symbolic links as links (pnpm’s node_modules, library versions), never one to write through', async () => {
    const link = (target: string): [Uint8Array, { os: number; attrs: number }] => [strToU8(target), { os: 3, attrs: (0o120777 << 16) >>> 0 }];
    const zip = zipSync({
      'target.js': strToU8('exports.value = "through the link";'),
      'link.js': link('target.js'),
      'lib/libx.so.1.2': strToU8('library'),
      'lib/libx.so': link('libx.so.1.2'),
      'index.js': strToU8('exports.handler = async () => require("./link.js").value;'),
    });
    const dir = join(codeDir, 'links');
    await extractZip(zip, dir);
    assert.equal(await readlink(join(dir, 'link.js')), 'target.js');
    assert.equal(await readFile(join(dir, 'lib', 'libx.so'), 'utf8'), 'library');
    const codeKey = createHash('sha256').update(zip).digest('hex');
    zips.set(codeKey, zip);
    const result = await call({ ...spec({ revisionId: 'links' }), codeKey }, {});
    assert.equal(result.functionError, undefined, result.payload);
    assert.equal(JSON.parse(result.payload), 'through the link');
    // A link to a directory outside, and an entry below it: written through the link, the entry
    // would land outside the package (as root, anywhere). Links are made last, inside the root only.
    const outside = await mkdtemp(join(tmpdir(), 'trib-outside-'));
    try {
      const through = zipSync({ 'escape': link(outside), 'escape/planted.js': strToU8('x'), 'index.js': strToU8('') });
      await assert.rejects(extractZip(through, join(codeDir, 'through')));
      const nested = zipSync({ 'a': link(outside), 'a/b': link('x'), 'index.js': strToU8('') });
      await assert.rejects(extractZip(nested, join(codeDir, 'nested')), /escapes the task root/);
      assert.deepEqual(await readdir(outside), []);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('refuses a package whose entries escape the task root', async () => {
    await assert.rejects(call(spec({ revisionId: 'evil' }, { '../evil.js': 'x', 'index.js': 'exports.handler=async()=>1' }), {}));
  });

  it('lets a handler require the AWS SDK, even where an earlier install left a dangling link', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trib-runtime-sdk-'));
    await mkdir(join(dir, 'node_modules'));
    await symlink(join(dir, 'moved-away', '@aws-sdk'), join(dir, 'node_modules', '@aws-sdk'), 'dir');
    const own = new SandboxPool({ codeDir: dir, region: 'us-east-1', idleTimeoutMs: 60_000, fetchCode: async (key) => zips.get(key) ?? Promise.reject(new Error('no such code')) });
    try {
      const s = spec({ revisionId: 'sdk' }, {
        'index.js': `const { S3Client } = require('@aws-sdk/client-s3'); exports.handler = async () => typeof new S3Client({}).send;`,
      });
      const result = await own.invoke(s, { requestId: randomUUID(), payload: '{}', wantLogTail: false });
      assert.equal(result.functionError, undefined, result.payload);
      assert.equal(JSON.parse(result.payload), 'function');
      // The clients handlers most often import, from CommonJS and from ES modules, as on AWS.
      const common = spec({ revisionId: 'sdk-common', handler: 'app.handler' }, {
        'app.mjs': `
          import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
          import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
          import { SQSClient } from '@aws-sdk/client-sqs';
          import { SNSClient } from '@aws-sdk/client-sns';
          import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
          import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
          import { SSMClient } from '@aws-sdk/client-ssm';
          import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
          import { KMSClient } from '@aws-sdk/client-kms';
          import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
          import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
          import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
          import { NodeHttpHandler } from '@smithy/node-http-handler';
          import { createRequire } from 'node:module';
          const require = createRequire(import.meta.url);
          const { STSClient } = require('@aws-sdk/client-sts');
          export const handler = async () => [
            DynamoDBDocumentClient.from(new DynamoDBClient({})), new SQSClient({}), new SNSClient({}), new EventBridgeClient({}),
            new SecretsManagerClient({}), new SSMClient({}), new STSClient({}), new KMSClient({ requestHandler: new NodeHttpHandler({ requestTimeout: 1_000 }) }),
            new BedrockRuntimeClient({}), new ApiGatewayManagementApiClient({ endpoint: 'http://127.0.0.1:1' }),
          ].every((client) => typeof client.send === 'function') && typeof fromTemporaryCredentials === 'function' && typeof getSignedUrl;`,
      });
      const imported = await own.invoke(common, { requestId: randomUUID(), payload: '{}', wantLogTail: false });
      assert.equal(imported.functionError, undefined, imported.payload);
      assert.equal(JSON.parse(imported.payload), 'function');
      // Every SDK package the runtime provides (its package.json says which) loads from a function.
      const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
      const provided = Object.keys(manifest.dependencies).filter((name) => name.startsWith('@aws-sdk/'));
      assert.ok(provided.length > 20, provided.join());
      const every = spec({ revisionId: 'sdk-every' }, {
        'index.js': `exports.handler = async (names) => names.filter((name) => { try { require(name); return false; } catch (e) { return true; } });`,
      });
      const missing = await own.invoke(every, { requestId: randomUUID(), payload: JSON.stringify(provided), wantLogTail: false });
      assert.equal(missing.functionError, undefined, missing.payload);
      assert.deepEqual(JSON.parse(missing.payload), []);
    } finally {
      await own.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  // Switching users needs root: a worker started as another user runs sandboxes as itself.
  it('runs function code as another user, which cannot change the package other functions share', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trib-runtime-user-'));
    const nobody = { uid: 65_534, gid: 65_534 };
    const warnings: string[] = [];
    const own = new SandboxPool({
      codeDir: dir, region: 'us-east-1', idleTimeoutMs: 60_000, runAs: nobody,
      fetchCode: async (key) => zips.get(key) ?? Promise.reject(new Error('no such code')),
      logger: { log: () => undefined, warn: (m) => void warnings.push(m), error: () => undefined },
    });
    try {
      const files = {
        'index.js': `const fs = require('node:fs');
          exports.handler = async () => {
            const tried = (f) => { try { f(); return 'done'; } catch (e) { return e.code; } };
            return { uid: process.getuid(), overwrite: tried(() => fs.writeFileSync(__filename, 'exports.handler = async () => "tampered";')),
              add: tried(() => fs.writeFileSync(__dirname + '/added.js', '')),
              tmp: tried(() => { const f = require('node:os').tmpdir() + '/trib-' + process.pid; fs.writeFileSync(f, ''); fs.unlinkSync(f); }) };
          };`,
      };
      // Unpacked earlier (a worker before this one) with the owner-only modes a zip may carry.
      const asNobody = spec({ revisionId: 'as-nobody' }, files);
      const unpacked = join(dir, asNobody.codeKey);
      await extractZip(zips.get(asNobody.codeKey) ?? new Uint8Array(), unpacked);
      await chmod(join(unpacked, 'index.js'), 0o600);
      await chmod(unpacked, 0o700);
      const first = JSON.parse((await own.invoke(asNobody, { requestId: randomUUID(), payload: '{}', wantLogTail: false })).payload);
      if (!readableBy(fileURLToPath(new URL('./node-runtime/bootstrap.js', import.meta.url)), nobody)) {
        // This checkout sits where nobody may not enter (a mktemp directory, a home): the pool says
        // so and keeps sandboxes as root rather than start runtimes that cannot load.
        assert.equal(own.sandboxUser, undefined);
        assert.match(warnings.join('\n'), /uid 65534 cannot read /);
        assert.equal(first.uid, 0);
        return;
      }
      assert.deepEqual(own.sandboxUser, nobody);
      // Mounted read-only at /var/task the package refuses writes as AWS's does (EROFS); elsewhere its modes do.
      const refused = own.privateMounts ? 'EROFS' : 'EACCES';
      assert.deepEqual(first, { uid: 65_534, overwrite: refused, add: refused, tmp: 'done' });
      // Another function from the same zip finds the package as it was uploaded.
      const other = await own.invoke(spec({ name: 'other', revisionId: 'as-nobody-2' }, files), { requestId: randomUUID(), payload: '{}', wantLogTail: false });
      assert.equal(JSON.parse(other.payload).overwrite, refused);
    } finally {
      await own.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("runs a runtime whose Node.js the sandboxes' users cannot read on the worker's own, and keeps their uids", { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    // A runtime on a Node.js other than the worker's own (the worker's major differs by host).
    const [runtime, real] = Object.entries(nodeRuntimes().execPaths).find(([, path]) => path !== process.execPath) ?? [];
    assert.ok(runtime && real, 'the Node.js of another runtime is installed (npm ci)');
    const runtimeMajor = runtime.slice('nodejs'.length, -'.x'.length);
    const dir = await mkdtemp('/var/lib/trib-runtime-private-');
    await chmod(dir, 0o711);
    // Where only root may enter: as if whoever ran npm ci had a umask of 077.
    const hidden = join(dir, 'runtimes');
    await mkdir(hidden, { mode: 0o700 });
    const installed = dirname(dirname(real));
    await symlink(installed, join(hidden, basename(installed)));
    const range = { uid: 61_140, gid: 65_534, count: 2 };
    const warnings: string[] = [];
    const own = new SandboxPool({
      codeDir: join(dir, 'code'), tmpRoot: join(dir, 'scratch'), region: 'us-east-1', idleTimeoutMs: 60_000, runAs: range, nodeRuntimesDir: hidden,
      fetchCode: async (key) => zips.get(key) ?? Promise.reject(new Error('no such code')),
      logger: { log: () => undefined, warn: (m) => void warnings.push(m), error: () => undefined },
    });
    try {
      const s = spec({ name: 'hidden-node', revisionId: 'p1', runtime }, { 'index.js': 'exports.handler = async () => ({ uid: process.getuid(), version: process.version });' });
      const outcome = await own.invoke(s, { requestId: randomUUID(), payload: '{}', wantLogTail: false });
      assert.equal(outcome.functionError, undefined, outcome.payload);
      const seen = JSON.parse(outcome.payload) as { uid: number; version: string };
      if (!readableBy(fileURLToPath(new URL('./node-runtime/bootstrap.js', import.meta.url)), range)) {
        // A checkout the users cannot enter keeps sandboxes as root, who may run every runtime's Node.js.
        assert.deepEqual({ user: own.sandboxUser, uid: seen.uid }, { user: undefined, uid: 0 });
        assert.match(seen.version, new RegExp(`^v${runtimeMajor}\\.`));
        return;
      }
      assert.ok(seen.uid >= range.uid && seen.uid < range.uid + range.count, String(seen.uid));
      assert.equal(seen.version, process.version);
      assert.match(warnings.join('\n'), new RegExp(`${runtime.replace(/\./g, '\\.')} runs on this worker's Node\\.js ${process.version.replace(/\./g, '\\.')}: uid 61140 cannot read `));
    } finally {
      await own.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives a sandbox user a home where no passwd names it, so that an AWS SDK client can start', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    const dir = await mkdtemp('/var/lib/trib-runtime-home-');
    await chmod(dir, 0o711);
    // Outside the ranges of the other tests and of e2e stacks; no account of the host has it.
    const user = { uid: 61_110, gid: 65_534 };
    const own = new SandboxPool({
      codeDir: join(dir, 'code'), tmpRoot: join(dir, 'scratch'), region: 'us-east-1', idleTimeoutMs: 60_000, runAs: user, privateMounts: false,
      fetchCode: async (key) => zips.get(key) ?? Promise.reject(new Error('no such code')),
    });
    const files = {
      'index.js': `const os = require('node:os');
        const { S3Client } = require('@aws-sdk/client-s3');
        exports.handler = async () => {
          // A client with the default providers reads ~/.aws/config and ~/.aws/credentials.
          const client = new S3Client({});
          const region = await client.config.region().catch((e) => e.name);
          await new Promise((resolve) => setTimeout(resolve, 100));
          return { pid: process.pid, uid: process.getuid(), home: os.homedir(), tmpdir: os.tmpdir(), region };
        };`,
    };
    try {
      const s = spec({ name: 'homeless', revisionId: 'h1' }, files);
      const first = await own.invoke(s, { requestId: randomUUID(), payload: '{}', wantLogTail: false });
      if (!readableBy(fileURLToPath(new URL('./node-runtime/bootstrap.js', import.meta.url)), user)) {
        // A checkout where others may not enter keeps sandboxes as root (a test above shows it).
        assert.equal(own.sandboxUser, undefined);
        return;
      }
      assert.equal(own.privateMounts, false);
      assert.equal(first.functionError, undefined, first.payload);
      const seen = JSON.parse(first.payload) as { pid: number; uid: number; home: string; tmpdir: string; region: string };
      assert.deepEqual({ uid: seen.uid, home: seen.home, region: seen.region }, { uid: user.uid, home: seen.tmpdir, region: 'us-east-1' });
      // The SDK's look for config files did not end the process: the warm sandbox answers again.
      const again = await own.invoke(s, { requestId: randomUUID(), payload: '{}', wantLogTail: false });
      assert.equal(again.functionError, undefined, again.payload);
      assert.equal((JSON.parse(again.payload) as { pid: number }).pid, seen.pid);
    } finally {
      await own.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("runs each sandbox as a user of its own, which cannot read another's environment or /tmp through /proc, nor signal it", { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    // Outside /tmp and SHARED_WRITABLE_DIRS, which sandboxes' mounts cover: the code directory must
    // be hidden by itself. Root runs this test, and may make it here.
    const dir = await mkdtemp('/var/lib/trib-runtime-users-');
    await chmod(dir, 0o711); // the sandboxes' users pass through to the code and scratch dirs
    // Outside the default range (60000–60999) that e2e stacks running beside this test hand out.
    const range = { uid: 61_100, gid: 65_534, count: 3 };
    // As if an earlier worker, killed, had left it: a process of the range, in a session of its own.
    const leftover = spawn('sleep', ['30'], { uid: range.uid + 1, gid: range.gid, detached: true, stdio: 'ignore' });
    leftover.unref();
    const own = new SandboxPool({
      codeDir: join(dir, 'code'), tmpRoot: join(dir, 'scratch'), region: 'us-east-1', idleTimeoutMs: 60_000, runAs: range,
      fetchCode: async (key) => zips.get(key) ?? Promise.reject(new Error('no such code')),
    });
    const files = {
      'index.js': `const fs = require('node:fs');
        const tried = (f) => { try { return f() ?? 'done'; } catch (e) { return e.code; } };
        exports.handler = async (event) => {
          if (event.wait) await new Promise((resolve) => setTimeout(resolve, event.wait));
          if (event.hostile) {
            // Stops every process of its uid, as it may: a killer running as that uid would be one.
            const loop = require('node:child_process').spawn('/bin/sh', ['-c', 'sleep 0.2; while :; do kill -STOP -1 2>/dev/null; done'], { detached: true, stdio: 'ignore' });
            loop.unref();
            return { escaped: loop.pid };
          }
          if (!event.spy) {
            fs.writeFileSync(require('node:os').tmpdir() + '/victim-file', 'x');
            // In a session of its own: out of the sandbox's process group.
            const escaped = event.escape ? require('node:child_process').spawn('sleep', ['30'], { detached: true, stdio: 'ignore' }) : undefined;
            escaped?.unref();
            return { pid: process.pid, uid: process.getuid(), user: tried(() => require('node:os').userInfo().username), api: process.env.AWS_LAMBDA_RUNTIME_API, escaped: escaped?.pid };
          }
          const pids = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p) && Number(p) !== process.pid);
          return {
            uid: process.getuid(),
            environ: pids.filter((p) => tried(() => fs.readFileSync('/proc/' + p + '/environ', 'utf8')).includes('VICTIM_SECRET')),
            root: tried(() => fs.readdirSync('/proc/' + event.spy + '/root/tmp')),
            signal: tried(() => void process.kill(event.spy, 0)),
            code: tried(() => fs.readdirSync(event.codeDir)),
            // The victim's runtime waits on its GET /next: one more would take its next event.
            next: await new Promise((resolve) => {
              const req = require('node:http').get('http://' + event.api + '/2018-06-01/runtime/invocation/next', (res) => { res.resume(); resolve(res.statusCode); });
              req.on('error', (e) => resolve(e.code));
              req.setTimeout(1000, () => { req.destroy(); resolve('waiting'); });
            }),
          };
        };`,
    };
    const run = async (s: FunctionSpec, event: unknown) => {
      const outcome = await own.invoke(s, { requestId: randomUUID(), payload: JSON.stringify(event), wantLogTail: false });
      assert.equal(outcome.functionError, undefined, outcome.payload);
      return JSON.parse(outcome.payload) as Record<string, unknown>;
    };
    try {
      if (!readableBy(fileURLToPath(new URL('./node-runtime/bootstrap.js', import.meta.url)), range)) {
        // A checkout where others may not enter keeps sandboxes as root (the test above shows it).
        assert.equal(own.sandboxUser, undefined);
        leftover.kill('SIGKILL');
        return;
      }
      // Every process of a uid the pool gives up is killed: a range with an account in it is refused.
      const pool = (runAs: { uid: number; gid: number; count: number }) =>
        new SandboxPool({ codeDir: join(dir, 'code'), region: 'us-east-1', idleTimeoutMs: 60_000, runAs, fetchCode: async () => new Uint8Array() });
      assert.throws(() => pool({ uid: 65_533, gid: 65_534, count: 3 }), /include accounts of this host \(nobody \(65534\)\): pick a range no account uses/);
      const victimSpec = spec({ name: 'victim', revisionId: 'v1', environment: { VICTIM_SECRET: 'hunter2' } }, files);
      const victim = await run(victimSpec, { escape: true });
      assert.equal(leftover.exitCode ?? leftover.signalCode ?? (await new Promise((resolve) => leftover.once('exit', (_c, signal) => resolve(signal)))), 'SIGKILL', 'the leftover was killed before the range was used');
      const spy = await run(spec({ name: 'spy', revisionId: 's1' }, files), { spy: victim['pid'], codeDir: join(dir, 'code'), api: victim['api'] });
      assert.deepEqual(
        { environ: spy['environ'], root: spy['root'], signal: spy['signal'], next: spy['next'] },
        { environ: [], root: 'EACCES', signal: 'EPERM', next: 'ECONNRESET' },
      );
      // …and the victim still gets its own next event.
      assert.equal((await run(victimSpec, {}))['pid'], victim['pid']);
      // With mounts of its own, the packages of all functions are out of its sight, its own at /var/task.
      if (own.privateMounts) assert.deepEqual(spy['code'], []);
      assert.notEqual(spy['uid'], victim['uid']);
      for (const uid of [victim['uid'], spy['uid']]) assert.ok(Number(uid) >= range.uid && Number(uid) < range.uid + range.count, `uid ${String(uid)} in the range`);
      // In its mount namespace the sandbox's passwd names its user, as AWS's names sbx_user1051.
      if (own.privateMounts) assert.equal(victim['user'], `sbx_user${String(victim['uid'])}`);
      // The range is used in turn. Full, the sandbox idle longest (the spy: the victim ran since) gives its uid up.
      await run(spec({ name: 'third', revisionId: 't1' }, files), {});
      const fourth = await run(spec({ name: 'fourth', revisionId: 'f1' }, files), {});
      assert.equal(fourth['uid'], spy['uid']);
      // What a sandbox started out of its process group goes with it, rather than live on under a uid another gets.
      const escaped = Number(victim['escaped']);
      assert.doesNotThrow(() => process.kill(escaped, 0), 'the escaped process runs while its sandbox does');
      const gone = (pid: number) => !isRunning(pid);
      own.retire('victim');
      await waitFor('the escaped process to end with its sandbox', () => gone(escaped));
      const hostile = Number((await run(spec({ name: 'hostile', revisionId: 'h1' }, files), { hostile: true }))['escaped']);
      await new Promise((resolve) => setTimeout(resolve, 500)); // it has begun stopping its uid's processes
      own.retire('hostile');
      await waitFor('a process that stops its uid’s processes to end too', () => gone(hostile));
      // With every uid running an invocation, one more fails rather than share a uid.
      const busy = spec({ name: 'busy', revisionId: 'b1' }, files);
      const outcomes = await Promise.allSettled(
        [1, 2, 3, 4].map(() => own.invoke(busy, { requestId: randomUUID(), payload: JSON.stringify({ wait: 1000 }), wantLogTail: false })),
      );
      assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 3);
      const [refused] = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error] : []));
      assert.match(refused?.message ?? '', /all 3 sandbox users \(uids 61100–61102\) belong to running sandboxes/);
    } finally {
      await own.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("holds a sandbox of a uid of its own to AWS's 1,024 processes and threads, so that a fork bomb fails inside it", { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    const dir = await mkdtemp('/var/lib/trib-runtime-nproc-');
    await chmod(dir, 0o711);
    // Outside the ranges of the other tests and of e2e stacks.
    const range = { uid: 61_130, gid: 65_534, count: 2 };
    const own = new SandboxPool({
      codeDir: join(dir, 'code'), tmpRoot: join(dir, 'scratch'), region: 'us-east-1', idleTimeoutMs: 60_000, runAs: range,
      fetchCode: async (key) => zips.get(key) ?? Promise.reject(new Error('no such code')),
    });
    const files = {
      'index.js': `const { spawn } = require('node:child_process');
        exports.handler = async () => {
          const limits = require('node:fs').readFileSync('/proc/self/limits', 'utf8');
          // Its own process group, killed below: the sleeps it started go with it.
          const sh = spawn('/bin/sh', ['-c', 'i=0; while [ $i -lt 1100 ]; do sleep 30 >/dev/null 2>&1 & i=$((i+1)); done; echo $i'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          let err = '';
          sh.stdout.on('data', (d) => { out += d; });
          sh.stderr.on('data', (d) => { err += d; });
          const code = await new Promise((resolve) => sh.once('close', resolve));
          try { process.kill(-sh.pid, 'SIGKILL'); } catch { /* none of them is left */ }
          return { uid: process.getuid(), processes: /^Max processes.*$/m.exec(limits)[0], out: out.trim(), err: err.trim(), code };
        };`,
    };
    try {
      // A thousand forks take a few seconds on two cores.
      const s = spec({ name: 'forker', revisionId: 'n1', timeout: 60 }, files);
      const outcome = await own.invoke(s, { requestId: randomUUID(), payload: '{}', wantLogTail: false });
      assert.equal(outcome.functionError, undefined, outcome.payload);
      if (!readableBy(fileURLToPath(new URL('./node-runtime/bootstrap.js', import.meta.url)), range)) {
        // A checkout where others may not enter keeps sandboxes as root, whom RLIMIT_NPROC does not hold.
        assert.equal(own.sandboxUser, undefined);
        return;
      }
      const seen = JSON.parse(outcome.payload) as { uid: number; processes: string; out: string; err: string; code: number };
      assert.ok(seen.uid >= range.uid && seen.uid < range.uid + range.count, String(seen.uid));
      assert.match(seen.processes, /^Max processes\s+1024\s+1024\s+processes/);
      // The shell could not start its 1,100 sleeps: a fork failed with EAGAIN, inside the sandbox.
      assert.notEqual(seen.out, '1100');
      assert.notEqual(seen.code, 0);
      assert.match(seen.err, /fork|Resource temporarily unavailable/i);
      // The function's own sandbox goes on.
      const again = await own.invoke(s, { requestId: randomUUID(), payload: '{}', wantLogTail: false });
      assert.equal(again.functionError, undefined, again.payload);
    } finally {
      await own.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('logs what a runtime wrote as it died between invocations: a rejection after the response, a timer that throws while idle', async () => {
    const s = spec({ revisionId: 'stray' }, {
      'index.js': `exports.handler = async (event) => {
        if (event.m === 'late') Promise.reject(new Error('rejected after the answer'));
        if (event.m === 'timer') setTimeout(() => { throw new TypeError('thrown while idle'); }, 50);
        return process.pid;
      };`,
    });
    for (const [mode, line] of [['late', /\tERROR\tUnhandled Promise Rejection ?\t.*rejected after the answer/], ['timer', /\tERROR\tUncaught Exception ?\t.*thrown while idle/]] as const) {
      const requestId = randomUUID();
      const first = await pool.invoke(s, { requestId, payload: JSON.stringify({ m: mode }), wantLogTail: true });
      assert.equal(first.functionError, undefined, first.payload);
      // The invocation's own log was complete before the runtime died: the line comes on its own,
      // under that invocation's request id, once the process is gone.
      const stray = await waitFor(`the ${mode} crash's log`, () => logs.find((text) => line.test(text)));
      assert.ok(stray.includes(requestId), stray);
      assert.doesNotMatch(stray, /^(START|END|REPORT) /m);
      // And the function goes on, in a new sandbox.
      const next = await call(s, {});
      assert.notEqual(JSON.parse(next.payload), JSON.parse(first.payload));
    }
  });

  it('gives each sandbox a /tmp of its own, empty at every cold start, and its package read-only at /var/task', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trib-runtime-scratch-'));
    const tmpRoot = join(dir, 'scratch');
    const warnings: string[] = [];
    const own = new SandboxPool({
      codeDir: join(dir, 'code'), tmpRoot, region: 'us-east-1', idleTimeoutMs: 60_000,
      fetchCode: async (key) => zips.get(key) ?? Promise.reject(new Error('no such code')),
      logger: { log: () => undefined, warn: (m) => void warnings.push(m), error: () => undefined },
    });
    const files = {
      'index.js': `const fs = require('node:fs');
        const tmp = process.env.LITERAL_TMP ? '/tmp' : require('node:os').tmpdir();
        exports.handler = async (event) => {
          const tried = (f) => { try { return f() ?? 'done'; } catch (e) { return e.code; } };
          if (event.write) fs.writeFileSync(tmp + '/note', event.write);
          if (event.fill !== undefined) {
            // How big /tmp says it is, and (fill: true) how many MB of writes it takes before one fails.
            const { bsize, blocks } = fs.statfsSync('/tmp');
            if (!event.fill) return { size: bsize * blocks };
            const chunk = Buffer.alloc(1024 * 1024, 1);
            const fd = fs.openSync('/tmp/fill', 'w');
            let mb = 0;
            const failed = tried(() => { for (;;) { fs.writeSync(fd, chunk); mb += 1; } });
            fs.closeSync(fd);
            fs.rmSync('/tmp/fill');
            return { size: bsize * blocks, mb, failed };
          }
          // A System V shared memory segment (util-linux's ipcmk), then the segments this sandbox sees.
          if (event.shm) require('node:child_process').execFileSync('ipcmk', ['-M', '4096'], { stdio: 'ignore' });
          const segments = fs.readFileSync('/proc/sysvipc/shm', 'utf8').trim().split('\\n').length - 1;
          return { seen: tried(() => fs.readFileSync(tmp + '/note', 'utf8')), cwd: process.cwd(), root: process.env.LAMBDA_TASK_ROOT,
            dirname: __dirname, tmpdir: require('node:os').tmpdir(), oldpwd: process.env.OLDPWD ?? null, writeTask: tried(() => fs.writeFileSync(__dirname + '/added.js', '')),
            segments,
            // Only where they should be read-only: elsewhere the probe would leave its files on the host.
            shared: process.env.LITERAL_TMP ? ${JSON.stringify(SHARED_WRITABLE_DIRS)}.filter((d) => fs.existsSync(d)).map((d) => d + ' ' + tried(() => fs.writeFileSync(d + '/left-by-' + process.pid, 'x'))).join(', ') : null };
        };`,
    };
    // With mounts of its own a handler's literal '/tmp' is private; without, only os.tmpdir() is.
    const environment: Record<string, string> = own.privateMounts ? { LITERAL_TMP: '1' } : {};
    // Sandboxes with mounts of their own get IPC of their own too (without, a segment made here would outlive the test).
    const ownIpc = own.privateMounts && PRIVATE_IPC;
    const first = spec({ name: 'scratch-a', revisionId: 'a1', environment }, files);
    const second = spec({ name: 'scratch-b', revisionId: 'b1', environment }, files);
    const run = async (s: FunctionSpec, event: unknown) => {
      const outcome = await own.invoke(s, { requestId: randomUUID(), payload: JSON.stringify(event), wantLogTail: false });
      assert.equal(outcome.functionError, undefined, outcome.payload);
      return JSON.parse(outcome.payload) as Record<string, string>;
    };
    try {
      const wrote = await run(first, { write: 'from a', shm: ownIpc });
      assert.equal(wrote.seen, 'from a');
      assert.equal(wrote.oldpwd, null, 'the host directory the sandbox started in is not in its environment');
      assert.equal((await run(second, {})).seen, 'ENOENT', 'another function does not see it');
      assert.equal((await run(first, {})).seen, 'from a', 'a warm sandbox keeps its /tmp');
      own.retire('scratch-a');
      assert.equal((await run({ ...first, revisionId: 'a2' }, {})).seen, 'ENOENT', 'a cold start begins with an empty /tmp');
      if (own.privateMounts) {
        assert.deepEqual(
          { cwd: wrote.cwd, root: wrote.root, dirname: wrote.dirname, tmpdir: wrote.tmpdir, writeTask: wrote.writeTask },
          { cwd: '/var/task', root: '/var/task', dirname: '/var/task', tmpdir: '/tmp', writeTask: 'EROFS' },
        );
        // Only /tmp is writable, as on AWS: nothing is left for other functions in the host's shared directories.
        const shared = SHARED_WRITABLE_DIRS.filter((d) => existsSync(d));
        assert.ok(shared.length > 0);
        assert.equal(wrote.shared, shared.map((d) => `${d} EROFS`).join(', '));
        // /tmp holds the function's ephemeral storage and no more, as on AWS.
        const full = await run({ ...first, revisionId: 'a3', timeout: 60 }, { fill: true });
        assert.deepEqual({ size: full.size, failed: full.failed }, { size: 512 * 1024 * 1024, failed: 'ENOSPC' });
        assert.ok(Number(full.mb) > 500 && Number(full.mb) <= 512, `${full.mb} MB written`);
        assert.equal((await run({ ...first, revisionId: 'a4', ephemeralStorageMb: 10_240 }, { fill: false })).size, 10_240 * 1024 * 1024);
      }
      if (ownIpc) {
        // Each sandbox has IPC objects of its own: the segment the first made is its alone.
        assert.equal(Number(wrote.segments), 1);
        assert.equal(Number((await run(second, {})).segments), 0);
      } else {
        assert.notEqual(wrote.tmpdir, tmpdir());
        assert.match(warnings.join('\n'), /sandboxes share the host's \/tmp/);
      }
    } finally {
      await own.close();
    }
    try {
      // Each sandbox's directory went with it.
      assert.deepEqual(readdirSync(tmpRoot), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("removes the /tmp directories a killed worker left, and nothing else", async () => {
    const root = await mkdtemp(join(tmpdir(), 'trib-runtime-abandoned-'));
    try {
      const exited = spawn(process.execPath, ['-e', '']);
      await new Promise((resolve) => exited.once('exit', resolve));
      const left = [`${exited.pid}-0123456789ab`, `${process.pid}-0123456789ab`];
      for (const name of [...left, 'unrelated', `${process.ppid}-0123456789ab`]) await mkdir(join(root, name));
      await writeFile(join(root, `${exited.pid}-0123456789ab.passwd`), '');
      const made = await new ScratchDirs(root).create();
      assert.deepEqual(readdirSync(root).sort(), [`${process.ppid}-0123456789ab`, basename(made.path), 'unrelated'].sort());
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('tells whether a user may read a path, by the mode of every directory above it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trib-runtime-modes-'));
    try {
      const inner = join(dir, 'inner');
      await mkdir(inner, { mode: 0o755 });
      await writeFile(join(inner, 'file.js'), '', { mode: 0o644 });
      const stranger = { uid: 54_321, gid: 54_321 };
      await chmod(dir, 0o700);
      assert.equal(readableBy(join(inner, 'file.js'), stranger), false);
      await chmod(dir, 0o711);
      assert.equal(readableBy(join(inner, 'file.js'), stranger), true);
      await chmod(join(inner, 'file.js'), 0o600);
      assert.equal(readableBy(join(inner, 'file.js'), stranger), false);
      assert.equal(readableBy(join(inner, 'missing.js'), stranger), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
