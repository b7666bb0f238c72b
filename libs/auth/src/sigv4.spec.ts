import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateFunctionCommand, GetFunctionCommand, InvokeCommand, LambdaClient, ListFunctionsCommand, TagResourceCommand } from '@aws-sdk/client-lambda';
import { GetBucketNotificationConfigurationCommand, PutBucketNotificationConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { SigV4Error, SigV4Verifier, type ReceivedRequest, type SigV4Failure } from './sigv4.js';

/** Requests exactly as the AWS SDK puts them on the wire, caught by a plain HTTP server. */
class Catcher {
  readonly caught: ReceivedRequest[] = [];
  private server?: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.caught.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(404, { 'x-amzn-errortype': 'ResourceNotFoundException', 'content-type': 'application/json' }).end('{"message":"caught"}');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

/** Requests botocore signed (fixtures/botocore-requests.py), with the body as bytes. */
const botocore = (JSON.parse(readFileSync(new URL('../../fixtures/botocore-requests.json', import.meta.url), 'utf8')) as Array<ReceivedRequest & { name: string; service: string; body: string }>).map(
  (r) => ({ ...r, body: Buffer.from(r.body, 'hex') }),
);
const botoVerifier = (service: string) =>
  new SigV4Verifier({ service, region: 'us-east-1', credentials: new Map([['AKIDBOTOCORE', 'botocore/secret+key']]), uriEscapePath: service !== 's3' });

describe('SigV4Verifier', () => {
  const catcher = new Catcher();
  const lambdaVerifier = new SigV4Verifier({ service: 'lambda', region: 'eu-west-1', credentials: new Map([['AKIDTRIBUTARY', SECRET]]), uriEscapePath: true });
  let lambda: ReceivedRequest[] = [];
  let s3: ReceivedRequest | undefined;

  before(async () => {
    const endpoint = await catcher.start();
    const client = new LambdaClient({ endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'AKIDTRIBUTARY', secretAccessKey: SECRET }, maxAttempts: 1 });
    const calls = [
      new GetFunctionCommand({ FunctionName: 'arn:aws:lambda:eu-west-1:000000000000:function:f:$LATEST' }),
      new InvokeCommand({ FunctionName: 'f', Payload: Buffer.from('{"city": "Zürich", "n": [1, 2]}'), Qualifier: 'x y', InvocationType: 'Event' }),
      new ListFunctionsCommand({ Marker: 'a b/c=d&e', MaxItems: 5 }),
      new TagResourceCommand({ Resource: 'arn:aws:lambda:eu-west-1:000000000000:function:f', Tags: { 'team name': 'a+b' } }),
      new CreateFunctionCommand({ FunctionName: 'f', Role: 'arn:aws:iam::000000000000:role/r', Code: { ZipFile: new Uint8Array(70_000).fill(7) } }),
    ];
    for (const call of calls) await client.send(call as never).catch(() => undefined);
    client.destroy();
    lambda = catcher.caught.splice(0);
    const store = new S3Client({ endpoint, region: 'eu-west-1', forcePathStyle: true, credentials: { accessKeyId: 'AKIDTRIBUTARY', secretAccessKey: SECRET }, maxAttempts: 1 });
    await store
      .send(new PutBucketNotificationConfigurationCommand({ Bucket: 'photos', NotificationConfiguration: { LambdaFunctionConfigurations: [{ LambdaFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:f', Events: ['s3:ObjectCreated:*'] }] } }))
      .catch(() => undefined);
    store.destroy();
    s3 = catcher.caught.splice(0)[0];
  });

  after(() => catcher.stop());

  const failure = async (verifier: SigV4Verifier, request: ReceivedRequest, now?: Date): Promise<SigV4Failure | 'accepted'> => {
    try {
      await verifier.verify(request, now);
      return 'accepted';
    } catch (error) {
      if (error instanceof SigV4Error) return error.failure;
      throw error;
    }
  };

  const signedAt = (request: ReceivedRequest): Date => {
    const stamp = String(request.headers['x-amz-date']);
    return new Date(`${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`);
  };

  it('accepts what the Lambda client signs: encoded ARNs, queries, JSON and binary bodies', async () => {
    assert.equal(lambda.length, 5);
    for (const request of lambda) assert.equal(await lambdaVerifier.verify(request, signedAt(request)), 'AKIDTRIBUTARY', `${request.method} ${request.url}`);
  });

  it('accepts what the S3 client signs, path encoded once and payload hash declared', async () => {
    assert.ok(s3);
    const verifier = new SigV4Verifier({ service: 's3', region: 'eu-west-1', credentials: new Map([['AKIDTRIBUTARY', SECRET]]), uriEscapePath: false });
    assert.equal(await verifier.verify(s3, signedAt(s3)), 'AKIDTRIBUTARY');
    assert.equal(await failure(verifier, { ...s3, body: Buffer.from('<NotificationConfiguration/>') }, signedAt(s3)), 'body-hash');
  });

  it('refuses a request changed after signing: its body, path, query or a signed header', async () => {
    const [get, invoke, list] = lambda;
    assert.ok(get && invoke && list);
    const changes: Array<[string, ReceivedRequest]> = [
      ['body', { ...invoke, body: Buffer.from('{"city": "Zurich", "n": [1, 2]}') }],
      ['path', { ...get, url: get.url.replace('function%3Af', 'function%3Ag') }],
      ['query', { ...list, url: list.url.replace('MaxItems=5', 'MaxItems=50') }],
      ['method', { ...get, method: 'DELETE' }],
      ['signed header', { ...invoke, headers: { ...invoke.headers, 'x-amz-invocation-type': 'RequestResponse' } }],
    ];
    // A changed body no longer has its declared hash (the JS SDK declares one); the rest change the signature.
    for (const [what, request] of changes) assert.equal(await failure(lambdaVerifier, request, signedAt(request)), what === 'body' ? 'body-hash' : 'mismatch', what);
    // A header the client did not sign may change on the way (a proxy's, say).
    assert.equal(await failure(lambdaVerifier, { ...get, headers: { ...get.headers, 'x-forwarded-for': '10.0.0.1' } }, signedAt(get)), 'accepted');
  });

  it('refuses another secret, an unknown key, a session token, another region or service, and a stale date', async () => {
    const [get] = lambda;
    assert.ok(get);
    const at = signedAt(get);
    const verifier = (options: Partial<ConstructorParameters<typeof SigV4Verifier>[0]>) =>
      new SigV4Verifier({ service: 'lambda', region: 'eu-west-1', credentials: new Map([['AKIDTRIBUTARY', SECRET]]), uriEscapePath: true, ...options });
    assert.equal(await failure(verifier({ credentials: new Map([['AKIDTRIBUTARY', `${SECRET}x`]]) }), get, at), 'mismatch');
    assert.equal(await failure(verifier({ credentials: new Map([['AKIDOTHER', SECRET]]) }), get, at), 'unknown-key');
    assert.equal(await failure(lambdaVerifier, { ...get, headers: { ...get.headers, 'x-amz-security-token': 'token' } }, at), 'unknown-key');
    assert.equal(await failure(verifier({ region: 'us-east-1' }), get, at), 'scope');
    assert.equal(await failure(verifier({ service: 'sqs' }), get, at), 'scope');
    assert.equal(await failure(lambdaVerifier, get, new Date(at.getTime() + 5 * 60_000)), 'accepted');
    assert.equal(await failure(lambdaVerifier, get, new Date(at.getTime() + 5 * 60_000 + 1000)), 'expired');
    assert.equal(await failure(lambdaVerifier, get, new Date(at.getTime() - 5 * 60_000 - 1000)), 'expired');
  });

  it('tells a missing signature from a malformed one', async () => {
    const [get] = lambda;
    assert.ok(get);
    const without = (name: string) => Object.fromEntries(Object.entries(get.headers).filter(([key]) => key !== name));
    assert.equal(await failure(lambdaVerifier, { ...get, headers: without('authorization') }), 'missing');
    assert.equal(await failure(lambdaVerifier, { ...get, headers: { ...get.headers, authorization: 'Bearer abc' } }), 'malformed');
    assert.equal(await failure(lambdaVerifier, { ...get, headers: without('x-amz-date') }), 'malformed');
  });

  it('refuses, never throws on, what a stranger can put in the headers: no date, an own-member header name, a path smithy would rewrite', async () => {
    const [get] = lambda;
    assert.ok(get);
    const at = signedAt(get);
    const authorization = String(get.headers.authorization);
    for (const stamp of ['20261399T000000Z', '20261207T256199Z', '00000000T000000Z', '20260230T000000Z']) {
      assert.equal(await failure(lambdaVerifier, { ...get, headers: { ...get.headers, 'x-amz-date': stamp } }, at), 'malformed', stamp);
    }
    for (const name of ['constructor']) {
      const odd = authorization.replace('SignedHeaders=', `SignedHeaders=${name};`);
      assert.equal(await failure(lambdaVerifier, { ...get, headers: { ...get.headers, authorization: odd } }, at), 'mismatch', name);
    }
    for (const path of ['/2015-03-31//functions/f', '/2015-03-31/functions/./f', '/2015-03-31/functions/f/aliases/..']) {
      assert.equal(await failure(lambdaVerifier, { ...get, url: path }, at), 'mismatch', path);
    }
  });

  it('verifies before the body what signs the body\'s hash, refuses a forged signature of a known key then, and waits for the body otherwise', async () => {
    const [, invoke] = lambda;
    assert.ok(invoke);
    const at = signedAt(invoke);
    const headersOnly = ({ method, url, headers }: ReceivedRequest) => ({ method, url, headers });
    assert.ok(String(invoke.headers.authorization).includes('x-amz-content-sha256'), 'the JS SDK signs the payload hash');
    assert.equal(await lambdaVerifier.verifyBeforeBody(headersOnly(invoke), at), 'AKIDTRIBUTARY');
    const forged = { ...headersOnly(invoke), headers: { ...invoke.headers, authorization: String(invoke.headers.authorization).replace(/Signature=[0-9a-f]+/, `Signature=${'0'.repeat(64)}`) } };
    await assert.rejects(lambdaVerifier.verifyBeforeBody(forged, at), (e: unknown) => e instanceof SigV4Error && e.failure === 'mismatch');
    // The body that then arrives must be the one whose hash was signed.
    assert.doesNotThrow(() => lambdaVerifier.checkBody(invoke, invoke.body));
    assert.throws(() => lambdaVerifier.checkBody(invoke, Buffer.from('{}')), (e: unknown) => e instanceof SigV4Error && e.failure === 'body-hash');
    // A client that signs the body itself (botocore) is verified once the body is in.
    const botoInvoke = botocore.find((r) => r.name === 'Invoke');
    assert.ok(botoInvoke);
    assert.equal(await botoVerifier('lambda').verifyBeforeBody(headersOnly(botoInvoke), signedAt(botoInvoke)), undefined);
    await assert.rejects(lambdaVerifier.verifyBeforeBody({ ...headersOnly(invoke), headers: { host: 'x', 'content-length': '5' } }, at), (e: unknown) => e instanceof SigV4Error && e.failure === 'missing');
  });

  it('accepts what botocore (boto3, the AWS CLI) signs, recorded in fixtures/botocore-requests.json', async () => {
    assert.equal(botocore.length, 6);
    for (const request of botocore) {
      assert.equal(await botoVerifier(request.service).verify(request, signedAt(request)), 'AKIDBOTOCORE', request.name);
    }
  });

  it('refuses an x-amz- header the signature does not cover', async () => {
    const [get] = lambda;
    assert.ok(get);
    // Added after signing, X-Amz-Invocation-Type would turn a sync invoke into an async one.
    assert.equal(await failure(lambdaVerifier, { ...get, headers: { ...get.headers, 'x-amz-invocation-type': 'Event' } }, signedAt(get)), 'mismatch');
  });


  describe('presigned URLs', () => {
    const get = (url: string, host?: string): ReceivedRequest => {
      const target = new URL(url);
      return { method: 'GET', url: `${target.pathname}${target.search}`, headers: { host: host ?? target.host } };
    };
    const at = new Date('2026-12-07T02:00:00Z');

    it('takes a URL it presigned until it expires, and nothing changed in it', async () => {
      const url = await lambdaVerifier.presignUrl('http://127.0.0.1:9001/2015-03-31/functions/my-fn/code', 'AKIDTRIBUTARY', 600, at);
      assert.match(url, /X-Amz-Algorithm=AWS4-HMAC-SHA256&.*X-Amz-Expires=600/);
      assert.equal(await lambdaVerifier.verify(get(url), new Date(at.getTime() + 599_000)), 'AKIDTRIBUTARY');
      assert.equal(await failure(lambdaVerifier, get(url), new Date(at.getTime() + 601_000)), 'expired');
      assert.equal(await failure(lambdaVerifier, get(url), new Date(at.getTime() - 6 * 60_000)), 'expired');
      assert.equal(await failure(lambdaVerifier, get(url.replace('my-fn', 'other-fn')), at), 'mismatch');
      assert.equal(await failure(lambdaVerifier, get(url.replace('X-Amz-Expires=600', 'X-Amz-Expires=6000')), at), 'mismatch');
      assert.equal(await failure(lambdaVerifier, get(url, 'evil.example:9001'), at), 'mismatch');
      assert.equal(await failure(lambdaVerifier, get(url.replace('X-Amz-Expires=600', 'X-Amz-Expires=604801')), at), 'malformed');
      // Spelled otherwise, a parameter is not what was signed, even when it means the same.
      assert.equal(await failure(lambdaVerifier, get(url.replace('X-Amz-Expires=600', 'X-Amz-Expires=0600')), at), 'malformed');
      assert.equal(await failure(lambdaVerifier, get(url.replace('X-Amz-SignedHeaders=host', 'X-Amz-SignedHeaders=host%3Bhost')), at), 'malformed');
    });

    it('takes what the AWS SDK\'s own presigner signs', async () => {
      const store = new S3Client({ endpoint: 'http://127.0.0.1:9002', region: 'eu-west-1', forcePathStyle: true, credentials: { accessKeyId: 'AKIDTRIBUTARY', secretAccessKey: SECRET } });
      const url = await getSignedUrl(store, new GetBucketNotificationConfigurationCommand({ Bucket: 'photos' }), { expiresIn: 300 });
      store.destroy();
      const verifier = new SigV4Verifier({ service: 's3', region: 'eu-west-1', credentials: new Map([['AKIDTRIBUTARY', SECRET]]), uriEscapePath: false });
      assert.equal(await verifier.verify(get(url)), 'AKIDTRIBUTARY');
      assert.equal(await failure(verifier, get(url.replace('photos', 'photoz'))), 'mismatch');
    });
  });
});
