import { createHash, createHmac, timingSafeEqual, type Hash, type Hmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';

/** Why a request was refused; each service answers it in its own protocol's words. */
export type SigV4Failure =
  /** No Authorization header at all. */
  | 'missing'
  /** An Authorization header that is not a SigV4 one, or lacks X-Amz-Date. */
  | 'malformed'
  /** An access key this installation does not hold, or a session token it never issued. */
  | 'unknown-key'
  /** Scoped to another region or service, or to another day than X-Amz-Date. */
  | 'scope'
  /** X-Amz-Date further from now than the allowed skew. */
  | 'expired'
  /** The signature (or the declared payload hash) does not match the request. */
  | 'mismatch';

export class SigV4Error extends Error {
  constructor(
    readonly failure: SigV4Failure,
    message: string,
  ) {
    super(message);
    this.name = 'SigV4Error';
  }
}

/** What the verifier needs of an HTTP request: the URL as it came (path still encoded), the headers, the body's bytes. */
export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body?: Uint8Array;
}

export interface SigV4VerifierOptions {
  /** The signing name clients scope to: `lambda`, `s3`. */
  service: string;
  region: string;
  /** Secret access keys by access key id. */
  credentials: ReadonlyMap<string, string>;
  /**
   * Whether clients encode the path once more in the canonical request, as for every service but
   * S3 (smithy's `uriEscapePath`).
   */
  uriEscapePath: boolean;
  /** How far X-Amz-Date may be from now; AWS allows 5 minutes. */
  maxSkewMs?: number;
}

const AUTHORIZATION = /^AWS4-HMAC-SHA256 +Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request *, *SignedHeaders=([a-z0-9;-]+) *, *Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

const amzDate = (date: Date): string => date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

/** node:crypto as smithy's hash constructor (a keyed one is an HMAC). */
class NodeSha256 {
  private readonly hash: Hash | Hmac;

  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(secret as ArrayBuffer));
  }

  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? data : Buffer.from(data as ArrayBuffer));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

/**
 * Checks AWS Signature Version 4 on requests as the AWS SDKs and CLI sign them: the canonical
 * request is rebuilt from what arrived, with the signed headers the client listed, and signed
 * again by smithy's own signer (the SDK's) with the secret of the access key named. Only the
 * Authorization header form; presigned URLs are refused as unsigned.
 */
export class SigV4Verifier {
  private readonly maxSkewMs: number;
  private readonly signers = new Map<string, SignatureV4>();

  constructor(private readonly options: SigV4VerifierOptions) {
    this.maxSkewMs = options.maxSkewMs ?? 5 * 60_000;
    for (const [accessKeyId, secretAccessKey] of options.credentials) {
      this.signers.set(
        accessKeyId,
        new SignatureV4({ service: options.service, region: options.region, credentials: { accessKeyId, secretAccessKey }, sha256: NodeSha256, uriEscapePath: options.uriEscapePath }),
      );
    }
  }

  /** The access key id that signed `request`; throws SigV4Error when it is not signed as it must be. */
  async verify(request: ReceivedRequest, now = new Date()): Promise<string> {
    const authorization = header(request.headers, 'authorization');
    if (authorization === undefined) throw new SigV4Error('missing', 'Missing Authentication Token');
    const parts = AUTHORIZATION.exec(authorization);
    if (!parts) throw new SigV4Error('malformed', `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' of AWS4-HMAC-SHA256. Authorization=${authorization.split(' ')[0] ?? ''}`);
    const [, accessKeyId = '', day = '', region = '', service = '', signedList = '', signature = ''] = parts;
    const stamp = header(request.headers, 'x-amz-date');
    const when = stamp === undefined ? undefined : AMZ_DATE.exec(stamp);
    if (!stamp || !when) throw new SigV4Error('malformed', "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
    const signer = this.signers.get(accessKeyId);
    if (!signer || header(request.headers, 'x-amz-security-token') !== undefined) throw new SigV4Error('unknown-key', 'The security token included in the request is invalid.');
    if (service !== this.options.service) throw new SigV4Error('scope', `Credential should be scoped to correct service: '${this.options.service}'. `);
    if (region !== this.options.region) throw new SigV4Error('scope', 'Credential should be scoped to a valid region. ');
    if (day !== stamp.slice(0, 8)) {
      throw new SigV4Error('scope', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${day}' != '${stamp.slice(0, 8)}', from '${stamp}'.`);
    }
    const [, y, mo, d, h, mi, s] = when;
    const signedAt = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
    const skew = signedAt.getTime() - now.getTime();
    if (Math.abs(skew) > this.maxSkewMs) {
      const minutes = `${this.maxSkewMs / 60_000} min.`;
      const bound = amzDate(new Date(now.getTime() + Math.sign(skew) * this.maxSkewMs));
      throw new SigV4Error(
        'expired',
        skew < 0
          ? `Signature expired: ${stamp} is now earlier than ${bound} (${amzDate(now)} - ${minutes})`
          : `Signature not yet current: ${stamp} is still later than ${bound} (${amzDate(now)} + ${minutes})`,
      );
    }
    const signedHeaders = signedList.split(';');
    if (!signedHeaders.includes('host')) throw new SigV4Error('mismatch', "'Host' must be a 'SignedHeader' in the AWS Authorization.");
    const declaredHash = header(request.headers, 'x-amz-content-sha256');
    if (declaredHash !== undefined && declaredHash !== 'UNSIGNED-PAYLOAD') {
      const actual = createHash('sha256').update(request.body ?? new Uint8Array()).digest('hex');
      if (declaredHash !== actual) throw new SigV4Error('mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
    }
    const headers: Record<string, string> = {};
    for (const name of signedHeaders) headers[name] = header(request.headers, name) ?? '';
    const [path = '/', search = ''] = request.url.split(/\?(.*)/s);
    const query: Record<string, string | string[]> = {};
    for (const [key, value] of new URLSearchParams(search)) {
      const seen = query[key];
      query[key] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
    }
    const resigned = await signer.sign(
      { method: request.method, protocol: 'http:', hostname: headers['host'] ?? '', path, query, headers, ...(request.body?.byteLength ? { body: request.body } : {}) },
      { signingDate: signedAt, signableHeaders: new Set(signedHeaders), signingRegion: region, signingService: service },
    );
    const expected = /Signature=([0-9a-f]{64})/.exec(String(resigned.headers['authorization'] ?? ''))?.[1] ?? '';
    if (expected.length !== signature.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
      throw new SigV4Error(
        'mismatch',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      );
    }
    return accessKeyId;
  }
}

/**
 * `ACCESS_KEY_ID:SECRET_ACCESS_KEY` pairs, comma separated (a secret may hold any character but a
 * comma), as the services' configuration takes them.
 */
export const parseCredentialList = (list: string): Map<string, string> => {
  const credentials = new Map<string, string>();
  for (const pair of list.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const colon = pair.indexOf(':');
    if (colon <= 0 || colon === pair.length - 1) throw new Error(`'${pair.slice(0, Math.max(colon, 0)) || '…'}:…' is not ACCESS_KEY_ID:SECRET_ACCESS_KEY`);
    credentials.set(pair.slice(0, colon), pair.slice(colon + 1));
  }
  return credentials;
};
