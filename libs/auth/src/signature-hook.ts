import { Logger } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter } from 'prom-client';
import { dropBody, type Refusal } from '@tributary/observability';
import { parseCredentialList } from '@tributary/config';
import { SIGV4_FAILURES, SigV4Error, SigV4Verifier } from './sigv4.js';

export interface SignatureHookOptions {
  /** Requests that need no signature (health checks, metrics, a webhook with its own token). */
  open: (request: FastifyRequest) => boolean;
  /** The refusal in the service's own protocol. */
  refuse: (error: SigV4Error, request: FastifyRequest) => Refusal;
  /**
   * Bytes of bodies the service holds at once before their signature can be checked (clients
   * that sign the body itself, not its declared hash: botocore); past it, a new one is answered
   * `busy` and dropped. A chunked body counts as `maxBodyBytes`.
   */
  unverifiedBodyBytes: number;
  maxBodyBytes: number;
  /** The protocol's "slow down" (Lambda's 429, S3's SlowDown), which SDKs retry. */
  busy: (request: FastifyRequest) => Refusal;
}

/**
 * The verifier of a service's API_CREDENTIALS, or undefined when it has none: then the API takes
 * unsigned calls, and says so once at start.
 */
export const verifierFromConfig = (
  config: { API_CREDENTIALS?: string | undefined; AWS_REGION: string; PORT: number },
  api: { name: string; service: string; uriEscapePath: boolean },
): SigV4Verifier | undefined => {
  if (config.API_CREDENTIALS === undefined) {
    new Logger('Signatures').warn(`API_CREDENTIALS is not set: the ${api.name} on port ${config.PORT} takes unsigned calls from anyone who reaches it`);
    return undefined;
  }
  return new SigV4Verifier({ service: api.service, region: config.AWS_REGION, credentials: parseCredentialList(config.API_CREDENTIALS), uriEscapePath: api.uriEscapePath });
};

/** The access key each verified request was signed with (keyed by Node's request, `request.raw`). */
export const signedBy = new WeakMap<object, string>();

/**
 * Requires a valid SigV4 signature on every request but the open ones. Before the body is read
 * (`onRequest`), all the headers allow: the signature itself when the client signed the body's
 * hash (the JS SDK, S3 clients) or sent no body, else its form, key, scope and date. A request
 * refused there is answered once its body has gone by, dropped as it arrives, never kept, so a
 * stranger, even one who knows a key id, cannot make the service hold a body. After the body
 * is read (`preHandler`): the body against its signed hash, or the whole signature for clients
 * that sign the body itself (botocore); before any controller, so an unsigned call reaches
 * nothing behind the service.
 *
 * Returns the counter of refusals by reason (SigV4Failure, or `busy` for the body budget), for the
 * service's `/metrics`: the log has them at debug only.
 */
export const requireSignatures = (fastify: FastifyInstance, verifier: SigV4Verifier, options: SignatureHookOptions): Counter<'reason'> => {
  const logger = new Logger('Signatures');
  const refusals = new Counter<'reason'>({
    name: 'tributary_signature_refusals_total',
    help: `Requests refused for their signature (reason: ${SIGV4_FAILURES.join(', ')}) or held back for the unverified-body budget (busy)`,
    labelNames: ['reason'],
    registers: [],
  });
  for (const reason of [...SIGV4_FAILURES, 'busy']) refusals.inc({ reason }, 0);
  const send = (reply: FastifyReply, { status, headers, body }: Refusal): FastifyReply => reply.code(status).headers(headers).send(body);
  const refuse = (error: SigV4Error, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    // At debug: a client with the wrong clock or region shows here; a flood of strangers does not fill the log.
    logger.debug(`refused ${request.method} ${request.url.split('?')[0] ?? ''} from ${request.ip}: ${error.failure}: ${error.message}`);
    refusals.inc({ reason: error.failure });
    return send(reply, options.refuse(error, request));
  };
  let unverifiedBytes = 0;
  fastify.addHook('onRequest', async (request, reply) => {
    if (options.open(request)) return;
    try {
      const accessKeyId = await verifier.verifyBeforeBody({ method: request.method, url: request.url, headers: request.headers });
      if (accessKeyId !== undefined) {
        signedBy.set(request.raw, accessKeyId);
        return;
      }
      // Its body must be in before it can be checked: held within a budget, so that forged
      // requests of a known key id cannot make the service hold more.
      const declared = Number(request.headers['content-length'] ?? Number.NaN);
      const size = Number.isInteger(declared) ? declared : options.maxBodyBytes;
      if (unverifiedBytes + size > options.unverifiedBodyBytes) {
        logger.debug(`busy: ${request.method} ${request.url.split('?')[0] ?? ''} from ${request.ip} would hold ${unverifiedBytes + size} unverified bytes`);
        refusals.inc({ reason: 'busy' });
        await dropBody(request.raw);
        return send(reply, options.busy(request));
      }
      unverifiedBytes += size;
      reply.raw.once('close', () => (unverifiedBytes -= size));
    } catch (error) {
      if (!(error instanceof SigV4Error)) throw error;
      await dropBody(request.raw);
      return refuse(error, request, reply);
    }
  });
  fastify.addHook('preHandler', async (request, reply) => {
    if (options.open(request)) return;
    const body = Buffer.isBuffer(request.body) ? request.body : undefined;
    try {
      // Signed by now only when verified before its body came: the body is all that is left to check.
      if (signedBy.has(request.raw)) {
        verifier.checkBody(request, body);
        return;
      }
      const accessKeyId = await verifier.verify({ method: request.method, url: request.url, headers: request.headers, ...(body ? { body } : {}) });
      signedBy.set(request.raw, accessKeyId);
    } catch (error) {
      if (!(error instanceof SigV4Error)) throw error;
      return refuse(error, request, reply);
    }
  });
  return refusals;
};
