import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The services of the spine and their default ports (ARCHITECTURE.md). */
export const SERVICES = { api: 9001, 's3-ingest': 9002, dispatcher: 9004, worker: 9005 } as const;
export type ServiceName = keyof typeof SERVICES;

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export interface StackOptions {
  /** Environment shared by every service (on top of this process's). */
  env?: Record<string, string>;
  /** Port per service; defaults to SERVICES. */
  ports?: Partial<Record<ServiceName, number>>;
  /** Extra environment per service. */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Extra Node.js flags per service, e.g. `--cpu-prof` (which NODE_OPTIONS does not take). */
  nodeArgs?: Partial<Record<ServiceName, string[]>>;
  /** 'inherit' prints the services' output here; 'pipe' keeps it for `logs()`; 'ignore' drops it. */
  output?: 'inherit' | 'pipe' | 'ignore';
  readyTimeoutMs?: number;
}

/** Whether something accepts connections on the port at 127.0.0.1. */
const listening = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

interface Running {
  child: ChildProcess;
  exited: Promise<number | null>;
}

/** Starts the services as `npm start` does: built entry points, one process each. */
export class Stack {
  private readonly running = new Map<ServiceName, Running>();
  private readonly output: string[] = [];

  constructor(private readonly options: StackOptions = {}) {}

  port(service: ServiceName): number {
    return this.options.ports?.[service] ?? SERVICES[service];
  }

  url(service: ServiceName): string {
    return `http://127.0.0.1:${this.port(service)}`;
  }

  /** Output of the services so far, when started with output 'pipe'. */
  logs(): string {
    return this.output.join('');
  }

  /**
   * Starts the services; if one of them fails to, stops those that did before it throws, so that
   * no half-started stack is left holding its ports.
   */
  async start(services: ServiceName[] = Object.keys(SERVICES) as ServiceName[]): Promise<void> {
    const started = await Promise.allSettled(services.map((s) => this.startService(s)));
    const failed = started.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (!failed) return;
    await Promise.all(services.map((s) => this.stopService(s)));
    throw failed.reason;
  }

  async startService(service: ServiceName): Promise<void> {
    // A process left on the port (a stack that was never stopped) would answer the health check
    // in this one's place, with its own build and settings.
    if (await listening(this.port(service))) throw new Error(`${service}: port ${this.port(service)} is already in use (a stack left running?)`);
    const entry = join(REPO_ROOT, 'apps', service, 'dist', 'src', 'main.js');
    const mode = this.options.output ?? 'pipe';
    const child = spawn(process.execPath, ['--enable-source-maps', ...(this.options.nodeArgs?.[service] ?? []), entry], {
      cwd: REPO_ROOT,
      env: {
        // Functions reach this stack's Lambda API with the SDK's default endpoint, as they reach AWS's.
        ...(service === 'worker' ? { AWS_ENDPOINT_URL_LAMBDA: this.url('api') } : {}),
        ...process.env,
        ...this.options.env,
        ...this.options.serviceEnv?.[service],
        PORT: String(this.port(service)),
        NO_COLOR: '1',
      },
      stdio: ['ignore', mode, mode],
    });
    if (mode === 'pipe') {
      child.stdout?.on('data', (d: Buffer) => this.output.push(`[${service}] ${d.toString()}`));
      child.stderr?.on('data', (d: Buffer) => this.output.push(`[${service}] ${d.toString()}`));
    }
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    this.running.set(service, { child, exited });
    await this.waitReady(service, exited);
  }

  private async waitReady(service: ServiceName, exited: Promise<number | null>): Promise<void> {
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 30_000);
    let dead = false;
    void exited.then(() => (dead = true));
    while (Date.now() < deadline) {
      if (dead) throw new Error(`${service} exited during start-up\n${this.logs().slice(-4000)}`);
      const ok = await fetch(`${this.url(service)}/health`).then((r) => r.ok, () => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${service} did not become healthy on ${this.url(service)}\n${this.logs().slice(-4000)}`);
  }

  /** Sends `signal` and waits for the process to exit; returns its exit code. */
  async stopService(service: ServiceName, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const running = this.running.get(service);
    if (!running) return null;
    this.running.delete(service);
    if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill(signal);
    return running.exited;
  }

  async restart(service: ServiceName, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.stopService(service, signal);
    await this.startService(service);
  }

  pid(service: ServiceName): number | undefined {
    return this.running.get(service)?.child.pid;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await Promise.all([...this.running.keys()].map((s) => this.stopService(s, signal)));
  }
}
