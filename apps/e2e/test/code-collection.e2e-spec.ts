import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CreateFunctionCommand, DeleteFunctionCommand, InvokeCommand, UpdateFunctionCodeCommand } from '@aws-sdk/client-lambda';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Objm } from '@nats-io/obj';
import { TEST_NATS_URL, buildZip, uniqueName, waitFor } from '@tributary/testing';
import { decode, functionInput, startE2eStack, type E2eStack } from './harness.js';

const zip = (version: string) => buildZip({ 'index.js': `exports.handler = async () => '${version}';` });
const keyOf = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('deployment packages no function uses are removed from the code store', () => {
  let e2e: E2eStack;
  let nc: NatsConnection;
  const unpacked = (bytes: Uint8Array) => existsSync(join(e2e.env['CODE_DIR'] ?? '', keyOf(bytes)));
  const stored = async (): Promise<string[]> => {
    const store = await new Objm(nc).open(e2e.env['CODE_STORE'] ?? '');
    return (await store.list()).filter((i) => !i.deleted).map((i) => i.name);
  };

  before(async () => {
    // Collect every 200 ms; a package must have been unused for a second before it goes.
    e2e = await startE2eStack({ CODE_GC_INTERVAL_MS: '200', CODE_GC_GRACE_MS: '1000' });
    nc = await connect({ servers: TEST_NATS_URL.replace(/^nats:\/\//, '') });
  });

  after(async () => {
    await nc?.close();
    await e2e?.stop();
  });

  it('after UpdateFunctionCode and DeleteFunction, and never the code a function runs', async () => {
    const name = uniqueName('gc');
    const [v1, v2] = [zip('v1'), zip('v2')];
    await e2e.lambda.send(
      new CreateFunctionCommand(functionInput(name, v1)),
    );
    await e2e.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: v2 }));
    // Up to 30 s: a sweep whose NATS call does not settle is given up after 10 s (CodeCollector),
    // and the next one must still do the work. A fresh-clone CI run once needed more than 10 s.
    await waitFor('the replaced package to be removed', async () => !(await stored()).includes(keyOf(v1)), { timeoutMs: 30_000 });
    assert.ok((await stored()).includes(keyOf(v2)));
    // Several collections later, the function still runs its code (a new sandbox fetches it).
    await new Promise((r) => setTimeout(r, 1500));
    const result = await e2e.lambda.send(new InvokeCommand({ FunctionName: name }));
    assert.equal(decode(result.Payload), '"v2"');
    assert.ok(unpacked(v2), 'the worker keeps the code a function runs');

    // The first package deployed again is stored again and runs.
    await e2e.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: v1 }));
    assert.equal(decode((await e2e.lambda.send(new InvokeCommand({ FunctionName: name }))).Payload), '"v1"');

    await e2e.lambda.send(new DeleteFunctionCommand({ FunctionName: name }));
    await waitFor('every package of the deleted function to be removed', async () => {
      const left = await stored();
      return !left.includes(keyOf(v1)) && !left.includes(keyOf(v2));
    }, { timeoutMs: 30_000 }).catch(async (error: unknown) => {
      // Say what was left and what the services logged, so a failure in CI can be read.
      const store = await new Objm(nc).open(e2e.env['CODE_STORE'] ?? '');
      const left = (await store.list()).map((i) => `${i.name.slice(0, 8)} deleted=${String(i.deleted)} mtime=${i.mtime}`);
      throw new Error(`${(error as Error).message}\nnow ${new Date().toISOString()}; left: ${left.join('; ')}\n${e2e.stack.logs().slice(-4000)}`);
    });
    // The worker's unpacked copies go too, once no sandbox runs them.
    await waitFor('the worker to remove the unpacked code', () => !unpacked(v1) && !unpacked(v2), { timeoutMs: 10_000 });
  });
});
