import { createHash, createHmac, timingSafeEqual, type Hash, type Hmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';

/** Why a request may be refused; each service answers each in its own protocol's words. */
export const SIGV4_FAILURES = [
  /** No Authorization header at all. */
  'missing',
  /** An Authorization header that is not a SigV4 one, or lacks X-Amz-Date. */
  'malformed',
  /** An access key this installation does not hold, or a session token it never issued. */
  'unknown-key',
  /** Scoped to another region or service, or to another day than X-Amz-Date. */
  'scope',
  /** X-Amz-Date further from now than the allowed skew. */
  'expired',
  /** The signature does not match the request. */
  'mismatch',
  /** The body is not the one whose hash `x-amz-content-sha256` declares. */
  'body-hash',
] as const;

export type SigV4Failure = (typeof SIGV4_FAILURES)[number];

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
  // A name from the request itself (SignedHeaders) must not find an object's own members.
  const value = Object.hasOwn(headers, name) ? headers[name] : undefined;
  return Array.isArray(value) ? value.join(',') : typeof value === 'string' ? value : undefined;
};

/** A path the Lambda API's signers sign as it is: no empty, `.` or `..` segment for smithy to normalise away. */
const isNormalPath = (path: string): boolean => !/\/\/|\/\.{1,2}(?:\/|$)/.test(path);

/**
 * Checks AWS Signature Version 4 on requests as the AWS SDKs and CLI sign them: the canonical
 * request is rebuilt from what arrived, with the signed headers the client listed, and signed
 * again by smithy's own signer (the SDK's) with the secret of the access key named. Presigned
 * URLs (the signature in the query) are checked the same way, with their expiry.
 */
export class SigV4Verifier {
  private readonly maxSkewMs: number;
  private readonly signers = new Map<string, SignatureV4>();

  constructor(private readonly options: SigV4VerifierOptions) {
    this.maxSkewMs = options.maxSkewMs ?? 5 * 60_000;
    for (const [accessKeyId, secretAccessKey] of options.credentials) {
      this.signers.set(
        accessKeyId,
        // applyChecksum off: smithy would otherwise sign an x-amz-content-sha256 the client never
        // sent (botocore and curl send none to the Lambda API), and no such client would pass.
        new SignatureV4({ service: options.service, region: options.region, credentials: { accessKeyId, secretAccessKey }, sha256: NodeSha256, uriEscapePath: options.uriEscapePath, applyChecksum: false }),
      );
    }
  }

  /**
   * The access key id that signed `request`, in its Authorization header or as a presigned URL
   * (`X-Amz-Signature` in the query); throws SigV4Error when it is not signed as it must be.
   */
  async verify(request: ReceivedRequest, now = new Date()): Promise<string> {
    const checked = this.claimOf(request, now);
    this.checkBody(request, request.body);
    return this.checkSignature(request, checked, request.body ?? new Uint8Array());
  }

  /**
   * Verifies the signature before the body has arrived when the headers allow it: the client
   * declared the body's hash and signed that declaration (the JS SDK, every S3 client), or
   * there is no body. Returns the access key id then, undefined when the body is needed
   * (`verify`), and throws SigV4Error for what the headers alone refuse. Whoever verified this
   * way must still `checkBody` the body that arrives against the declared hash.
   */
  async verifyBeforeBody(request: Omit<ReceivedRequest, 'body'>, now = new Date()): Promise<string | undefined> {
    const checked = this.claimOf(request, now);
    const declared = header(request.headers, 'x-amz-content-sha256');
    const noBody = header(request.headers, 'transfer-encoding') === undefined && Number(header(request.headers, 'content-length') ?? 0) === 0;
    if (noBody) return this.checkSignature(request, checked, new Uint8Array());
    if (declared === undefined || !checked.claim.signedHeaders.includes('x-amz-content-sha256')) return undefined;
    return this.checkSignature(request, checked, undefined);
  }

