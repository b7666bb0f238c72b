import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { CallbackListener, uniqueName, waitFor } from '@tributary/testing';
import { encode, functionInput, queueSettled, runsPerEvent, startE2eStack, type E2eStack } from './harness.js';

const TOTAL = 1000;
const WORKER_CONCURRENCY = 8;

// Reports each invocation to the test's listener: that is the side effect we count.
const HANDLER = `
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true });
exports.handler = async (event, context) => {
  await new Promise((resolve) => setTimeout(resolve, 2));
  await new Promise((resolve, reject) => {
    const req = http.request(event.callback, { method: 'POST', agent }, (res) => { res.resume(); res.on('end', resolve); });
    req.on('error', reject);
    req.end(JSON.stringify({ i: event.i, requestId: context.awsRequestId }));
  });
  return event.i;
};`;

/** Sends TOTAL async invokes from a few concurrent clients; calls `at(n)` hooks as it passes n. */
const sendAll = async (e2e: E2eStack, fn: string, callback: string, hooks: Map<number, () => Promise<void>>): Promise<void> => {
  let next = 0;
  const client = async (): Promise<void> => {
    while (next < TOTAL) {
      const i = next;
      next += 1;
      const hook = hooks.get(i);
      if (hook) await hook();
      const answer = await e2e.lambda.send(new InvokeCommand({ FunctionName: fn, InvocationType: 'Event', Payload: encode({ i, callback }) }));
      assert.equal(answer.StatusCode, 202);
    }
  };
  await Promise.all(Array.from({ length: 8 }, client));
};

const tally = (listener: CallbackListener): { distinct: number; duplicates: number } => {
  const seen = runsPerEvent(listener);
  return { distinct: seen.size, duplicates: [...seen.values()].reduce((n, c) => n + c - 1, 0) };
};

describe('restarts in the middle of 1,000 async invokes', () => {
  let e2e: E2eStack;
  let listener: CallbackListener;

  before(async () => {
    e2e = await startE2eStack({
      EVENTS_ACK_WAIT_MS: '3000',
      WORKER_LOCK_MS: '4000',
      WORKER_STALLED_INTERVAL_MS: '1000',
      WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
      SHUTDOWN_GRACE_MS: '20000',
    });
  });

  after(async () => e2e.stop());

  const deploy = async (): Promise<string> => {
    const fn = uniqueName('counted');
    await e2e.lambda.send(new CreateFunctionCommand(functionInput(fn, HANDLER, { Timeout: 10 })));
    return fn;
  };

  it('SIGTERM of the dispatcher and of the worker loses none and runs none twice', async () => {
    listener = await CallbackListener.start();
    try {
      const fn = await deploy();
      const hooks = new Map<number, () => Promise<void>>([
        [250, () => e2e.stack.restart('dispatcher', 'SIGTERM')],
        [600, () => e2e.stack.restart('worker', 'SIGTERM')],
      ]);
      await sendAll(e2e, fn, `${listener.url}/term`, hooks);
      await listener.waitForCount(TOTAL, 90_000);
      await queueSettled(e2e, fn);
      const { distinct, duplicates } = tally(listener);
      assert.equal(distinct, TOTAL);
      assert.equal(duplicates, 0);
    } finally {
      await listener.close();
    }
  });

  it('SIGKILL of either loses none; only invocations running at the kill may run again', async () => {
    listener = await CallbackListener.start();
    try {
      const fn = await deploy();
      const hooks = new Map<number, () => Promise<void>>([
        [250, () => e2e.stack.restart('dispatcher', 'SIGKILL')],
        [600, () => e2e.stack.restart('worker', 'SIGKILL')],
      ]);
      await sendAll(e2e, fn, `${listener.url}/kill`, hooks);
      await listener.waitForCount(TOTAL, 120_000);
      await waitFor('every invocation to have run', () => tally(listener).distinct === TOTAL, { timeoutMs: 120_000, intervalMs: 200 });
      await queueSettled(e2e, fn);
      const { distinct, duplicates } = tally(listener);
      assert.equal(distinct, TOTAL);
      // At most the invocations the killed worker was running (its concurrency) ran twice.
      assert.ok(duplicates <= WORKER_CONCURRENCY, `${duplicates} invocations ran twice`);
    } finally {
      await listener.close();
    }
  });
});
