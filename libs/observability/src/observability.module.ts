import { Controller, Get, Header, HttpStatus, Inject, Module, Res, type DynamicModule } from '@nestjs/common';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { HealthRegistry } from './health.registry.js';

export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');
export const SERVICE_NAME = Symbol('SERVICE_NAME');

/** A GET or HEAD of `/health` or `/metrics`: what probes and scrapers call, with no credentials. */
export const isProbe = (request: { method: string; url: string }): boolean =>
  (request.method === 'GET' || request.method === 'HEAD') && /^\/(?:health|metrics)\/?(?:\?|$)/.test(request.url);

interface ReplyLike {
  status(code: number): ReplyLike;
  send(body: unknown): void;
}

@Controller()
class HealthController {
  constructor(
    @Inject(HealthRegistry) private readonly health: HealthRegistry,
    @Inject(SERVICE_NAME) private readonly service: string,
  ) {}

  @Get('health')
  async check(@Res() reply: ReplyLike): Promise<void> {
    const report = await this.health.report();
    reply
      .status(report.ready ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE)
      .send({ service: this.service, status: report.ready ? 'ok' : 'unavailable', checks: report.checks });
  }
}

@Controller()
class MetricsController {
  constructor(@Inject(METRICS_REGISTRY) private readonly registry: Registry) {}

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}

/**
 * How often the event-loop delay histogram (nodejs_eventloop_lag_p99_seconds and the like) takes
 * a sample. prom-client's default of 10 ms wakes every service 100 times a second, busy or idle,
 * for a histogram scraped every few seconds: 5–6 ms of CPU a second per idle service against
 * 1–2 at 100 ms (`npm run bench`, idle table; docs/ARCHITECTURE.md, Performance).
 */
const EVENT_LOOP_SAMPLE_MS = 100;

/** `GET /health` and `GET /metrics` for a service, plus the registries its parts report into. */
@Module({})
export class ObservabilityModule {
  static forRoot(service: string): DynamicModule {
    const registry = new Registry();
    registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    return {
      module: ObservabilityModule,
      global: true,
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: SERVICE_NAME, useValue: service },
        { provide: METRICS_REGISTRY, useValue: registry },
        { provide: HealthRegistry, useValue: new HealthRegistry() },
      ],
      exports: [METRICS_REGISTRY, HealthRegistry],
    };
  }
}