  /** The body against the hash the request declared for it (none declared: nothing to check here). */
  checkBody(request: Omit<ReceivedRequest, 'body'>, body: Uint8Array | undefined): void {
    const declared = header(request.headers, 'x-amz-content-sha256');
    if (declared === undefined) return;
    // The body left out of the signature: the JS SDK streams payloads so, to Lambda as to S3.
    if (declared === 'UNSIGNED-PAYLOAD') return;
    const actual = createHash('sha256').update(body ?? new Uint8Array()).digest('hex');
    if (declared !== actual) throw new SigV4Error('body-hash', "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }

  /**
   * Signs again what arrived and compares. `body` undefined: its declared hash stands for it
   * (smithy takes a payload hash header as given).
   */
  private async checkSignature(request: Omit<ReceivedRequest, 'body'>, { claim, signer, path, query }: Checked, body: Uint8Array | undefined): Promise<string> {
    const headers: Record<string, string> = {};
    for (const name of claim.signedHeaders) headers[name] = header(request.headers, name) ?? '';
    const unsigned = { method: request.method, protocol: 'http:', hostname: headers['host'] ?? '', path, headers, ...(body?.byteLength ? { body } : {}) };
    const options = { signingDate: claim.signedAt, signableHeaders: new Set(claim.signedHeaders), signingRegion: claim.region, signingService: claim.service };
    let expected: string;
    if (claim.expiresIn === undefined) {
      const resigned = await signer.sign({ ...unsigned, query }, options);
      expected = /Signature=([0-9a-f]{64})/.exec(String(resigned.headers['authorization'] ?? ''))?.[1] ?? '';
    } else {
      // The payload hash travels in the query (S3's UNSIGNED-PAYLOAD) but smithy reads it from a
      // header, which it hoists back into the query under the name it is given.
      const rest = { ...query };
      const payloadHash = rest['X-Amz-Content-Sha256'];
      delete rest['X-Amz-Signature'];
      delete rest['X-Amz-Content-Sha256'];
      const withHash = typeof payloadHash === 'string' ? { ...unsigned, headers: { ...headers, 'X-Amz-Content-Sha256': payloadHash } } : unsigned;
      const presigned = await signer.presign({ ...withHash, query: rest }, { ...options, expiresIn: claim.expiresIn });
      // smithy writes the X-Amz- parameters anew: what was sent must be exactly what it wrote,
      // or the signature would not cover what arrived (X-Amz-Expires=0600 is not 600).
      for (const [key, value] of Object.entries(presigned.query ?? {})) {
        if (key.startsWith('X-Amz-') && key !== 'X-Amz-Signature' && query[key] !== value) throw new SigV4Error('malformed', `${key} is not as it was signed.`);
      }
      expected = String(presigned.query?.['X-Amz-Signature'] ?? '');
    }
    if (expected.length !== claim.signature.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(claim.signature))) {
      throw new SigV4Error(
        'mismatch',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      );
    }
    return claim.accessKeyId;
  }

  private claimOf(request: Omit<ReceivedRequest, 'body'>, now: Date): Checked {
    const [path = '/', search = ''] = request.url.split(/\?(.*)/s);
    const query = queryOf(search);
    const claim = header(request.headers, 'authorization') === undefined && query['X-Amz-Algorithm'] !== undefined ? presignedClaim(query) : headerClaim(request.headers);
    const signer = this.signers.get(claim.accessKeyId);
    if (!signer || claim.sessionToken !== undefined) throw new SigV4Error('unknown-key', 'The security token included in the request is invalid.');
    if (claim.service !== this.options.service) throw new SigV4Error('scope', `Credential should be scoped to correct service: '${this.options.service}'. `);
    if (claim.region !== this.options.region) throw new SigV4Error('scope', 'Credential should be scoped to a valid region. ');
    if (claim.day !== claim.stamp.slice(0, 8)) {
      throw new SigV4Error('scope', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${claim.day}' != '${claim.stamp.slice(0, 8)}', from '${claim.stamp}'.`);
    }
    this.checkTime(claim, now);
    if (!claim.signedHeaders.includes('host')) throw new SigV4Error('mismatch', "'Host' must be a 'SignedHeader' in the AWS Authorization.");
    // smithy would sign `/a//b/../c` as `/a/c`, while the router routes what was sent.
    if (this.options.uriEscapePath && !isNormalPath(path)) throw new SigV4Error('mismatch', 'The request path must not hold empty, "." or ".." segments.');
    // A header of AWS's that the signature does not cover could change what a replayed request does.
    const unsigned = Object.keys(request.headers).filter((name) => name.startsWith('x-amz-') && !claim.signedHeaders.includes(name));
    if (unsigned.length > 0) throw new SigV4Error('mismatch', `There were headers present in the request which were not signed: ${unsigned.join(', ')}`);
    return { claim, signer, path, query };
  }

  /**
   * `url` presigned (SigV4 in its query, valid `expiresInSeconds`) with `accessKeyId`'s secret,
   * as AWS presigns GetFunction's Code.Location: a plain GET of it passes `verify`.
   */
  async presignUrl(url: string, accessKeyId: string, expiresInSeconds: number, now = new Date()): Promise<string> {
    const signer = this.signers.get(accessKeyId);
    if (!signer) throw new Error(`no secret for access key ${accessKeyId}`);
    const target = new URL(url);
    const presigned = await signer.presign(
      { method: 'GET', protocol: target.protocol, hostname: target.hostname, path: target.pathname, query: queryOf(target.search.slice(1)), headers: { host: target.host } },
      { signingDate: now, expiresIn: expiresInSeconds },
    );
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(presigned.query ?? {})) for (const one of Array.isArray(value) ? value : [value ?? '']) search.append(key, one);
    return `${target.origin}${target.pathname}?${search.toString().replace(/\+/g, '%20')}`;
  }

  /** X-Amz-Date near enough to now, and a presigned URL not yet expired. */
  private checkTime(claim: Claim, now: Date): void {
    const skew = claim.signedAt.getTime() - now.getTime();
    const minutes = `${this.maxSkewMs / 60_000} min.`;
    if (skew > this.maxSkewMs) {
      throw new SigV4Error('expired', `Signature not yet current: ${claim.stamp} is still later than ${amzDate(new Date(now.getTime() + this.maxSkewMs))} (${amzDate(now)} + ${minutes})`);
    }
    if (claim.expiresIn !== undefined) {
      if (claim.signedAt.getTime() + claim.expiresIn * 1000 < now.getTime()) {
        throw new SigV4Error('expired', `Signature expired: ${claim.stamp} + ${claim.expiresIn} s is now earlier than ${amzDate(now)}`);
      }
    } else if (-skew > this.maxSkewMs) {
      throw new SigV4Error('expired', `Signature expired: ${claim.stamp} is now earlier than ${amzDate(new Date(now.getTime() - this.maxSkewMs))} (${amzDate(now)} - ${minutes})`);
    }
  }
}

/** A claim that passed the checks the headers allow, with what signing it again needs. */
interface Checked {
  claim: Claim;
  signer: SignatureV4;
  path: string;
  query: Record<string, string | string[]>;
}

/** What a request says of its signature, from the Authorization header or a presigned URL's query. */
interface Claim {
  accessKeyId: string;
  day: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  stamp: string;
  signedAt: Date;
  sessionToken?: string;
  /** A presigned URL's X-Amz-Expires. */
  expiresIn?: number;
}

const CREDENTIAL = /^([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request$/;

const signedAtOf = (stamp: string | undefined, missing: string): { stamp: string; signedAt: Date } => {
  const when = stamp === undefined ? undefined : AMZ_DATE.exec(stamp);
  if (!stamp || !when) throw new SigV4Error('malformed', missing);
  const [, y, mo, d, h, mi, s] = when;
  const signedAt = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
  // Digits that are no date (month 13, 25 o'clock, 30 February) are refused, not signed with.
  if (Number.isNaN(signedAt.getTime()) || amzDate(signedAt) !== stamp) throw new SigV4Error('malformed', `X-Amz-Date must be a date and time such as 20261207T020000Z, not ${stamp}.`);
  return { stamp, signedAt };
};

const headerClaim = (headers: IncomingHttpHeaders): Claim => {
  const authorization = header(headers, 'authorization');
  if (authorization === undefined) throw new SigV4Error('missing', 'Missing Authentication Token');
  const parts = AUTHORIZATION.exec(authorization);
  if (!parts) throw new SigV4Error('malformed', `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' of AWS4-HMAC-SHA256. Authorization=${authorization.split(' ')[0] ?? ''}`);
  const [, accessKeyId = '', day = '', region = '', service = '', signedList = '', signature = ''] = parts;
  const token = header(headers, 'x-amz-security-token');
  return {
    accessKeyId, day, region, service, signature,
    signedHeaders: signedList.split(';'),
    ...signedAtOf(header(headers, 'x-amz-date'), "Authorization header requires existence of a 'X-Amz-Date' header."),
    ...(token !== undefined ? { sessionToken: token } : {}),
  };
};

/** AWS's longest presigned URL: 7 days. */
const MAX_EXPIRES_SECONDS = 604_800;

const presignedClaim = (query: Record<string, string | string[]>): Claim => {
  const one = (name: string): string | undefined => {
    const value = query[name];
    return Array.isArray(value) ? undefined : value;
  };
  if (one('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') throw new SigV4Error('malformed', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  const credential = CREDENTIAL.exec(one('X-Amz-Credential') ?? '');
  const signature = one('X-Amz-Signature') ?? '';
  const signedList = one('X-Amz-SignedHeaders') ?? '';
  const expiresText = one('X-Amz-Expires') ?? '';
  const expires = /^[1-9]\d{0,5}$/.test(expiresText) ? Number(expiresText) : Number.NaN;
  if (!credential || !/^[0-9a-f]{64}$/.test(signature) || !/^[a-z0-9;-]+$/.test(signedList) || !Number.isInteger(expires) || expires < 1 || expires > MAX_EXPIRES_SECONDS) {
    throw new SigV4Error('malformed', `A presigned URL needs X-Amz-Credential, X-Amz-SignedHeaders, X-Amz-Signature and X-Amz-Expires (1 to ${MAX_EXPIRES_SECONDS} seconds).`);
  }
  const [, accessKeyId = '', day = '', region = '', service = ''] = credential;
  const token = one('X-Amz-Security-Token');
  return {
    accessKeyId, day, region, service, signature,
    signedHeaders: signedList.split(';'),
    expiresIn: expires,
    ...signedAtOf(one('X-Amz-Date'), 'A presigned URL needs X-Amz-Date.'),
    ...(token !== undefined ? { sessionToken: token } : {}),
  };
};

/** A query string as smithy takes it: repeated keys as arrays. */
const queryOf = (search: string): Record<string, string | string[]> => {
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(search)) {
    const seen = query[key];
    query[key] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return query;
};
