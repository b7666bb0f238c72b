import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { headers } from '@nats-io/transport-node';
import {
  INVOCATION_FORMAT,
  LATEST,
  REPLY_ACK_INTERVAL_MS,
  REPLY_ACK_STOP,
  REPLY_CHUNK_BYTES,
  REPLY_CHUNK_HEADER,
  replyAckSubject,
  type InvocationReply,
  type InvokeEvent,
} from '@tributary/contracts';
import { TEST_NATS_URL, isolatedEnvironment, removeIsolatedResources, uniqueName } from '@tributary/testing';
import { InvocationClient, ReplyChunks, STREAM_WINDOW_BYTES, type ChunkSink, type InvokeRequest } from './invocation-client.js';
import { NatsClient } from './nats-client.js';
import { PayloadStore } from './payload-store.js';

describe('InvocationClient: streamed results (real NATS)', () => {
  const env = isolatedEnvironment();
  const root = env['EVENTS_SUBJECT_ROOT'] ?? '';
  let client: NatsClient;
  let invocations: InvocationClient;

  const request = (functionName: string): InvokeRequest => ({ functionName, qualifier: LATEST, functionRevision: 1, payload: '{}', logType: 'None' });

  /** Invokes with a chunk sink, and hands back the event the client published (its reply subject) once it is out. */
  const invoke = async (functionName: string, chunks: Buffer[], sink: ChunkSink = (chunk) => void chunks.push(Buffer.from(chunk))) => {
    const seen = client.nc.subscribe(`${root}.invoke.${functionName}`, { max: 1 });
    const reply = invocations.invokeSync(request(functionName), 10_000, sink);
    let event: InvokeEvent | undefined;
    for await (const msg of seen) event = msg.json<InvokeEvent>();
    assert.ok(event?.replyto);
    return { event, reply };
  };

  const answer = (subject: string, event: InvokeEvent, extra: Partial<InvocationReply>): void => {
    const body: InvocationReply = { v: INVOCATION_FORMAT, requestId: event.id, statusCode: 200, executedVersion: LATEST, ...extra };
    client.nc.publish(subject, JSON.stringify(body));
  };

  const piece = (subject: string, n: number, text: string): void => {
    const h = headers();
    h.set(REPLY_CHUNK_HEADER, String(n));
    client.nc.publish(subject, Buffer.from(text), { headers: h });
  };

  before(async () => {
    client = await NatsClient.connect({ url: TEST_NATS_URL, name: 'invocation-client-spec' });
    await client.ensureEventsStream(env['EVENTS_STREAM'] ?? '', [`${root}.>`], 60_000);
    const payloads = new PayloadStore(await client.objectStore(env['PAYLOAD_STORE'] ?? ''), 256 * 1024);
    invocations = new InvocationClient(client, payloads, { eventsStream: env['EVENTS_STREAM'] ?? '', subjectRoot: root, subjectPrefix: env['SUBJECT_PREFIX'] ?? '' });
    invocations.start();
  });

  after(async () => {
    invocations.close();
    await client.drain();
    await removeIsolatedResources(env);
  });

  it('asks for a streamed answer, and hands over the pieces ReplyChunks sent, in order, before the reply', async () => {
    const chunks: Buffer[] = [];
    const { event, reply } = await invoke('streamed', chunks);
    assert.equal(event.responsemode, 'streaming');
    const subject = event.replyto ?? '';
    const writer = new ReplyChunks(client.nc, subject);
    // More than one piece's worth in one write: it goes as several, each within a NATS message.
    const big = Buffer.alloc(REPLY_CHUNK_BYTES * 2 + 10, 'b');
    writer.send(Buffer.from('first '));
    writer.send(big);
    assert.equal(writer.sent, 4);
    answer(subject, event, { streamed: writer.sent });
    const answered = await reply;
    assert.equal(answered.serviceError, undefined);
    assert.equal(answered.streamed, 4);
    assert.deepEqual(chunks.map((c) => c.byteLength), [6, REPLY_CHUNK_BYTES, REPLY_CHUNK_BYTES, 10]);
    assert.ok(Buffer.concat(chunks).equals(Buffer.concat([Buffer.from('first '), big])));
  });

  it('ends a stream with a gap in its pieces as ServiceException, and hands over nothing after the gap', async () => {
    const chunks: Buffer[] = [];
    const { event, reply } = await invoke('gap', chunks);
    const subject = event.replyto ?? '';
    piece(subject, 0, 'a');
    piece(subject, 2, 'c');
    piece(subject, 3, 'd');
    answer(subject, event, { streamed: 4 });
    const answered = await reply;
    assert.equal(answered.serviceError?.type, 'ServiceException');
    assert.match(answered.serviceError?.message ?? '', /lost/);
    assert.deepEqual(chunks.map(String), ['a']);
  });

  it('ends a stream whose last pieces were lost as ServiceException, by the count the reply gives', async () => {
    const chunks: Buffer[] = [];
    const { event, reply } = await invoke('tail', chunks);
    const subject = event.replyto ?? '';
    piece(subject, 0, 'a');
    piece(subject, 1, 'b');
    answer(subject, event, { streamed: 3 });
    const answered = await reply;
    assert.equal(answered.serviceError?.type, 'ServiceException');
    assert.deepEqual(chunks.map(String), ['a', 'b']);
  });

  it('holds the sender back while its reader has no room, and lets it go on once the reader has taken the pieces', async () => {
    const chunks: Buffer[] = [];
    let release!: () => void;
    const noRoom = new Promise<void>((resolve) => (release = resolve));
    const { event, reply } = await invoke('window', chunks, (chunk) => {
      chunks.push(Buffer.from(chunk));
      return noRoom;
    });
    assert.equal(event.streamwindow, STREAM_WINDOW_BYTES);
    const subject = event.replyto ?? '';
    const writer = new ReplyChunks(client.nc, subject, event.streamwindow);
    const piece = (n: number) => Buffer.alloc(REPLY_CHUNK_BYTES, n);
    const window = STREAM_WINDOW_BYTES / REPLY_CHUNK_BYTES;
    for (let n = 0; n < window - 1; n += 1) assert.equal(writer.send(piece(n)), undefined, `piece ${n} had room`);
    const full = writer.send(piece(window - 1));
    assert.ok(full, 'a full window makes the sender wait');
    let roomAgain = false;
    void full.then(() => (roomAgain = true));
    // Every piece has reached the reader, which has not taken them: the sender still waits.
    while (chunks.length < window) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(roomAgain, false);
    release();
    await full;
    assert.equal(writer.send(Buffer.from('last')), undefined);
    answer(subject, event, { streamed: writer.sent });
    assert.equal((await reply).serviceError, undefined);
    writer.close();
    assert.ok(Buffer.concat(chunks).equals(Buffer.concat([...Array.from({ length: window }, (_, n) => piece(n)), Buffer.from('last')])));
  });

  it('lets the sender stop sending once its reader takes no more', async () => {
    let arrived = 0;
    const { event, reply } = await invoke('stop', [], () => {
      arrived += 1;
      return false;
    });
    const subject = event.replyto ?? '';
    const writer = new ReplyChunks(client.nc, subject, event.streamwindow);
    let waiting: Promise<void> | undefined;
    while (!waiting) waiting = writer.send(Buffer.alloc(REPLY_CHUNK_BYTES));
    const window = writer.sent;
    // Released by the reader's "stop", not by an acknowledgement: it took nothing.
    await waiting;
    assert.equal(writer.send(Buffer.alloc(REPLY_CHUNK_BYTES * 2)), undefined);
    answer(subject, event, { streamed: writer.sent });
    await reply;
    // The reply came after anything sent before it: only the window went out.
    assert.equal(arrived, window);
    // Counted all the same, so that a "stop" from someone else cannot make a short stream look whole.
    assert.equal(writer.sent, window + 2);
    writer.close();
  });

  it('ends as ServiceException, not as a short stream, when someone else tells the sender to stop', async () => {
    const chunks: Buffer[] = [];
    const { event, reply } = await invoke('forged', chunks);
    const subject = event.replyto ?? '';
    const writer = new ReplyChunks(client.nc, subject, event.streamwindow);
    writer.send(Buffer.from('a'));
    // Anyone on the NATS server may publish there. From the writer's own connection, the flush
    // returns once the server has sent the writer the message, ahead of its answer to the flush.
    client.nc.publish(replyAckSubject(subject), REPLY_ACK_STOP);
    await client.nc.flush();
    writer.send(Buffer.from('b'));
    answer(subject, event, { streamed: writer.sent });
    const answered = await reply;
    assert.equal(answered.serviceError?.type, 'ServiceException');
    assert.deepEqual(chunks.map(String), ['a']);
    writer.close();
  });

  it('repeats the count it has acknowledged, so that a lost acknowledgement holds nobody for ever', async () => {
    const { event, reply } = await invoke('repeat', []);
    const subject = event.replyto ?? '';
    const acks: string[] = [];
    const heard = client.nc.subscribe(replyAckSubject(subject), { callback: (_error, msg) => void acks.push(msg.string()) });
    // One piece: far below a quarter of the window, acknowledged only by the repetition.
    piece(subject, 0, 'a');
    await new Promise((resolve) => setTimeout(resolve, REPLY_ACK_INTERVAL_MS * 3.5));
    assert.ok(acks.length >= 2, `acknowledgements: ${JSON.stringify(acks)}`);
    assert.deepEqual(new Set(acks), new Set(['1']));
    answer(subject, event, { streamed: 1 });
    await reply;
    // Once answered, the repetition ends. The flush lets through a repetition already on its way.
    await client.nc.flush();
    const count = acks.length;
    await new Promise((resolve) => setTimeout(resolve, REPLY_ACK_INTERVAL_MS * 1.5));
    assert.equal(acks.length, count);
    heard.unsubscribe();
  });

  it('repeats the count of what its reader has taken while the reader holds a piece, and only that', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { event, reply } = await invoke('held', [], () => held);
    const subject = event.replyto ?? '';
    const acks: string[] = [];
    const heard = client.nc.subscribe(replyAckSubject(subject), { callback: (_error, msg) => void acks.push(msg.string()) });
    piece(subject, 0, 'a');
    await new Promise((resolve) => setTimeout(resolve, REPLY_ACK_INTERVAL_MS * 3.5));
    // Piece 0 has arrived but is not taken: the sender hears, again and again, that none is.
    assert.ok(acks.length >= 2, `acknowledgements: ${JSON.stringify(acks)}`);
    assert.deepEqual(new Set(acks), new Set(['0']));
    answer(subject, event, { streamed: 1 });
    await reply;
    release();
    heard.unsubscribe();
  });

  // A sender that never gives up would hang the run (node:test has no default timeout): give it one.
  it('stops waiting for room when its caller has said nothing for a while, and waits on while it repeats itself', { timeout: 10_000 }, async () => {
    const quiet = new ReplyChunks(client.nc, uniqueName('nobody'), REPLY_CHUNK_BYTES, 300);
    const waited = Date.now();
    const full = quiet.send(Buffer.alloc(REPLY_CHUNK_BYTES));
    assert.ok(full);
    await full;
    assert.ok(Date.now() - waited >= 250, `gave up after ${Date.now() - waited} ms`);
    assert.equal(quiet.send(Buffer.from('more')), undefined, 'taken for gone: nothing more is sent');
    quiet.close();

    const subject = uniqueName('patient');
    // Repeated ten times as often as it would be given up on: timer jitter under load cannot make it give up.
    const patient = new ReplyChunks(client.nc, subject, REPLY_CHUNK_BYTES, 1_000);
    const waiting = patient.send(Buffer.alloc(REPLY_CHUNK_BYTES));
    assert.ok(waiting);
    let room = false;
    void waiting.then(() => (room = true));
    const repeat = setInterval(() => client.nc.publish(replyAckSubject(subject), '0'), 100);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    clearInterval(repeat);
    assert.equal(room, false, 'a caller that repeats its count is there: the sender waits on');
    client.nc.publish(replyAckSubject(subject), '1');
    await waiting;
    assert.ok(patient.send(Buffer.alloc(REPLY_CHUNK_BYTES)), 'room came from the acknowledgement, not from giving up');
    patient.close();
  });
});
