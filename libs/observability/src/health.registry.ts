/** A named readiness check: resolves true while the dependency it watches is usable. */
export type HealthCheck = () => boolean | Promise<boolean>;

/** Collects the readiness checks of a service; `/health` is ready only when all pass. */
export class HealthRegistry {
  private readonly checks = new Map<string, HealthCheck>();
  private shuttingDown = false;

  register(name: string, check: HealthCheck): void {
    this.checks.set(name, check);
  }

  /** After this, the service reports not ready, so load balancers stop sending work. */
  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  async report(): Promise<{ ready: boolean; checks: Record<string, 'up' | 'down'> }> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        const up = await Promise.resolve()
          .then(check)
          .catch(() => false);
        return [name, up ? 'up' : 'down'] as const;
      }),
    );
    const checks = Object.fromEntries(entries);
    return { ready: !this.shuttingDown && entries.every(([, state]) => state === 'up'), checks };
  }
}
