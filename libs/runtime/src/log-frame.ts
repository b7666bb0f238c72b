import { LAMBDA_LIMITS, SYSTEM_LOG_LEVELS } from '@tributary/contracts';

export interface ReportFigures {
  durationMs: number;
  memorySizeMb: number;
  maxMemoryUsedMb: number;
  initDurationMs?: number;
  /** An invocation the platform ended (a timeout, the runtime's exit or its memory): REPORT says how. */
  fault?: PlatformFailure;
}

/**
 * Billed duration: rounded up to the next millisecond, as AWS bills since 2020, with a cold
 * start's init in it, as AWS bills since August 2025 (managed runtimes and zips included).
 */
export const billedDuration = (durationMs: number, initDurationMs = 0): number => Math.max(1, Math.ceil(durationMs + initDurationMs));

export const startLine = (requestId: string, version: string): string => `START RequestId: ${requestId} Version: ${version}`;
export const endLine = (requestId: string): string => `END RequestId: ${requestId}`;

export const reportLine = (requestId: string, f: ReportFigures): string =>
  `REPORT RequestId: ${requestId}\tDuration: ${f.durationMs.toFixed(2)} ms\tBilled Duration: ${billedDuration(f.durationMs, f.initDurationMs)} ms\t` +
  `Memory Size: ${f.memorySizeMb} MB\tMax Memory Used: ${f.maxMemoryUsedMb} MB\t` +
  (f.initDurationMs !== undefined ? `Init Duration: ${f.initDurationMs.toFixed(2)} ms\t` : '') +
  // AWS's current format: the fault is in REPORT, no longer in lines of its own before END.
  (f.fault ? `Status: ${f.fault.status}\t${f.fault.status === 'error' ? `Error Type: ${f.fault.errorType}\t` : ''}` : '');

/** How the platform saw an invocation or an init end that did not complete: REPORT's and INIT_REPORT's status. */
export type PlatformFailure = { status: 'timeout' } | { status: 'error'; errorType: string };

/**
 * AWS's report of an init that failed or ran out of its 10 s: in text an INIT_REPORT line, in a
 * JSON log a `platform.initReport` record (level INFO). Phase `init` is a cold start's own init,
 * which the invocation then runs again within its timeout (a "suppressed init"); phase `invoke`
 * is that retry, when it fails too.
 */
export const initReportLine = (durationMs: number, phase: 'init' | 'invoke', failure: PlatformFailure, json?: { systemLogLevel: string }): string | undefined => {
  const errorType = failure.status === 'error' ? failure.errorType : undefined;
  if (!json) return `INIT_REPORT Init Duration: ${durationMs.toFixed(2)} ms\tPhase: ${phase}\tStatus: ${failure.status}${errorType ? `\tError Type: ${errorType}` : ''}`;
  if (!systemLevelAtLeast('INFO', json.systemLogLevel)) return undefined;
  return platformRecord(new Date(), 'platform.initReport', {
    initializationType: 'on-demand',
    phase,
    status: failure.status,
    ...(errorType ? { errorType } : {}),
    metrics: { durationMs: ms(durationMs) },
  });
};

/** How an invocation ended, as a JSON log's platform records say. */
export type InvocationStatus = { status: 'success' } | { status: 'error' | 'timeout'; errorType: string };

type SystemLevel = (typeof SYSTEM_LOG_LEVELS)[number];
/** Whether a record of Lambda's own at `level` is kept at SystemLogLevel `threshold` (the levels run from the most verbose). */
const systemLevelAtLeast = (level: SystemLevel, threshold: string): boolean =>
  SYSTEM_LOG_LEVELS.indexOf(level) >= Math.max(0, SYSTEM_LOG_LEVELS.indexOf(threshold as SystemLevel));

const ms = (value: number): number => Math.round(value * 100) / 100;
const platformRecord = (time: Date, type: string, record: Record<string, unknown>): string => JSON.stringify({ time: time.toISOString(), type, record });

