import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import { Stack, type ServiceName } from '@tributary/stack';
import { isolatedEnvironment, removeIsolatedResources, sparePorts } from '@tributary/testing';

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

const stackPorts = (): Promise<Record<ServiceName, number>> => sparePorts(['api', 's3-ingest', 'dispatcher', 'worker']);

// The stack that `npm start`, the e2e tests and the bench start. One left half-started held its
// ports, and the next stack's health checks were answered by it, with another build's settings.
describe('starting a stack', () => {
  const envs: Record<string, string>[] = [];
  after(async () => {
    for (const env of envs) await removeIsolatedResources(env);
  });

  it('stops the services that started when another fails to, and leaves none on its ports', async () => {
    const env = { ...isolatedEnvironment(), LOG_LEVEL: 'warn' };
    envs.push(env);
    const ports = await stackPorts();
    const stack = new Stack({ env, ports, output: 'pipe', serviceEnv: { 's3-ingest': { LOG_LEVEL: 'loud' } } });
    await assert.rejects(stack.start(), /s3-ingest exited during start-up/);
    for (const service of Object.keys(ports) as ServiceName[]) {
      assert.equal(stack.pid(service), undefined, `${service} is still running`);
      assert.equal(await accepts(ports[service]), false, `something still listens on ${service}'s port`);
    }
  });

  it('refuses a port that something already listens on, instead of taking its answers for its own', async () => {
    const env = { ...isolatedEnvironment(), LOG_LEVEL: 'warn' };
    envs.push(env);
    const ports = await stackPorts();
    const squatter = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => squatter.listen(ports.api, '127.0.0.1', resolve));
    try {
      const stack = new Stack({ env, ports, output: 'pipe' });
      await assert.rejects(stack.start(), new RegExp(`api: port ${ports.api} is already in use`));
      for (const service of ['s3-ingest', 'dispatcher', 'worker'] as const) {
        assert.equal(await accepts(ports[service]), false, `${service} was left running`);
      }
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });
});
