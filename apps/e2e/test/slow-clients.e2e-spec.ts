import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startE2eStack, type E2eStack } from './harness.js';

describe('clients that are slow or idle', () => {
  let e2e: E2eStack;

  before(async () => {
    e2e = await startE2eStack({ HTTP_REQUEST_TIMEOUT_MS: '1000' });
  });

  after(async () => e2e.stop());

  it('answers a client that stops sending halfway through a request 408 and lets it go once the request timeout has passed', { timeout: 60_000 }, async () => {
    const { port } = new URL(e2e.stack.url('api'));
    const socket = connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"Fun');
    // Node looks for overdue requests every 30 s.
    await closed;
    assert.match(answer, /^HTTP\/1\.1 408 /);
  });

  // The same stack: a short request timeout does not touch a connection idle between requests.
  it("keeps a connection idle between requests open past Node's 5 s default, as an SDK client's agent expects", { timeout: 60_000 }, async () => {
    const { port } = new URL(e2e.stack.url('api'));
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    let closed = false;
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.on('close', () => (closed = true));
    const answered = async (count: number) => {
      // A status line follows the body before it directly: no line start to anchor on.
      while ((received.match(/HTTP\/1\.1 \d{3} /g) ?? []).length < count && !closed) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await answered(1);
    assert.match(received, /^HTTP\/1\.1 200 /);
    assert.match(received, /^keep-alive: timeout=72\r$/im);
    await new Promise((resolve) => setTimeout(resolve, 6000));
    assert.equal(closed, false, 'the server closed the idle connection');
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await answered(2);
    assert.equal((received.match(/HTTP\/1\.1 200 /g) ?? []).length, 2);
    socket.destroy();
  });
});
