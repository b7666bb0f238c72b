import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Counter, type Registry } from 'prom-client';
import { METRICS_REGISTRY, PeriodicTask } from '@tributary/observability';
import { FunctionRegistry } from '@tributary/registry';

export const CODE_COLLECTION = Symbol('CODE_COLLECTION');
export interface CodeCollectionSettings {
  /** How often to look for unused deployment packages; 0 turns collection off. */
  intervalMs: number;
  /** A package stored less than this long ago is kept even when unused. */
  graceMs: number;
}

/**
 * Removes deployment packages that no function uses any more (left by UpdateFunctionCode and
 * DeleteFunction) from the code store. Several API replicas may sweep at once: a delete is
 * idempotent.
 */
@Injectable()
export class CodeCollector implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(CodeCollector.name);
  private readonly removed: Counter;
  private periodic?: PeriodicTask;

  constructor(
    @Inject(FunctionRegistry) private readonly registry: FunctionRegistry,
    @Inject(CODE_COLLECTION) private readonly settings: CodeCollectionSettings,
    @Inject(METRICS_REGISTRY) metrics: Registry,
  ) {
    this.removed = new Counter({
      name: 'tributary_api_code_packages_removed_total',
      help: 'Deployment packages removed from the code store because no function uses them',
      registers: [metrics],
    });
  }

  onApplicationBootstrap(): void {
    this.periodic = new PeriodicTask('collecting unused deployment packages', this.settings.intervalMs, () => this.sweep());
  }

  async onApplicationShutdown(): Promise<void> {
    await this.periodic?.stop();
  }

  private async sweep(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    // A sweep whose NATS calls never settle must not stop every later sweep.
    const limit = Math.max(10_000, 5 * this.settings.intervalMs);
    const overdue = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the sweep took longer than ${limit} ms; trying again`)), limit);
    });
    try {
      const removed = await Promise.race([this.registry.collectUnusedCode(this.settings.graceMs), overdue]);
      this.removed.inc(removed.length);
      if (removed.length > 0) this.logger.log(`removed ${removed.length} unused deployment package(s): ${removed.join(', ')}`);
    } catch (error) {
      this.logger.warn(`could not collect unused deployment packages: ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }
}
