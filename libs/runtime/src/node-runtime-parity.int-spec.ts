import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { LAMBDA_LIMITS, SUPPORTED_RUNTIMES, type FunctionSpec } from '@tributary/contracts';
import { buildZip, startGate } from '@tributary/testing';
import { SandboxPool } from './sandbox-pool.js';
import type { InvokeRequest } from './sandbox.js';

// Where the Node.js runtime must answer as AWS's runtime interface client does (its Runtime.js,
// CallbackContext.js, Errors.js, UserFunction.js, LogPatch.js, InvokeContext.js).
describe('Node.js runtime parity with AWS (real child processes)', { timeout: 180_000 }, () => {
  let codeDir: string;
  let pool: SandboxPool;
  const zips = new Map<string, Uint8Array>();

  const spec = (files: Record<string, string>, overrides: Partial<FunctionSpec> = {}, executable: string[] = []): FunctionSpec => {
    const zip = buildZip(files, executable);
    const codeKey = createHash('sha256').update(zip).digest('hex');
    zips.set(codeKey, zip);
    return {
      name: 'parity', version: '$LATEST', arn: 'arn:aws:lambda:us-east-1:000000000000:function:parity', runtime: 'nodejs20.x',
      handler: 'index.handler', timeout: 3, memorySize: 128, ephemeralStorageMb: 512, environment: {}, codeKey, revisionId: randomUUID(), logGroup: '/aws/lambda/parity',
      ...overrides,
    };
  };
  const call = (s: FunctionSpec, event: unknown, request: Partial<InvokeRequest> = {}) =>
    pool.invoke(s, { requestId: randomUUID(), payload: JSON.stringify(event), wantLogTail: true, ...request });
  const tail = (outcome: { logTail?: string }): string => Buffer.from(outcome.logTail ?? '', 'base64').toString();
  const payload = (outcome: { payload: string }): unknown => JSON.parse(outcome.payload);
  const errorOf = (outcome: { payload: string; functionError?: string }): [string, string] => {
    const { errorType, errorMessage } = JSON.parse(outcome.payload) as { errorType: string; errorMessage: string };
    assert.equal(outcome.functionError, 'Unhandled');
    return [errorType, errorMessage];
  };

  before(async () => {
    codeDir = await mkdtemp(join(tmpdir(), 'trib-parity-'));
    pool = new SandboxPool({
      codeDir,
      region: 'us-east-1',
      idleTimeoutMs: 60_000,
      fetchCode: async (key) => zips.get(key) ?? Promise.reject(new Error('no such code')),
    });
  });

  after(async () => {
    await pool.close();
    await rm(codeDir, { recursive: true, force: true });
  });

  describe('callbackWaitsForEmptyEventLoop and handlers that never answer', () => {
    it('answers a callback only once the event loop is empty, unless the flag is false', async () => {
      // The timer changes the result object after the callback: what the caller gets says when it was serialized.
      const s = spec({
        'index.js': `exports.handler = (event, context, callback) => {
          const body = { flag: context.callbackWaitsForEmptyEventLoop, state: 'callback called' };
          if (event.wait === false) context.callbackWaitsForEmptyEventLoop = false;
          setTimeout(() => { body.state = 'timer ran'; }, 10);
          callback(null, body);
        };`,
      });
      assert.deepEqual(payload(await call(s, { wait: true })), { flag: true, state: 'timer ran' });
      assert.deepEqual(payload(await call(s, { wait: false })), { flag: true, state: 'callback called' });
    });

    it('answers null for a synchronous handler, ignoring its return value, and for a callback never called', async () => {
      const returns = spec({ 'index.js': `exports.handler = (event) => ({ a: 1 });` });
      const first = await call(returns, {});
      assert.equal(first.functionError, undefined, first.payload);
      assert.equal(first.payload, 'null');
      const forgets = spec({ 'index.js': `exports.handler = (event, context, callback) => { setTimeout(() => console.log('timer ran'), 10); };` });
      const forgot = await call(forgets, {});
      assert.equal(forgot.functionError, undefined, forgot.payload);
      assert.equal(forgot.payload, 'null');
      assert.match(tail(forgot), /\tINFO\ttimer ran\n/);
    });

    it('fails an async handler whose promise never settles with Runtime.NodeJsExit, and keeps the sandbox', async () => {
      const s = spec({ 'index.js': `exports.handler = async (event) => event.hang ? new Promise(() => {}) : process.pid;` });
      const hung = await call(s, { hang: true });
      assert.equal(hung.functionError, 'Unhandled');
      assert.equal(hung.errorType, 'Runtime.NodeJsExit');
      const error = payload(hung) as { errorType: string; errorMessage: string };
      assert.equal(error.errorType, 'Runtime.NodeJsExit');
      assert.match(error.errorMessage, /Promise that was never settled/);
      assert.match(tail(hung), /\tERROR\tInvoke Error \t\{"errorType":"Runtime.NodeJsExit"/);
      // The runtime carries on: the same process serves the next invocation.
      const pid = payload(await call(s, {}));
      assert.equal(typeof pid, 'number');
      assert.equal(payload(await call(s, {})), pid);
    });

    it('answers a plain function that returns a promise by that promise, or null when it never settles', async () => {
      const s = spec({
        'index.js': `exports.handler = (event) => event.hang ? new Promise(() => {}) : new Promise((resolve) => setTimeout(() => resolve({ resolved: true }), 10));`,
      });
      assert.deepEqual(payload(await call(s, {})), { resolved: true });
      const hung = await call(s, { hang: true });
      assert.equal(hung.functionError, undefined, hung.payload);
      assert.equal(hung.payload, 'null');
    });
  });

  describe('error payloads', () => {
    it('calls the handler as AWS does, as a method of a Runtime: its stack frame and a function handler\'s `this` say so', async () => {
      const thrown = await call(spec({ 'index.mjs': `export const handler = async () => { throw new Error('boom'); };` }), {});
      const { trace } = payload(thrown) as { trace: string[] };
      assert.equal(trace[0], 'Error: boom');
      assert.match(trace[1] ?? '', /^ {4}at Runtime\.handler \(file:\/\/.*\/index\.mjs:1:\d+\)$/);
      // One Runtime for the process, as AWS's: what a handler keeps on `this` lasts.
      const self = spec({ 'index.js': `exports.handler = function (event, context, callback) { this.calls = (this.calls || 0) + 1; callback(null, [this.constructor.name, this.calls]); };` });
      assert.deepEqual(payload(await call(self, {})), ['Runtime', 1]);
      assert.deepEqual(payload(await call(self, {})), ['Runtime', 2]);
    });

    it('fails a result, or an error, over the 6 MB response limit with Function.ResponseSizeTooLarge', async () => {
      const s = spec({
        'index.js': `exports.handler = async (event) => {
          const big = 'x'.repeat(7 * 1024 * 1024);
          if (event.throw) throw new Error(big);
          return event.small ? 'small' : event.length ? 'x'.repeat(event.length) : big;
        };`,
      }, { memorySize: 512 });
      for (const event of [{}, { throw: true }]) {
        const outcome = await call(s, event);
        assert.ok(outcome.payload.length < 1024, `a ${outcome.payload.length}-character payload`);
        assert.deepEqual(errorOf(outcome), ['Function.ResponseSizeTooLarge', 'Response payload size exceeded maximum allowed payload size (6291556 bytes).']);
      }
      assert.equal(payload(await call(s, { small: true })), 'small');
      // The limit is AWS's 6 MB and 100 bytes: a JSON string's quotes make 6291556 bytes of 6291554 characters.
      const atLimit = await call(s, { length: 6_291_554 });
      assert.equal(atLimit.functionError, undefined);
      assert.equal(atLimit.payload.length, 6_291_556);
      assert.equal(errorOf(await call(s, { length: 6_291_555 }))[0], 'Function.ResponseSizeTooLarge');
    });

    it('reports null, undefined and context.fail() as AWS does', async () => {
      const s = spec({
        'index.js': `exports.handler = async (event, context) => {
          if (event.mode === 'null') throw null;
          if (event.mode === 'undefined') throw undefined;
          if (event.mode === 'object') throw { code: 1 };
          if (event.mode === 'string') throw 'plain words';
        };
        exports.fails = (event, context) => { context.fail(); };
        exports.throwsNull = () => { throw null; };`,
      });
      const handled = { errorType: 'string', errorMessage: 'handled', trace: [] };
      assert.deepEqual(payload(await call(s, { mode: 'null' })), handled);
      assert.deepEqual(payload(await call(s, { mode: 'undefined' })), handled);
      assert.deepEqual(payload(await call({ ...s, handler: 'index.fails', revisionId: randomUUID() }, {})), handled);
      assert.deepEqual(payload(await call(s, { mode: 'object' })), { errorType: 'object', errorMessage: '[object Object]', trace: [] });
      assert.deepEqual(payload(await call(s, { mode: 'string' })), { errorType: 'string', errorMessage: 'plain words', trace: [] });
      // A synchronous throw goes through the callback on AWS, where null is no error.
      const syncNull = await call({ ...s, handler: 'index.throwsNull', revisionId: randomUUID() }, {});
      assert.equal(syncNull.functionError, undefined, syncNull.payload);
      assert.equal(syncNull.payload, 'null');
    });

    it('fails a result that cannot be serialized', async () => {
      const s = spec({
        'index.js': `exports.handler = async (event) => {
          if (event.big) return { n: 1n };
          const loop = {}; loop.self = loop; return loop;
        };`,
      });
      for (const event of [{ big: true }, {}]) {
        const outcome = await call(s, event);
        assert.equal(outcome.functionError, 'Unhandled');
        const error = payload(outcome) as { errorType: string; errorMessage: string; trace: string[] };
        assert.equal(error.errorType, 'Error');
        assert.equal(error.errorMessage, 'Unable to stringify response body');
        assert.equal(error.trace[0], 'Error: Unable to stringify response body');
      }
    });

    it('reports handlers that cannot be found or loaded with AWS’s types and messages', async () => {
      const files = {
        'index.js': `exports.handler = async () => 'ok'; exports.notAFunction = 42;`,
        'nested/deep.js': `exports.api = {};`,
        'broken.js': 'exports.handler = async () => {',
        'esm.mjs': `import 'no-such-package'; export const handler = async () => 'never';`,
      };
      const initError = async (handler: string) => payload(await call(spec(files, { handler }), {})) as { errorType: string; errorMessage: string };
      const notAFunction = await initError('index.notAFunction');
      assert.equal(notAFunction.errorType, 'Runtime.HandlerNotFound');
      assert.equal(notAFunction.errorMessage, 'index.notAFunction is not a function');
      assert.equal((await initError('nested/deep.api.missing')).errorMessage, 'nested/deep.api.missing is undefined or not exported');
      const noDot = await initError('index');
      assert.equal(noDot.errorType, 'Runtime.MalformedHandlerName');
      assert.equal(noDot.errorMessage, 'Bad handler');
      const escaping = await initError('../index.handler');
      assert.equal(escaping.errorType, 'Runtime.MalformedHandlerName');
      assert.equal(escaping.errorMessage, "'../index.handler' is not a valid handler name. Use absolute paths when specifying root directories in handler names.");
      const missing = await initError('lib/nope.handler');
      assert.equal(missing.errorType, 'Runtime.ImportModuleError');
      assert.equal(missing.errorMessage, "Error: Cannot find module 'nope'\nRequire stack:\n- /var/runtime/index.mjs");
      const syntax = await initError('broken.handler');
      assert.equal(syntax.errorType, 'Runtime.UserCodeSyntaxError');
      assert.match(syntax.errorMessage, /^SyntaxError: /);
      // Only CommonJS's MODULE_NOT_FOUND is wrapped; an ES module's missing import is reported as thrown.
      const esm = await initError('esm.handler');
      assert.equal(esm.errorType, 'Error');
      assert.match(esm.errorMessage, /Cannot find package 'no-such-package'/);
    });

    it('cuts an init off at 10 s and runs it again within the invocation, under the function timeout, as AWS does', async () => {
      // Slow module code: it writes a line each time it runs, then takes 10.5 s.
      const files = { 'index.js': `console.log('init ran'); require('node:child_process').execFileSync('sleep', ['10.5']); exports.handler = async () => 'ready';` };
      // Slow only before a deadline: a second invocation that starts later warms a sandbox of its own quickly,
      // and the first one's retry must still run its init again, in a new sandbox, not take that warm one.
      const deadline = Date.now() + 3000;
      const once = spec({ 'index.js': `console.log('init ran at ' + Date.now()); if (Date.now() < ${deadline}) require('node:child_process').execFileSync('sleep', ['10.5']); exports.handler = async () => 'ready';` });
      const slowFirst = call(once, {});
      await new Promise((resolve) => setTimeout(resolve, 3500));
      assert.equal(payload(await call(once, {})), 'ready');
      const [retried, tooShort, raced] = await Promise.all([call(spec(files, { timeout: 20 }), {}), call(spec(files, { timeout: 3 }), {}), slowFirst]);
      assert.equal(payload(raced), 'ready');
      assert.equal(raced.coldStart, true);
      assert.match(tail(raced), /Status: timeout\n(.*\n)?.*init ran at \d+\nSTART /);
      assert.equal(payload(retried), 'ready');
      const log = tail(retried);
      // The first init's output and AWS's report of it, then the second init's, inside the invocation.
      assert.match(log, /init ran\n(.*\n)?INIT_REPORT Init Duration: 1\d{4}\.\d\d ms\tPhase: init\tStatus: timeout\n(.*\n)?.*init ran\nSTART RequestId: /);
      const report = /REPORT RequestId: \S+\tDuration: (\d+\.\d\d) ms\t.*/.exec(log);
      assert.ok(report && Number(report[1]) > 10_000, log);
      assert.doesNotMatch(report[0], /Init Duration/);
      assert.equal(retried.initDurationMs, undefined);
      // With 3 s, the retried init cannot finish: the invocation times out.
      assert.deepEqual(errorOf(tooShort), ['Sandbox.Timedout', `RequestId: ${/START RequestId: (\S+)/.exec(tail(tooShort))?.[1]} Error: Task timed out after 3.00 seconds`]);
    });

    it('runs a failed init again within the invocation, as AWS resets and retries it, and reports both', async () => {
      // An init that fails once: the first run starts before the deadline and throws after it.
      const deadline = Date.now() + 4000;
      const flaky = spec({ 'index.js': `const started = Date.now();
        if (started < ${deadline}) { require('node:child_process').execFileSync('sleep', [String((${deadline} - started + 100) / 1000)]); throw new Error('not yet'); }
        exports.handler = async () => 'second init';` });
      const recovered = await call(flaky, {});
      assert.equal(payload(recovered), 'second init');
      assert.match(tail(recovered), /\tERROR\tUncaught Exception \t\{"errorType":"Error","errorMessage":"not yet"[^\n]*\n(.*\n)?INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\tStatus: error\tError Type: Error\nSTART RequestId: /);
      assert.doesNotMatch(tail(recovered), /Status: error\tError Type: Error\t\n$/);
      // One that fails both times: each run's report, then the invocation's, which names the error.
      const broken = await call(spec({ 'index.js': `require('no-such-dependency'); exports.handler = async () => 'never';` }), {});
      assert.equal(errorOf(broken)[0], 'Runtime.ImportModuleError');
      const log = tail(broken);
      assert.equal(log.match(/Uncaught Exception/g)?.length, 2, log);
      assert.match(log, /\nINIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error\tError Type: Runtime\.ImportModuleError\n/);
      assert.match(log, /\nINIT_REPORT Init Duration: [\d.]+ ms\tPhase: invoke\tStatus: error\tError Type: Runtime\.ImportModuleError\nSTART RequestId: \S+ Version: \$LATEST\nEND RequestId: \S+\nREPORT RequestId: .*\tStatus: error\tError Type: Runtime\.ImportModuleError\t\n$/);
      assert.equal(broken.initDurationMs, undefined);
      // A throw from a timer of module code reaches the Runtime API after the first /next: still the init's.
      const late = await call(spec({ 'index.js': `setTimeout(() => { throw new RangeError('late'); }, 0); exports.handler = async () => 'never';` }), {});
      assert.deepEqual(errorOf(late), ['RangeError', 'late']);
      assert.match(tail(late), /Phase: init\tStatus: error\tError Type: RangeError\n(.*\n)*INIT_REPORT Init Duration: [\d.]+ ms\tPhase: invoke\tStatus: error\tError Type: RangeError\nSTART /);
      // Module code that exits: the same, as Runtime.ExitError.
      const exits = await call(spec({ 'index.js': `process.exit(2);` }), {});
      assert.deepEqual(errorOf(exits)[0], 'Runtime.ExitError');
      assert.match(tail(exits), /Phase: init\tStatus: error\tError Type: Runtime\.ExitError\n(.*\n)*INIT_REPORT Init Duration: [\d.]+ ms\tPhase: invoke\tStatus: error\tError Type: Runtime\.ExitError\nSTART /);
    });

    it('fails the init with a rejection or a throw that module code left behind, and names no reason as AWS does', async () => {
      const failed = async (files: Record<string, string>) => errorOf(await call(spec(files), {}));
      assert.deepEqual(await failed({ 'index.js': `Promise.reject(new Error('init rejection')); exports.handler = async () => 'ok';` }), ['Runtime.UnhandledPromiseRejection', 'Error: init rejection']);
      assert.deepEqual(await failed({ 'index.mjs': `Promise.reject(new TypeError('esm rejection')); export const handler = async () => 'ok';` }), ['Runtime.UnhandledPromiseRejection', 'TypeError: esm rejection']);
      assert.deepEqual(await failed({ 'index.js': `setTimeout(() => { throw new RangeError('from a timer'); }, 0); exports.handler = async () => 'ok';` }), ['RangeError', 'from a timer']);
      // AWS's message is the reason's toString(): empty when there is no reason.
      assert.deepEqual(await failed({ 'index.js': `exports.handler = async () => { Promise.reject(); await new Promise(() => {}); };` }), ['Runtime.UnhandledPromiseRejection', '']);
      assert.deepEqual(await failed({ 'index.js': `exports.handler = async () => { Promise.reject(null); await new Promise(() => {}); };` }), ['Runtime.UnhandledPromiseRejection', 'null']);
    });

    it("traces an unhandled rejection by AWS's wrapping error, which logs the reason itself beside the promise", async () => {
      const outcome = await call(spec({ 'index.js': `exports.handler = async () => { Promise.reject(new Error('rejected!')); await new Promise((r) => setTimeout(r, 200)); };` }), {});
      const { trace } = payload(outcome) as { trace: string[] };
      assert.equal(trace[0], 'Runtime.UnhandledPromiseRejection: Error: rejected!');
      assert.match(tail(outcome), /\tERROR\tUnhandled Promise Rejection \t\{"errorType":"Runtime\.UnhandledPromiseRejection","errorMessage":"Error: rejected!","reason":\{"errorType":"Error","errorMessage":"rejected!","stack":\["Error: rejected!",[^\]]*\]\},"promise":\{\},"stack":\["Runtime\.UnhandledPromiseRejection: Error: rejected!"/);
    });

    it('refuses a handler that takes a callback from Node.js 24 on, telling it by its arity, and warns of one before, as AWS does', async () => {
      const files = {
        'index.js': `exports.callback = (event, context, callback) => callback(null, 'called back');
          exports.asyncWithThree = async (event, context, callback) => 'returned';
          exports.asyncWithTwo = async (event, context) => 'returned';
          exports.streaming = awslambda.streamifyResponse(async (event, responseStream, context) => { responseStream.end('streamed'); });`,
      };
      for (const handler of ['index.callback', 'index.asyncWithThree']) {
        const refused = await call(spec(files, { handler, runtime: 'nodejs24.x' }), {});
        assert.deepEqual(errorOf(refused), [
          'Runtime.CallbackHandlerDeprecated',
          'ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. You need to modify this function to use a supported handler signature to use Node.js 24 or later. For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.',
        ]);
        assert.match(tail(refused), /Runtime\.CallbackHandlerDeprecated/);
        // Node.js 22 and earlier still take callbacks, and warn at init of a synchronous one.
        const taken = await call(spec(files, { handler, runtime: 'nodejs22.x' }), {});
        assert.equal(taken.payload, handler === 'index.callback' ? '"called back"' : '"returned"');
        assert.equal(/\tundefined\tWARN\tAWS Lambda plans to remove support for callback-based function handlers starting with Node\.js 24\./.test(tail(taken)), handler === 'index.callback', tail(taken));
      }
      const quiet = await call(spec(files, { handler: 'index.callback', runtime: 'nodejs22.x', environment: { AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING: '1' } }), {});
      assert.equal(quiet.payload, '"called back"');
      assert.doesNotMatch(tail(quiet), /WARN/);
      assert.equal((await call(spec(files, { handler: 'index.asyncWithTwo', runtime: 'nodejs24.x' }), {})).payload, '"returned"');
      // A streaming handler's third parameter is its context, not a callback.
      assert.equal((await call(spec(files, { handler: 'index.streaming', runtime: 'nodejs24.x' }), {})).payload, 'streamed');
    });
  });

  it('looks for modules where AWS does: no extension first, then node_modules, under /var/task, and on NODE_PATH', async () => {
    const files = {
      app: `exports.handler = async () => 'extensionless';`,
      'app.js': `exports.handler = async () => 'app.js';`,
      'node_modules/packaged/index.js': `exports.handler = async () => 'from node_modules';`,
      'src/nested.mjs': `export const handler = async () => 'nested';`,
      'lib/util.js': `exports.value = 'found from the task root';`,
      'src/deep/uses-root.js': `exports.handler = async () => require('lib/util').value;`,
      'src/handlers/index.js': `exports.main = async () => 'directory index';`,
      'src/app/package.json': `{ "main": "server.js" }`,
      'src/app/server.js': `exports.handler = async () => 'package main';`,
    };
    const answer = async (handler: string) => {
      const outcome = await call(spec(files, { handler }), {});
      assert.equal(outcome.functionError, undefined, outcome.payload);
      return payload(outcome);
    };
    assert.equal(await answer('app.handler'), 'extensionless');
    assert.equal(await answer('packaged.handler'), 'from node_modules');
    assert.equal(await answer('/var/task/src/nested.handler'), 'nested');
    // NODE_PATH holds the task root, as on AWS.
    assert.equal(await answer('src/deep/uses-root.handler'), 'found from the task root');
    // A directory is required as a module: its index.js, or its package.json's main.
    assert.equal(await answer('src/handlers.main'), 'directory index');
    assert.equal(await answer('src/app.handler'), 'package main');
  });

  describe("nodejs24.x, on version 4 of AWS's runtime interface client", () => {
    const on = (runtime: string, files: Record<string, string>, handler = 'index.handler') => spec(files, { runtime, handler });

    it('answers what a synchronous handler returns, where version 3 answers null', async () => {
      const files = { 'index.js': `exports.handler = (event) => ({ statusCode: 200, body: 'hi' });` };
      assert.deepEqual(payload(await call(on('nodejs24.x', files), {})), { statusCode: 200, body: 'hi' });
      assert.equal((await call(on('nodejs22.x', files), {})).payload, 'null');
      // A synchronous throw is the invocation's error in both.
      const thrown = { 'index.js': `exports.handler = (event) => { throw new TypeError('sync'); };` };
      assert.deepEqual(errorOf(await call(on('nodejs24.x', thrown), {})), ['TypeError', 'sync']);
    });

    it("gives the handler version 4's context, without done, succeed, fail or callbackWaitsForEmptyEventLoop", async () => {
      const files = { 'index.mjs': `export const handler = async (event, context) => ({ keys: Object.keys(context), succeed: typeof context.succeed, waits: 'callbackWaitsForEmptyEventLoop' in context });` };
      assert.deepEqual(payload(await call(on('nodejs24.x', files), {})), {
        keys: ['clientContext', 'identity', 'invokedFunctionArn', 'awsRequestId', 'tenantId', 'xRayTraceId', 'getRemainingTimeInMillis', 'functionName', 'functionVersion', 'memoryLimitInMB', 'logGroupName', 'logStreamName'],
        succeed: 'undefined',
        waits: false,
      });
      const legacy = payload(await call(on('nodejs22.x', files), {})) as { succeed: string; waits: boolean };
      assert.deepEqual([legacy.succeed, legacy.waits], ['function', true]);
    });

    it("finds a handler in a module's default export, where version 3 does not, and imports CommonJS as version 4 does", async () => {
      const files = { 'index.mjs': `export default { handler: async () => 'from default' };` };
      assert.equal(payload(await call(on('nodejs24.x', files), {})), 'from default');
      assert.deepEqual(errorOf(await call(on('nodejs22.x', files), {})), ['Runtime.HandlerNotFound', 'index.handler is undefined or not exported']);
      // TypeScript's CommonJS `export default`: imported, its `default` is module.exports itself.
      const compiled = { 'index.js': `Object.defineProperty(exports, '__esModule', { value: true }); exports.default = async () => 'compiled';` };
      assert.equal(payload(await call(on('nodejs22.x', compiled, 'index.default'), {})), 'compiled');
      assert.deepEqual(errorOf(await call(on('nodejs24.x', compiled, 'index.default'), {})), ['Runtime.HandlerNotFound', 'index.default is not a function']);
    });

    it("calls the handler from version 4's invoke processor, and keeps a syntax error's own trace", async () => {
      const files = { 'index.mjs': `export const handler = async function () { return [this.constructor.name, new Error('here').stack.split('\\n')[1].trim().split(' ')[1]]; };` };
      assert.deepEqual(payload(await call(on('nodejs24.x', files), {})), ['BufferedInvokeProcessor', 'BufferedInvokeProcessor.handler']);
      assert.deepEqual(payload(await call(on('nodejs22.x', files), {})), ['Runtime', 'Runtime.handler']);
      const broken = { 'index.js': `exports.handler = async () => {;` };
      const syntax = payload(await call(on('nodejs24.x', broken), {})) as { errorType: string; trace: string[] };
      assert.equal(syntax.errorType, 'Runtime.UserCodeSyntaxError');
      assert.match(syntax.trace[0] ?? '', /index\.js:1$/);
      const before = payload(await call(on('nodejs22.x', broken), {})) as { trace: string[] };
      assert.match(before.trace[0] ?? '', /^Runtime\.UserCodeSyntaxError: SyntaxError: /);
    });

    it('fails a result that cannot be serialized with Runtime.JSONStringifyError, and logs an init failure and init lines as version 4 does', async () => {
      const circular = await call(on('nodejs24.x', { 'index.js': `exports.handler = async () => { const loop = {}; loop.self = loop; return loop; };` }), {});
      assert.deepEqual(errorOf(circular), ['Runtime.JSONStringifyError', 'Unable to stringify response body']);
      const missing = await call(on('nodejs24.x', { 'index.js': `console.log('loading'); exports.other = async () => 1;` }), {});
      assert.deepEqual(errorOf(missing), ['Runtime.HandlerNotFound', 'index.handler is undefined or not exported']);
      assert.match(tail(missing), /\t-\tINFO\tloading\n/);
      assert.match(tail(missing), /\t-\tERROR\tInit Error \t\{"errorType":"Runtime\.HandlerNotFound"/);
      const before = await call(on('nodejs22.x', { 'index.js': `console.log('loading'); exports.other = async () => 1;` }), {});
      assert.match(tail(before), /\tundefined\tINFO\tloading\n[\s\S]*\tundefined\tERROR\tUncaught Exception \t\{"errorType":"Runtime\.HandlerNotFound"/);
    });
  });

  it('runs each runtime on its own Node.js, as AWS does: nodejs22.x on Node.js 22, nodejs24.x on 24, nodejs26.x on 26', async () => {
    // The rest of this suite runs nodejs20.x: here the runtime's core on each Node.js, ES module and CommonJS.
    for (const runtime of SUPPORTED_RUNTIMES) {
      const s = spec(
        {
          'index.mjs': `export const handler = async (event, context) => {
            if (event.fail) throw new TypeError('no ' + event.fail);
            console.log('on', process.version);
            return { version: process.version, env: process.env.AWS_EXECUTION_ENV, left: context.getRemainingTimeInMillis(), id: context.awsRequestId };
          };`,
          'legacy.js': `exports.handler = async () => require('./lib.mjs').answer;`,
          'lib.mjs': `export const answer = 42;`,
        },
        { runtime, handler: 'index.handler' },
      );
      const requestId = randomUUID();
      const outcome = await call(s, {}, { requestId });
      assert.equal(outcome.functionError, undefined, outcome.payload);
      const seen = payload(outcome) as { version: string; env: string; left: number; id: string };
      assert.match(seen.version, new RegExp(`^v${runtime.replace(/^nodejs(\d+)\.x$/, '$1')}\\.`), runtime);
      assert.deepEqual({ env: seen.env, id: seen.id }, { env: `AWS_Lambda_${runtime}`, id: requestId });
      assert.ok(seen.left > 0 && seen.left <= 3000, String(seen.left));
      assert.match(tail(outcome), new RegExp(`\\tINFO\\ton ${seen.version.replace(/\./g, '\\.')}\\n[\\s\\S]*REPORT RequestId: ${requestId}`));
      // A thrown error in AWS's shape, and the warm sandbox answers after it.
      assert.deepEqual(errorOf(await call(s, { fail: 'luck' })), ['TypeError', 'no luck']);
      assert.equal((payload(await call(s, {})) as { version: string }).version, seen.version);
      // A CommonJS handler that requires an ES module: Node.js 20.19 and later load it; 18 cannot.
      const legacy = await call({ ...s, handler: 'legacy.handler', revisionId: randomUUID() }, {});
      if (runtime === 'nodejs18.x') assert.match(errorOf(legacy)[1], /require\(\) of ES Module/);
      else assert.equal(payload(legacy), 42);
    }
  });

  it('keeps each invocation in the invoke store a bundled @aws/lambda-invoke-store finds, as AWS\'s runtime does', async () => {
    // The real package, bundled as a function ships it (the AWS SDK v3's core depends on it).
    const pkg = join(dirname(createRequire(import.meta.url).resolve('@aws/lambda-invoke-store')), '..');
    const s = spec({
      'node_modules/@aws/lambda-invoke-store/package.json': await readFile(join(pkg, 'package.json'), 'utf8'),
      'node_modules/@aws/lambda-invoke-store/dist-cjs/invoke-store.js': await readFile(join(pkg, 'dist-cjs', 'invoke-store.js'), 'utf8'),
      'index.js': `const { InvokeStore } = require('@aws/lambda-invoke-store');
        exports.handler = async (event) => {
          const store = await InvokeStore.getInstanceAsync();
          const before = store.get('user') ?? null;
          store.set('user', event.user);
          await new Promise((resolve) => setTimeout(resolve, 5));
          let refused = null;
          try { store.set(Symbol.for('_AWS_LAMBDA_REQUEST_ID'), 'forged'); } catch (e) { refused = e.message; }
          return { requestId: store.getRequestId(), traceId: store.getXRayTraceId() ?? null, envTrace: process.env._X_AMZN_TRACE_ID ?? null, before, user: store.get('user'), refused };
        };`,
    });
    for (const user of ['ada', 'grace']) {
      const requestId = randomUUID();
      const seen = payload(await call(s, { user }, { requestId })) as Record<string, unknown>;
      assert.equal(seen['requestId'], requestId);
      assert.ok(typeof seen['traceId'] === 'string' && seen['traceId'] === seen['envTrace'], JSON.stringify(seen));
      // What an invocation set is gone at the next.
      assert.deepEqual({ before: seen['before'], user: seen['user'] }, { before: null, user });
      assert.match(String(seen['refused']), /^Cannot modify protected Lambda context field/);
    }
  });

  it("counts getRemainingTimeInMillis() down past zero, as AWS's does, for a context kept beyond its invocation", async () => {
    const s = spec({
      'index.js': `let kept;
        exports.handler = async (event, context) => {
          if (event.read) return kept.getRemainingTimeInMillis();
          kept = context;
          return context.getRemainingTimeInMillis();
        };`,
    }, { timeout: 1 });
    const first = payload(await call(s, {})) as number;
    assert.ok(first > 0 && first <= 1000, String(first));
    await new Promise((resolve) => setTimeout(resolve, 1300));
    const later = payload(await call(s, { read: true })) as number;
    assert.ok(later < -200 && later > -10_000, String(later));
  });

  it('finds a CommonJS module\'s `default` export, as TypeScript and esbuild compile `export default`', async () => {
    const files = {
      'index.js': `"use strict"; Object.defineProperty(exports, "__esModule", { value: true }); exports.default = async (event) => 'default ' + event.n;`,
      'plain.js': `exports.default = async () => 'plain default'; exports.handler = async () => 'plain handler';`,
      'esm.mjs': `export default async () => 'esm default';`,
    };
    const answer = async (handler: string) => {
      const outcome = await call(spec(files, { handler }), { n: 1 });
      assert.equal(outcome.functionError, undefined, outcome.payload);
      return payload(outcome);
    };
    assert.equal(await answer('index.default'), 'default 1');
    assert.equal(await answer('plain.default'), 'plain default');
    assert.equal(await answer('plain.handler'), 'plain handler');
    assert.equal(await answer('esm.default'), 'esm default');
  });

  it('requires a CommonJS handler from the runtime, as AWS does, and walks the handler path on what the module exports', async () => {
    const files = {
      // "Run me directly" guards stay quiet: the module has a parent, AWS's /var/runtime/index.mjs.
      'guarded.js': `if (!module.parent) require('node:http').createServer().listen(0);
        exports.handler = (event, context, callback) => callback(null, { parent: module.parent && module.parent.id, main: require.main === module });`,
      'needs-missing.js': `require('no-such-dependency'); exports.handler = async () => 'never';`,
      'whole.js': `module.exports = async () => 'module.exports';`,
      'default-object.mjs': `export default { handler: async () => 'inside default' };`,
      'esm/package.json': '{ "type": "module" }',
      'esm/app.js': `export const handler = async () => typeof require;`,
      'old.cjs': `exports.handler = async () => typeof module.exports;`,
      // A file that exports nothing truthy is passed over for the next extension.
      'falsy.js': `module.exports = null;`,
      'falsy.mjs': `export const handler = async () => 'the .mjs after a falsy .js';`,
      'nothing.js': `module.exports = 0;`,
    };
    const outcome = async (handler: string) => call(spec(files, { handler, timeout: 2 }), {});
    assert.deepEqual(payload(await outcome('guarded.handler')), { parent: '/var/runtime/index.mjs', main: false });
    const missing = payload(await outcome('needs-missing.handler')) as { errorType: string; errorMessage: string };
    assert.equal(missing.errorType, 'Runtime.ImportModuleError');
    assert.match(missing.errorMessage, /^Error: Cannot find module 'no-such-dependency'\nRequire stack:\n- .*needs-missing\.js\n- \/var\/runtime\/index\.mjs$/);
    // module.exports itself is no `default`, and an ES module's default export is no namespace.
    for (const handler of ['whole.default', 'default-object.handler']) {
      assert.deepEqual(errorOf(await outcome(handler)), ['Runtime.HandlerNotFound', `${handler} is undefined or not exported`]);
    }
    assert.equal(payload(await outcome('esm/app.handler')), 'undefined');
    assert.equal(payload(await outcome('old.handler')), 'object');
    assert.equal(payload(await outcome('falsy.handler')), 'the .mjs after a falsy .js');
    // With nothing after it, the package lookup finds the same file again (NODE_PATH holds /var/task, as on AWS).
    assert.deepEqual(errorOf(await outcome('nothing.handler')), ['Runtime.HandlerNotFound', 'nothing.handler is undefined or not exported']);
  });

  describe('console and environment', () => {
    it('has console.fatal, and sets _X_AMZN_TRACE_ID per invocation', async () => {
      const s = spec({ 'index.js': `exports.handler = async () => { console.fatal('all is lost'); return process.env._X_AMZN_TRACE_ID ?? null; };` });
      for (const traceId of ['Root=1-00000001-000000000000000000000001;Sampled=0', 'Root=1-00000002-000000000000000000000002;Sampled=1']) {
        const outcome = await call(s, {}, { traceId });
        assert.equal(outcome.functionError, undefined, outcome.payload);
        assert.equal(payload(outcome), traceId);
        assert.match(tail(outcome), /\tFATAL\tall is lost\n/);
      }
      // One of its own for an invocation that came without: root, parent and sampling, as AWS's.
      const own = await call(s, {});
      assert.match(String(payload(own)), /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$/);
      // And a new one for each: the random part of the next is not the last one's again.
      const next = await call(s, {});
      assert.match(String(payload(next)), /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$/);
      assert.notEqual(String(payload(next)).slice(16), String(payload(own)).slice(16));
    });

    it('defines awslambda.streamifyResponse, and answers a streaming handler with its whole stream', async () => {
      const s = spec({
        'index.mjs': `export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
          responseStream.write('hello ');
          await new Promise((resolve) => setTimeout(resolve, 5));
          responseStream.end(event.word + ' from ' + context.functionName);
        });`,
      });
      const streamed = await call(s, { word: 'stream' });
      assert.equal(streamed.functionError, undefined, streamed.payload);
      assert.equal(streamed.payload, 'hello stream from parity');
      const unfinished = spec({ 'index.mjs': `export const handler = awslambda.streamifyResponse(async (event, responseStream) => { responseStream.write('x'); });` });
      assert.deepEqual(errorOf(await call(unfinished, {})), ['Error', 'Response stream is not finished.']);
      const notAsync = spec({ 'index.mjs': `export const handler = awslambda.streamifyResponse((event, responseStream) => { responseStream.end('x'); });` });
      assert.deepEqual(errorOf(await call(notAsync, {})), ['Error', 'Streaming does not support non-async handlers.']);
    });

    it('gives a streaming handler AWS’s stream: setContentType, pipeline, objects written as JSON, bytes kept', async () => {
      // AWS's own example: a content type, then a readable piped into the response stream.
      const piped = spec({
        'index.mjs': `import { pipeline } from 'node:stream/promises';
          import { Readable } from 'node:stream';
          export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
            responseStream.setContentType('text/plain');
            await pipeline(Readable.from(['a', 'b', 'c']), responseStream);
          });`,
      });
      const outcome = await call(piped, {});
      assert.equal(outcome.functionError, undefined, outcome.payload);
      assert.equal(outcome.payload, 'abc');
      const objects = spec({
        'index.mjs': `export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
          responseStream.write({ a: 1 });
          responseStream.end([2]);
        });`,
      });
      const written = await call(objects, {});
      assert.equal(written.functionError, undefined, written.payload);
      assert.equal(written.payload, '{"a":1}[2]');
      assert.equal(written.payloadEncoding, undefined);
      // Bytes that are not text (an image) reach the caller as they were written, not as U+FFFD.
      const binary = spec({
        'index.mjs': `export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
          responseStream.setContentType('image/png');
          responseStream.write(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff]));
          responseStream.end(new Uint8Array([0x00, 0x80, 0xfe]));
        });`,
      });
      const bytes = await call(binary, {});
      assert.equal(bytes.functionError, undefined, bytes.payload);
      assert.equal(bytes.payloadEncoding, 'base64');
      assert.deepEqual([...Buffer.from(bytes.payload, 'base64')], [0x89, 0x50, 0x4e, 0x47, 0xff, 0x00, 0x80, 0xfe]);
    });

    it("writes HttpResponseStream's prelude before the first write, refuses a content type once bytes went, and warns of a returned value, as AWS's stream does", async () => {
      const prelude = spec({
        'index.mjs': `export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
          const stream = awslambda.HttpResponseStream.from(responseStream, { statusCode: 201, headers: { 'x-a': 'b' } });
          stream.write('body');
          stream.end();
          return 'ignored';
        });`,
      });
      const framed = await call(prelude, {});
      assert.equal(framed.functionError, undefined, framed.payload);
      assert.deepEqual(Buffer.from(framed.payload, framed.payloadEncoding === 'base64' ? 'base64' : 'utf8'), Buffer.concat([Buffer.from('{"statusCode":201,"headers":{"x-a":"b"}}'), Buffer.alloc(8), Buffer.from('body')]));
      assert.match(tail(framed), /\tWARN\tStreaming handlers ignore return values\.\n/);
      const late = spec({
        'index.mjs': `export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
          responseStream.write('a');
          if (event.prelude) awslambda.HttpResponseStream.from(responseStream, { statusCode: 200 });
          else responseStream.setContentType('text/plain');
          responseStream.end();
        });`,
      });
      for (const event of [{}, { prelude: true }]) {
        const refused = await call(late, event);
        assert.deepEqual(errorOf(refused), ['Runtime.InvalidStreamingOperation', 'Cannot set content-type, too late.']);
      }
    });

    it('sends a streaming handler’s bytes to onChunk as it writes them, and its error after them in the end', async () => {
      const s = spec({
        'index.mjs': `export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
          responseStream.setContentType('text/plain');
          responseStream.write('first ');
          await (await fetch(event.gate)).text();
          console.log('gate passed');
          if (event.fail) throw new TypeError('after the first bytes');
          responseStream.end('second');
        });`,
      });
      for (const fail of [false, true]) {
        // The handler writes, then waits for a gate that opens only once its first bytes are
        // here: collected whole, they would come after it returned, and it would time out at the gate.
        const gate = await startGate();
        try {
          const chunks: Buffer[] = [];
          const outcome = await call(s, { gate: gate.url, fail }, {
            onChunk: (chunk) => {
              chunks.push(chunk);
              gate.open();
            },
          });
          assert.equal(outcome.streamed, fail ? undefined : true, outcome.payload);
          if (fail) {
            assert.deepEqual(errorOf(outcome), ['TypeError', 'after the first bytes']);
            assert.equal(Buffer.concat(chunks).toString(), 'first ');
            assert.match(tail(outcome), /\tERROR\tInvoke Error \t\{"errorType":"TypeError"/);
          } else {
            assert.equal(outcome.payload, '');
            assert.equal(Buffer.concat(chunks).toString(), 'first second');
          }
          assert.match(tail(outcome), /\tINFO\tgate passed\n/);
          assert.match(tail(outcome), /^REPORT RequestId: /m);
        } finally {
          await gate.close();
        }
      }
    });

    it('sends what a streaming handler wrote before it failed, and reports failures outside it and long errors at the end of the stream', async () => {
      const stream = async (source: string) => {
        const chunks: Buffer[] = [];
        const outcome = await call(spec({ 'index.mjs': `export const handler = awslambda.streamifyResponse(${source});` }), {}, { onChunk: (chunk) => void chunks.push(chunk) });
        return { outcome, sent: Buffer.concat(chunks).toString() };
      };
      // Writes still queued when the handler throws go out before its error.
      const queued = await stream(`async (event, responseStream) => { responseStream.write('a'); responseStream.write('b'); responseStream.write('c'); throw new TypeError('with writes queued'); }`);
      assert.deepEqual(errorOf(queued.outcome), ['TypeError', 'with writes queued']);
      assert.equal(queued.sent, 'abc');
      // A crash outside the handler while its stream is open is reported at once, not at the timeout.
      const crash = await stream(`async (event, responseStream) => { responseStream.write('a'); setTimeout(() => { throw new RangeError('outside the handler'); }, 20); await new Promise(() => {}); }`);
      assert.deepEqual(errorOf(crash.outcome), ['RangeError', 'outside the handler']);
      assert.equal(crash.sent, 'a');
      const rejection = await stream(`async (event, responseStream) => { responseStream.write('a'); Promise.reject(new Error('nobody waits')); await new Promise(() => {}); }`);
      assert.deepEqual(errorOf(rejection.outcome), ['Runtime.UnhandledPromiseRejection', 'Error: nobody waits']);
      // An error too long for a trailer keeps its type and the start of its message.
      const long = await stream(`async (event, responseStream) => { responseStream.write('a'); throw new SyntaxError('x'.repeat(300000)); }`);
      const [type, message] = errorOf(long.outcome);
      assert.equal(type, 'SyntaxError');
      assert.match(message, /^x{1000,}$/);
      assert.ok(message.length < 300000, String(message.length));
    });

    it('leaves no stream behind for the next invocation: a late write, a crash that ends a stream, a crash while idle', async () => {
      // A handler that returns without ending its stream, then writes from a timer: the write
      // must not open a POST that holds the runtime's one connection from the next invocation.
      const late = spec({ 'index.mjs': `export const handler = awslambda.streamifyResponse(async (event, responseStream) => { setTimeout(() => responseStream.write('late'), 30); });` });
      assert.deepEqual(errorOf(await call(late, {}, { onChunk: () => undefined })), ['Error', 'Response stream is not finished.']);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(errorOf(await call(late, {}, { onChunk: () => undefined })), ['Error', 'Response stream is not finished.']);
      // A crash that ends a stream, after which the handler still finishes: the dying runtime must
      // not take the next invocation.
      const crashing = spec({
        'index.mjs': `export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
          responseStream.write('a');
          if (event.crash) setTimeout(() => { throw new Error('crash'); }, 5);
          await new Promise((resolve) => setTimeout(resolve, 30));
          responseStream.end('b');
        });`,
      });
      assert.deepEqual(errorOf(await call(crashing, { crash: true }, { onChunk: () => undefined })), ['Error', 'crash']);
      const after = await call(crashing, {}, { onChunk: () => undefined });
      assert.equal(after.functionError, undefined, after.payload);
      // A timer that throws while the sandbox waits for work: the next invocation starts cold and
      // runs, rather than be handed that error.
      const idle = spec({ 'index.js': `exports.handler = async (event) => { if (event.arm) setTimeout(() => { throw new Error('while idle'); }, 20); return 'ran'; };` });
      assert.equal(payload(await call(idle, { arm: true })), 'ran');
      await new Promise((resolve) => setTimeout(resolve, 200));
      const next = await call(idle, {});
      assert.equal(next.functionError, undefined, next.payload);
      assert.equal(payload(next), 'ran');
      assert.equal(next.coldStart, true);
    });

    it('reports errors whose name is no header value, or very long, by the name they have', async () => {
      const named = (name: string, streaming: boolean) =>
        spec({
          'index.mjs': streaming
            ? `export const handler = awslambda.streamifyResponse(async (event, responseStream) => { responseStream.write('a'); const e = new Error('m'); e.name = ${JSON.stringify(name)}; throw e; });`
            : `export const handler = async () => { const e = new Error('m'); e.name = ${JSON.stringify(name)}; throw e; };`,
        });
      assert.deepEqual(errorOf(await call(named('エラー', false), {})), ['エラー', 'm']);
      assert.deepEqual(errorOf(await call(named('Bad\nName', true), {}, { onChunk: () => undefined })), ['Bad\nName', 'm']);
      const long = await call(named('N'.repeat(200_000), true), {}, { onChunk: () => undefined });
      assert.equal(errorOf(long)[0], 'N'.repeat(1024));
    });

    it('ends a stream that goes over the streaming limit with Function.ResponseSizeTooLarge', async () => {
      const s = spec({
        'index.mjs': `export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
          const mb = Buffer.alloc(1024 * 1024, 120);
          for (let i = 0; i <= ${LAMBDA_LIMITS.streamedResponseBytes / 1024 / 1024}; i++) responseStream.write(mb);
          responseStream.end();
        });`,
      }, { memorySize: 512 });
      let received = 0;
      const outcome = await call(s, {}, { onChunk: (chunk) => void (received += chunk.byteLength) });
      assert.equal(errorOf(outcome)[0], 'Function.ResponseSizeTooLarge');
      // All it may send, and not a byte more.
      assert.equal(received, LAMBDA_LIMITS.streamedResponseBytes);
    });

    it('keeps the newlines of a message, as AWS’s log events do', async () => {
      const s = spec({ 'index.js': `exports.handler = async () => { console.log(JSON.stringify({ a: 1 }, null, 2)); console.error(new TypeError('shown')); return 1; };` });
      const log = tail(await call(s, {}));
      assert.ok(log.includes('\tINFO\t{\n  "a": 1\n}\n'), JSON.stringify(log));
      assert.ok(log.includes('\tERROR\tTypeError: shown\n    at '), JSON.stringify(log));
      assert.ok(!log.includes('\r'), JSON.stringify(log));
    });

    it('logs a thrown error with its code and own fields, as AWS’s runtime does, and answers with type and message only', async () => {
      const s = spec({
        'index.js': `exports.handler = async (event) => {
          if (event.plain) throw { reason: 'not an Error' };
          const error = Object.assign(new Error('teapot'), { code: 'E_TEAPOT', statusCode: 418, cause: new TypeError('inner') });
          throw error;
        };`,
      });
      const outcome = await call(s, {});
      const logged = /\tERROR\tInvoke Error \t(.*)\n/.exec(tail(outcome));
      assert.ok(logged, tail(outcome));
      const line = JSON.parse(logged[1]);
      assert.deepEqual(Object.keys(line), ['errorType', 'errorMessage', 'code', 'statusCode', 'cause', 'stack']);
      assert.deepEqual([line.errorType, line.errorMessage, line.code, line.statusCode], ['Error', 'teapot', 'E_TEAPOT', 418]);
      assert.deepEqual([line.cause.errorType, line.cause.errorMessage], ['TypeError', 'inner']); // errors inside are shown alike
      assert.match(line.stack[0], /^Error: teapot$/);
      assert.deepEqual(Object.keys(JSON.parse(outcome.payload)).sort(), ['errorMessage', 'errorType', 'trace']);
      // What is not an Error is logged as one made of it, as AWS's runtime logs it (its intoError);
      // the answer names its type.
      const plain = await call(s, { plain: true });
      const made = /\tERROR\tInvoke Error \t(.*)\n/.exec(tail(plain));
      assert.ok(made, tail(plain));
      const record = JSON.parse(made[1]);
      assert.deepEqual([record.errorType, record.errorMessage, record.stack[0]], ['Error', '[object Object]', 'Error: [object Object]']);
      assert.deepEqual(JSON.parse(plain.payload), { errorType: 'object', errorMessage: '[object Object]', trace: [] });
    });

    it('starts Node.js with the flags AWS’s bootstrap gives it (global.gc, 80 KB HTTP headers)', async () => {
      const s = spec({ 'index.js': `exports.handler = async () => { global.gc(); return [typeof global.gc, require('node:http').maxHeaderSize]; };` });
      assert.deepEqual(payload(await call(s, {})), ['function', 81920]);
    });

    it('runs the runtime through AWS_LAMBDA_EXEC_WRAPPER, as AWS’s bootstrap does, and fails init when it cannot', async () => {
      const files = {
        'index.js': `exports.handler = async () => [process.env.WRAPPED_BY, process.env.NODE_OPTIONS];`,
        // As AWS's examples: the runtime's command line arrives as arguments, the wrapper execs it.
        'wrapper.sh': '#!/bin/sh\nexport WRAPPED_BY="$(basename "$1") $#"\nexport NODE_OPTIONS="--no-deprecation"\nexec "$@"\n',
      };
      const wrapped = await call(spec(files, { environment: { AWS_LAMBDA_EXEC_WRAPPER: '/var/task/wrapper.sh' } }, ['wrapper.sh']), {});
      assert.equal(wrapped.functionError, undefined, wrapped.payload);
      const [by, options] = payload(wrapped) as [string, string];
      assert.match(by, /^node \d+$/);
      assert.equal(options, '--no-deprecation');
      for (const [wrapper, executable, message] of [
        ['/var/task/missing.sh', ['wrapper.sh'], '/var/task/missing.sh: does not exist'],
        ['/var/task/wrapper.sh', [], '/var/task/wrapper.sh: is not an executable'],
      ] as const) {
        const failed = await call(spec(files, { environment: { AWS_LAMBDA_EXEC_WRAPPER: wrapper } }, [...executable]), {});
        assert.equal(failed.errorType, 'Runtime.ExitError', failed.payload);
        assert.ok(tail(failed).includes(message), tail(failed));
      }
    });

    it('sets LD_LIBRARY_PATH to include the package and its lib/, as AWS does, unless the function sets its own', async () => {
      const files = { 'index.js': `exports.handler = async () => [process.env.LD_LIBRARY_PATH, process.env.LAMBDA_TASK_ROOT];` };
      // One package for both (a zip built again may differ in its entries' times, and so unpack elsewhere).
      const s = spec(files);
      const [path, root] = payload(await call(s, {})) as [string, string];
      assert.deepEqual(path.split(':'), ['/lib64', '/usr/lib64', root, `${root}/lib`]);
      assert.deepEqual(payload(await call({ ...s, revisionId: randomUUID(), environment: { LD_LIBRARY_PATH: '/own' } }, {})), ['/own', root]);
    });

    it('names the last invocation in a line logged after it answered, as AWS’s runtime keeps its request id', async () => {
      const s = spec({ 'index.js': `exports.handler = async (event) => { if (event.late) setTimeout(() => console.log('late'), 50); return 1; };` });
      const first = randomUUID();
      await call(s, { late: true }, { requestId: first });
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.match(tail(await call(s, {})), new RegExp(`\\t${first}\\tINFO\\tlate\\n`));
    });

    it('keeps its own calls to the Runtime API out of reach of a tracer that patches http.request', async () => {
      // As the X-Ray SDK does: every request made through the module's function goes through its wrapper.
      const s = spec({
        'index.js': `const http = require('node:http');
          let seen = 0;
          const original = http.request;
          http.request = (...args) => { seen += 1; return original(...args); };
          exports.handler = async () => seen;`,
      });
      assert.equal(payload(await call(s, {})), 0);
      // The answer, the next /next and this answer went out since, none through the wrapper.
      assert.equal(payload(await call(s, {})), 0);
    });

    it('logs `undefined` for a console call without arguments, as AWS’s runtime does', async () => {
      const s = spec({ 'index.js': `exports.handler = async () => { console.log(); console.warn(); return 1; };` });
      const log = tail(await call(s, {}));
      assert.match(log, /\tINFO\tundefined\n/, JSON.stringify(log));
      assert.match(log, /\tWARN\tundefined\n/, JSON.stringify(log));
    });
  });

  describe('JSON logs (LoggingConfig LogFormat JSON)', () => {
    const records = (log: string): Array<Record<string, unknown>> =>
      log.trimEnd().split('\n').map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          throw new Error(`not a JSON record: ${line}`);
        }
      });

    it("names a runtime error in a JSON record by AWS's class for it, as each version of AWS's runtime does", async () => {
      const files = { 'index.js': `exports.other = async () => 1;` };
      for (const [runtime, errorType] of [['nodejs22.x', 'HandlerNotFound'], ['nodejs24.x', 'HandlerNotFoundError']] as const) {
        const outcome = await call(spec(files, { runtime, jsonLogs: { applicationLogLevel: 'INFO', systemLogLevel: 'WARN' } }), {});
        assert.deepEqual(errorOf(outcome), ['Runtime.HandlerNotFound', 'index.handler is undefined or not exported']);
        // The error alone is the record's message, as AWS's runtime logs it.
        const logged = records(tail(outcome)).find((r) => r['level'] === 'ERROR')?.['message'] as Record<string, unknown> | undefined;
        assert.equal(logged?.['errorType'], errorType, tail(outcome));
      }
    });

    it('writes console calls as JSON records, from the application log level up, as AWS’s runtime does', async () => {
      const s = spec(
        {
          'index.js': `exports.handler = async (event, context) => {
            console.debug('not at WARN');
            console.info('nor this');
            console.warn('careful', 42);
            console.error({ order: 7 });
            const failure = Object.assign(new TypeError('bad input'), { code: 'E_BAD' });
            console.error('failed:', failure);
            const cycle = {}; cycle.self = cycle;
            console.error(cycle);
            console.fatal('the end');
            return [process.env.AWS_LAMBDA_LOG_FORMAT, process.env.AWS_LAMBDA_LOG_LEVEL, context.awsRequestId];
          };`,
        },
        { jsonLogs: { applicationLogLevel: 'WARN', systemLogLevel: 'WARN' } },
      );
      const outcome = await call(s, {});
      const [format, level, requestId] = payload(outcome) as string[];
      assert.deepEqual([format, level], ['JSON', 'WARN']);
      // SystemLogLevel WARN: none of the platform's records (they are INFO and DEBUG).
      const logged = records(tail(outcome));
      for (const record of logged) {
        assert.match(String(record['timestamp']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.equal(record['requestId'], requestId);
      }
      const [warned, object, failed, cyclic, fatal] = logged.map(({ timestamp: _t, requestId: _r, ...rest }) => rest);
      assert.equal(logged.length, 5, tail(outcome));
      assert.deepEqual(warned, { level: 'WARN', message: 'careful 42' });
      assert.deepEqual(object, { level: 'ERROR', message: { order: 7 } });
      // Several arguments: one formatted message, and the first error's fields beside it.
      assert.equal(failed?.['message'], `failed: ${String((failed?.['stackTrace'] as string[]).join('\n'))} {\n  code: 'E_BAD'\n}`);
      assert.deepEqual([failed?.['errorType'], failed?.['errorMessage'], (failed?.['stackTrace'] as string[])[0]], ['TypeError', 'bad input', 'TypeError: bad input']);
      // What JSON cannot hold is formatted instead.
      assert.deepEqual(cyclic, { level: 'ERROR', message: '<ref *1> { self: [Circular *1] }' });
      assert.deepEqual(fatal, { level: 'FATAL', message: 'the end' });
    });

    it('logs a handler’s error as a JSON record, and frames the invocation with the platform’s records at the system log level', async () => {
      const s = spec(
        { 'index.js': `exports.handler = async (event) => { console.log('working'); if (event.fail) throw Object.assign(new RangeError('too far'), { limit: 3 }); return 'ok'; };` },
        { jsonLogs: { applicationLogLevel: 'INFO', systemLogLevel: 'INFO' }, revisionId: randomUUID() },
      );
      const ok = await call(s, {});
      const [start, worked, report] = records(tail(ok));
      assert.equal(records(tail(ok)).length, 3, tail(ok));
      assert.deepEqual({ ...start, time: undefined }, { time: undefined, type: 'platform.start', record: { requestId: (worked as { requestId: string }).requestId, version: '$LATEST' } });
      assert.equal(worked?.['message'], 'working');
      assert.equal(report?.['type'], 'platform.report');
      const reported = report?.['record'] as { requestId: string; status: string; metrics: Record<string, number> };
      assert.equal(reported.status, 'success');
      assert.equal(reported.requestId, worked?.['requestId']);
      assert.deepEqual(Object.keys(reported.metrics).sort(), ['billedDurationMs', 'durationMs', 'initDurationMs', 'maxMemoryUsedMB', 'memorySizeMB']);
      assert.equal(reported.metrics['memorySizeMB'], 128);
      // A cold start is billed its init too; the record's figures are rounded to 0.01 ms, so within 1 ms.
      const billable = Number(reported.metrics['durationMs']) + Number(reported.metrics['initDurationMs']);
      assert.ok(Math.abs(Number(reported.metrics['billedDurationMs']) - Math.ceil(billable)) <= 1, JSON.stringify(reported.metrics));

      const failed = await call(s, { fail: true });
      assert.deepEqual(errorOf(failed), ['RangeError', 'too far']);
      const logged = records(tail(failed));
      assert.deepEqual(logged.map((r) => r['type'] ?? r['level']), ['platform.start', 'INFO', 'ERROR', 'platform.report']);
      // AWS's runtime logs the error alone as the message (no "Invoke Error" label), with its own fields.
      const message = logged[2]?.['message'] as Record<string, unknown>;
      assert.deepEqual({ ...message, stackTrace: (message['stackTrace'] as string[])[0] }, { errorType: 'RangeError', errorMessage: 'too far', stackTrace: 'RangeError: too far', limit: 3 });
      const failure = logged[3]?.['record'] as Record<string, unknown>;
      assert.deepEqual([failure['status'], failure['errorType'], 'initDurationMs' in (failure['metrics'] as object)], ['error', 'RangeError', false]);
    });

    it('adds platform.runtimeDone at system log level DEBUG, and reports a timeout by its status', async () => {
      const s = spec(
        { 'index.js': `exports.handler = async (event) => { if (event.hang) await new Promise(() => setInterval(() => {}, 1000)); return 1; };` },
        { jsonLogs: { applicationLogLevel: 'INFO', systemLogLevel: 'DEBUG' }, timeout: 1, revisionId: randomUUID() },
      );
      assert.deepEqual(records(tail(await call(s, {}))).map((r) => r['type']), ['platform.start', 'platform.runtimeDone', 'platform.report']);
      const timedOut = await call(s, { hang: true });
      assert.equal(timedOut.errorType, 'Sandbox.Timedout');
      const [, done, report] = records(tail(timedOut)) as Array<{ record: Record<string, unknown> }>;
      assert.deepEqual([done?.record['status'], report?.record['status'], report?.record['errorType']], ['timeout', 'timeout', 'Sandbox.Timedout']);
    });

    it('keeps text logs, and every level, for a function without JSON logging', async () => {
      const s = spec({ 'index.js': `exports.handler = async () => { console.debug('fine detail'); return process.env.AWS_LAMBDA_LOG_FORMAT ?? null; };` }, { revisionId: randomUUID() });
      const outcome = await call(s, {});
      assert.equal(payload(outcome), null);
      assert.match(tail(outcome), /^START RequestId: \S+ Version: \$LATEST\n.*\tDEBUG\tfine detail\nEND RequestId: /);
    });
  });

  describe('memory', () => {
    it('fails an invocation that goes over its memory size with Runtime.OutOfMemory, and starts the next cold', async () => {
      // Off-heap memory (Buffer) is not capped by V8's heap limit: only the RSS check sees it.
      const s = spec({
        'index.js': `exports.handler = async (event) => {
          if (event.hog) Buffer.alloc(200 * 1024 * 1024, 1);
          return process.pid;
        };`,
      });
      const pid = payload(await call(s, {}));
      const requestId = randomUUID();
      const answered: string[] = [];
      const hog = await call(s, { hog: true }, { requestId, onResponse: (r) => answered.push(r.errorType ?? 'none') });
      assert.deepEqual(answered, ['Runtime.OutOfMemory']);
      assert.equal(hog.functionError, 'Unhandled');
      assert.deepEqual(payload(hog), { errorType: 'Runtime.OutOfMemory', errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: signal: killed` });
      assert.match(tail(hog), new RegExp(`\\nEND RequestId: ${requestId}\\nREPORT RequestId: ${requestId}\\t.*\\tStatus: error\\tError Type: Runtime\\.OutOfMemory\\t\\n`));
      assert.equal(hog.maxMemoryUsedMb, 128);
      const next = await call(s, {});
      assert.equal(next.coldStart, true);
      assert.notEqual(payload(next), pid);
    });

    it('kills a function that goes over its memory size and then waits, with Runtime.OutOfMemory, not at its timeout', async () => {
      const s = spec({
        'index.js': `exports.handler = async () => {
          const held = Buffer.alloc(200 * 1024 * 1024, 1);
          await new Promise((resolve) => setTimeout(resolve, 60_000));
          return held.length;
        };`,
      });
      const requestId = randomUUID();
      const outcome = await call(s, {}, { requestId });
      assert.deepEqual(payload(outcome), { errorType: 'Runtime.OutOfMemory', errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: signal: killed` });
      assert.match(tail(outcome), /\nEND RequestId: \S+\nREPORT RequestId: .*\tStatus: error\tError Type: Runtime\.OutOfMemory\t\n/);
      assert.equal(outcome.maxMemoryUsedMb, 128);
      assert.equal((await call(s, {})).coldStart, true);
    });

    it('lets a 128 MB function that loads the SDK and churns through a large event stay within its memory', async () => {
      // Live data stays small; garbage is what V8's young generation must not let pile up.
      const s = spec({
        'index.js': `require('@aws-sdk/client-s3'); require('@aws-sdk/client-dynamodb'); require('@aws-sdk/lib-dynamodb');
          exports.handler = async (event) => {
            let n = 0;
            for (let i = 0; i < 40; i += 1) n += event.items.map((item) => ({ ...item, i })).length;
            return n;
          };`,
      });
      const items = Array.from({ length: 20_000 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ['a', 'b'] }));
      for (let round = 0; round < 3; round += 1) {
        const outcome = await call(s, { items });
        assert.equal(outcome.functionError, undefined, outcome.payload);
        assert.equal(payload(outcome), 40 * items.length);
        assert.ok(outcome.maxMemoryUsedMb < 128, String(outcome.maxMemoryUsedMb));
      }
    });

    it('reports the last peak memory the runtime measured when the process has exited', async () => {
      const s = spec({ 'index.js': `exports.handler = async (event) => { if (event.exit) process.exit(3); return 'ok'; };` });
      assert.equal(payload(await call(s, {})), 'ok');
      const exited = await call(s, { exit: true });
      assert.equal(exited.errorType, 'Runtime.ExitError');
      assert.ok(exited.maxMemoryUsedMb > 10, String(exited.maxMemoryUsedMb));
      assert.match(tail(exited), new RegExp(`Max Memory Used: ${exited.maxMemoryUsedMb} MB`));
    });
  });

  describe('resource limits', () => {
    it("holds a function to AWS's 1,024 open files: the next open fails with EMFILE, and the sandbox goes on", async () => {
      const s = spec({
        'index.js': `const fs = require('node:fs');
          exports.handler = async () => {
            const limit = /^Max open files\\s+(\\d+)\\s+(\\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
            const held = [];
            let error;
            try {
              for (let i = 0; i < 2000; i += 1) held.push(fs.openSync('/dev/null', 'r'));
            } catch (e) {
              error = e.code;
            }
            for (const fd of held) fs.closeSync(fd);
            return { soft: Number(limit[1]), hard: Number(limit[2]), opened: held.length, error, pid: process.pid };
          };`,
      });
      const first = payload(await call(s, {})) as { soft: number; hard: number; opened: number; error: string; pid: number };
      assert.deepEqual({ soft: first.soft, hard: first.hard, error: first.error }, { soft: LAMBDA_LIMITS.fileDescriptors, hard: LAMBDA_LIMITS.fileDescriptors, error: 'EMFILE' });
      // The runtime's own descriptors (its pipes, its connection to the Runtime API) count too.
      assert.ok(first.opened > 1000 && first.opened < LAMBDA_LIMITS.fileDescriptors, String(first.opened));
      const second = payload(await call(s, {})) as { opened: number; pid: number };
      assert.equal(second.pid, first.pid);
      assert.equal(second.opened, first.opened);
    });
  });
});
