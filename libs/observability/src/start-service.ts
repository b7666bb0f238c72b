import 'reflect-metadata';
import { createServer, type RequestListener } from 'node:http';
import { Logger, type DynamicModule, type INestApplication, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Metric, Registry } from 'prom-client';
import { HealthRegistry } from './health.registry.js';
import { METRICS_REGISTRY } from './observability.module.js';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/**
 * Why a request was answered 415: Fastify refuses a Content-Type that is not a media type (an
 * empty one, `json`) before any route or parser runs, so the header is all that can be wrong.
 */
export const notAMediaType = (header: string | string[] | undefined): string =>
  `Content-Type '${String(header ?? '')}' is not a media type (type/subtype, such as application/json)`;

/** Nest log levels at and above the configured one (`info` is Nest's `log`). */
export const logLevels = (level: string): LogLevel[] => {
  const wanted = (level === 'info' ? 'log' : level) as LogLevel;
  const index = LEVELS.indexOf(wanted);
  return LEVELS.slice(0, index < 0 ? 4 : index + 1);
};

/** What every service's configuration holds (BaseConfig with WithHttp). */
export interface ServiceSettings {
  HOST: string;
  PORT: number;
  LOG_LEVEL: string;
  /** After SIGTERM/SIGINT, the process exits regardless once this much (plus 10 s) has passed. */
  SHUTDOWN_GRACE_MS: number;
  /** A request whose body has not all arrived this long after it began is answered 408 and its connection closed. */
  HTTP_REQUEST_TIMEOUT_MS: number;
}

export interface StartServiceOptions {
  name: string;
  module: DynamicModule;
  config: ServiceSettings;
  /** Largest request body accepted (bytes); bodies reach controllers as raw Buffers. */
  bodyLimit?: number;
  /**
   * Fastify hooks of the service's own, added before any route. Metrics they return (made with
   * `registers: []`, as the service's registry does not exist yet) are served on `/metrics`.
   */
  configure?: (fastify: FastifyInstance) => Metric[] | void;
  /**
   * The answer, in the service's own protocol, to a request its router cannot take: a path that
   * is not valid percent-encoding (`status` 400). Without it Fastify answers in its own shape.
   */
  frameworkError?: (status: number, message: string, url: string) => { headers: Record<string, string>; body: string };
}

const frameworkErrors =
  (render: NonNullable<StartServiceOptions['frameworkError']>) =>
  (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const status = error.statusCode ?? 400;
    const { headers, body } = render(status, error.message, request.url);
    reply.status(status).headers(headers).send(body);
  };

/** How long an idle keep-alive connection stays open: Fastify's own default. */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;

/**
 * Boots a service: Nest on Fastify, raw request bodies, shutdown hooks, then listens. Returns the
 * app so tests can close it; prints where it listens.
 */
export const startService = async (options: StartServiceOptions): Promise<INestApplication> => {
  const adapter = new FastifyAdapter({
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    // A path parameter may be a full qualified function ARN (longer than find-my-way's 100
    // characters), and one too long for its member is the controller's to refuse in the
    // protocol's words: the router takes any that fits in Node's 16 KiB of request head.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 16 * 1024 },
    ...(options.frameworkError ? { frameworkErrors: frameworkErrors(options.frameworkError) } : {}),
    forceCloseConnections: 'idle',
    // Node's own default is 5 minutes; Fastify's is none, so a client that stops halfway through
    // a body held its connection (and a file descriptor) for ever. Node reads it only when the
    // server is made: Fastify's `requestTimeout`, set on the server afterwards, has no effect.
    // Made here, the server has Node's 5 s keep-alive and not Fastify's 72 s (it sets that only on
    // a server of its own): an SDK client, whose agent keeps idle sockets with no limit, reusing
    // one idle for 5 s raced the server's close and got ECONNRESET. 72 s outlasts the usual 60 s
    // of a load balancer in front.
    serverFactory: (handler: RequestListener) =>
      createServer({ requestTimeout: options.config.HTTP_REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, handler),
    // No Nest middleware anywhere (request hooks are Fastify's, see `configure`): middie would
    // only add a step to every request.
    skipMiddie: true,
  });
  const fastify = adapter.getInstance();
  const hookMetrics = options.configure?.(fastify) ?? [];
  // Every body arrives as bytes: Invoke payloads are forwarded verbatim and size-checked as AWS does.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  const app = await NestFactory.create<NestFastifyApplication>(options.module, adapter, {
    logger: logLevels(options.config.LOG_LEVEL),
    abortOnError: false,
    bodyParser: false,
  });
  const metrics = app.get<symbol, Registry>(METRICS_REGISTRY);
  for (const metric of hookMetrics) metrics.registerMetric(metric);
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  // Readiness turns red first, so that nothing new is routed here while in-flight work finishes.
  const health = app.get(HealthRegistry);
  const stopping = () => {
    health.markShuttingDown();
    // Nest ignores further signals while it shuts down: a hook that never returns must not keep
    // the process (and what it holds) alive for ever.
    const graceMs = options.config.SHUTDOWN_GRACE_MS;
    setTimeout(() => {
      new Logger(options.name).error(`shutdown did not finish within ${graceMs} ms + 10 s; exiting`);
      process.exit(1);
    }, graceMs + 10_000).unref();
  };
  process.once('SIGTERM', stopping);
  process.once('SIGINT', stopping);
  await app.listen(options.config.PORT, options.config.HOST);
  const url = await app.getUrl();
  new Logger(options.name).log(`${options.name} listening on ${url}`);
  return app;
};