/**
 * The platform's lines of one invocation in a JSON log, as AWS writes them with LogFormat JSON:
 * `platform.start` and `platform.report` (level INFO), and `platform.runtimeDone` between them at
 * DEBUG, each kept only at `systemLogLevel` or above. They frame the function's own records.
 */
export const jsonPlatformLines = (
  requestId: string,
  version: string,
  figures: ReportFigures,
  outcome: InvocationStatus,
  systemLogLevel: string,
  times: { start: Date; end: Date },
): { before: string[]; after: string[] } => {
  const status = outcome.status === 'success' ? { status: 'success' } : { status: outcome.status, errorType: outcome.errorType };
  const metrics = {
    durationMs: ms(figures.durationMs),
    billedDurationMs: billedDuration(figures.durationMs, figures.initDurationMs),
    memorySizeMB: figures.memorySizeMb,
    maxMemoryUsedMB: figures.maxMemoryUsedMb,
    ...(figures.initDurationMs !== undefined ? { initDurationMs: ms(figures.initDurationMs) } : {}),
  };
  const at = (level: SystemLevel, line: string): string[] => (systemLevelAtLeast(level, systemLogLevel) ? [line] : []);
  return {
    before: at('INFO', platformRecord(times.start, 'platform.start', { requestId, version })),
    after: [
      ...at('DEBUG', platformRecord(times.end, 'platform.runtimeDone', { requestId, ...status, metrics: { durationMs: ms(figures.durationMs) } })),
      ...at('INFO', platformRecord(times.end, 'platform.report', { requestId, metrics, ...status })),
    ],
  };
};

/** Base64 of the last 4 KB of a log, what `X-Amz-Log-Type: Tail` returns. */
export const logTail = (text: string, limit: number = LAMBDA_LIMITS.logTailBytes): string => {
  const bytes = Buffer.from(text, 'utf8');
  return bytes.subarray(Math.max(0, bytes.byteLength - limit)).toString('base64');
};

/** `Task timed out after 3.00 seconds`, with the request id as AWS prefixes it. */
export const timeoutMessage = (requestId: string, timeoutSeconds: number): string =>
  `RequestId: ${requestId} Error: Task timed out after ${timeoutSeconds.toFixed(2)} seconds`;

/**
 * The log as it fits in one message of at most `maxBytes` (with 1 KB to spare for framing):
 * the end, with END and REPORT, is kept; the start is dropped and a first line says so.
 */
export const fitLog = (text: string, maxBytes: number): string => {
  const room = maxBytes - 1024;
  if (text.length * 3 <= room) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.byteLength <= room) return text;
  const notice = `[tributary] ${bytes.byteLength - room} bytes at the start of this invocation's log were dropped\n`;
  return notice + bytes.subarray(bytes.byteLength - room + Buffer.byteLength(notice)).toString('utf8');
};

/**
 * The lines of one log, holding about the last `keepChars` characters: once it holds twice
 * that, the older lines go in one step and a line says how much was dropped, so a chatty
 * function cannot exhaust the worker's memory.
 */
export class LogLines {
  private lines: string[] = [];
  private chars = 0;
  private dropped = 0;

  constructor(private readonly keepChars: number) {}

  push(line: string): void {
    this.lines.push(line);
    this.chars += line.length + 1;
    if (this.chars <= 2 * this.keepChars) return;
    let cut = 0;
    let freed = 0;
    while (cut < this.lines.length - 1 && this.chars - freed > this.keepChars) freed += (this.lines[cut++]?.length ?? 0) + 1;
    this.lines.splice(0, cut);
    this.chars -= freed;
    this.dropped += freed;
  }

  /** The lines held (after a note of what was dropped), leaving this empty. */
  take(): string[] {
    const taken = this.dropped > 0 ? [`[tributary] ${this.dropped} characters of log output were dropped here`, ...this.lines] : this.lines;
    this.lines = [];
    this.chars = 0;
    this.dropped = 0;
    return taken;
  }
}
