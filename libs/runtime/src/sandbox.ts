import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';
import { LAMBDA_LIMITS, type FunctionSpec } from '@tributary/contracts';
import { LogLines, billedDuration, endLine, initReportLine, jsonPlatformLines, logTail, reportLine, startLine, timeoutMessage, type PlatformFailure } from './log-frame.js';

export interface InvokeRequest {
  requestId: string;
  /** The event as JSON text. */
  payload: string;
  /** Base64 client context (X-Amz-Client-Context). */
  clientContext?: string;
  /** `context.invokedFunctionArn` when the caller named a qualifier; the function's ARN otherwise. */
  invokedFunctionArn?: string;
  wantLogTail: boolean;
  traceId?: string;
  /**
   * Called as soon as the function has posted its result or error, before its log is complete
   * and the invocation is accounted for: a waiting caller can be answered at once.
   */
  onResponse?: (response: InvokeResponse) => void;
  /**
   * Takes a streaming handler's bytes as the runtime sends them (the Runtime API's streaming
   * response mode), up to LAMBDA_LIMITS.streamedResponseBytes; its result is then `streamed`,
   * without a payload. Without it, a streamed response is collected and answered whole, as
   * AWS answers Invoke. A promise returned means the caller has no room: the runtime's writes
   * wait until it settles.
   */
  onChunk?: (chunk: Buffer) => Promise<void> | void;
  /**
   * The log of an init that ran out of INIT_LIMIT_MS on another sandbox. As AWS then runs the
   * init again within the invocation (a "suppressed init"), this sandbox's init gets no time of
   * its own: init and handler share the function's timeout, the Duration counts both, there is
   * no Init Duration, and the log starts with these lines.
   */
  retriedInit?: string[];
}

/** What a caller sees of an invocation. */
export interface InvokeResponse {
  /** JSON text: the handler's result, or the error object; see `payloadEncoding`. */
  payload: string;
  /**
   * `base64` when the result is bytes that are not UTF-8 text (what a streaming handler wrote,
   * an image say): `payload` is then their base64.
   */
  payloadEncoding?: 'base64';
  /** The result went to `onChunk` as the function wrote it: `payload` is empty. */
  streamed?: true;
  functionError?: 'Unhandled';
  errorType?: string;
}

export interface InvokeOutcome extends InvokeResponse {
  /** Base64 of the last 4 KB of the invocation's log, when asked for. */
  logTail?: string;
  durationMs: number;
  billedDurationMs: number;
  maxMemoryUsedMb: number;
  initDurationMs?: number;
  coldStart: boolean;
  /**
   * A warm sandbox's process was gone before it took the invocation (it crashed or was killed
   * while idle): nothing ran, and the pool runs it on another sandbox. Never seen by the pool's callers.
   */
  notStarted?: true;
  /** With notStarted: the init ran out of INIT_LIMIT_MS, and these lines of its log go with the retry (InvokeRequest.retriedInit). */
  retriedInit?: string[];
}

export interface SandboxSettings {
  region: string;
  /** The node binary the runtime runs on: the Node.js of the function's runtime (nodeRuntimes). */
  execPath: string;
  baseEnvironment: Record<string, string>;
  /** The user and group the child runs as (the worker must be root to switch). */
  runAs?: { uid: number; gid: number };
  /** Without privateMounts, the sandbox's own TMPDIR: an empty directory the pool made for it (ScratchDirs). */
  tmpDir?: string;
  /**
   * Mount a tmpfs of the function's ephemeral storage size at /tmp and the package read-only at
   * /var/task (PRIVATE_MOUNTS, and /var/task exists).
   */
  privateMounts?: boolean;
  /** With privateMounts, mounted read-only over /etc/passwd: it names `runAs`'s uid (ScratchDirs). */
  passwdFile?: string;
  /**
   * `runAs`'s uid is this sandbox's alone: the Runtime API then takes connections from that
   * user's sockets only, as AWS's is reachable from inside its execution environment only.
   */
  ownUser?: boolean;
  onLog?: (spec: FunctionSpec, requestId: string, text: string) => void;
}

/**
 * Sent by Tributary's runtimes with `/response` and `/error`: the bytes written to stdout and to
 * stderr since the process started, and its peak RSS in KB (`<stdout> <stderr> <maxRssKb>`).
 * The invocation's log is complete once the worker has read that many bytes from each pipe, so
 * it is known without another message from the runtime; REPORT's Max Memory Used comes with it.
 */
const LOG_END_HEADER = 'tributary-log-end';
/** How long to wait for the rest of the log after the result, for runtimes that do not say where it ends. */
const LOG_GRACE_MS = 50;
/**
 * How often a running invocation's RSS is read from /proc. AWS kills a function the moment it goes
 * over its memory size; without cgroups, this poll (one small read per running invocation, none
 * for those that answer sooner) is what stops one that grows and then waits.
 */
const MEMORY_POLL_MS = 200;
/** Connections a sandbox's Runtime API takes at once (its runtime keeps one alive). */
const RUNTIME_API_CONNECTIONS = 8;
/** How long a warm runtime may take to ask for the next invocation, on top of the timeout. */
const NEXT_GRACE_MS = 2_000;
/** Log kept per invocation (its end: Tail and REPORT come from it); a message holds 1 MB anyway. */
const LOG_KEEP_CHARS = 1024 * 1024;
/** A line longer than this (output without newlines) is cut into lines of this length. */
const LINE_MAX_CHARS = 256 * 1024;
/**
 * How long a sandbox waits for work before it is frozen. A freeze and thaw cost the worker and
 * the sandbox about 0.8 ms of CPU: freezing at once after every invocation made the bench's
 * one-client req/s × 0.82. After 100 ms the ten-client req/s was still × 0.88: the pool hands
 * out the most recently used sandbox, so the others sit idle for moments under steady load.
 * After a second idle a freeze costs under 0.1 % of a core.
 */
const FREEZE_AFTER_MS = 1000;
/**
 * AWS gives a function's initialisation 10 s of its own. An init that takes longer is cut off and
 * run again within the invocation, under the function's timeout (InvokeRequest.retriedInit).
 */
const INIT_LIMIT_MS = 10_000;
/** The Node.js runtime a sandbox runs. */
export const BOOTSTRAP = fileURLToPath(new URL('./node-runtime/bootstrap.js', import.meta.url));
/**
 * util-linux's setpriv starts a sandbox with a parent-death signal (SIGKILL), so that the kernel
 * kills it when the worker dies, even while it is frozen and cannot notice for itself.
 * Sandboxes are frozen between invocations only where it is found and takes `--pdeathsig`
 * (util-linux 2.33 and later; Debian and its images have it; BusyBox's applet does not).
 */
export const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find(
  (path) => existsSync(path) && spawnSync(path, ['--pdeathsig', 'KILL', '--', process.execPath, '--version'], { stdio: 'ignore', timeout: 5000 }).status === 0,
);

/**
 * util-linux's prlimit gives a sandbox AWS's resource quotas before its runtime starts: 1,024
 * open files, and (where its uid is its own) 1,024 processes and threads, so that a function
 * that leaks descriptors or forks without end fails inside its sandbox (EMFILE, EAGAIN) as on
 * AWS, and cannot exhaust the host's. Where it is missing a sandbox has the worker's limits.
 */
export const PRLIMIT = ['/usr/bin/prlimit', '/bin/prlimit'].find(
  (path) => existsSync(path) && spawnSync(path, ['--nofile=64', '--', process.execPath, '--version'], { stdio: 'ignore', timeout: 5000 }).status === 0,
);
/**
 * A hard limit of this process from /proc/self/limits ("Max open files", say); undefined where
 * unlimited or unknown. A sandbox's limit may not exceed it: only root may raise a hard limit.
 */
const ownHardLimit = (name: string): number | undefined => {
  try {
    const hard = new RegExp(`^${name}\\s+\\S+\\s+(\\d+)`, 'm').exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    return hard === undefined ? undefined : Number(hard);
  } catch {
    return undefined;
  }
};
const atMost = (limit: number, hard: number | undefined): number => (hard === undefined ? limit : Math.min(limit, hard));
const FILE_LIMIT = atMost(LAMBDA_LIMITS.fileDescriptors, ownHardLimit('Max open files'));
const PROCESS_LIMIT = atMost(LAMBDA_LIMITS.processes, ownHardLimit('Max processes'));

const MOUNT = ['/usr/bin/mount', '/bin/mount'].find((path) => existsSync(path));
const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'].find((path) => existsSync(path));
/**
 * Whether sandboxes get mounts of their own, as on AWS: in a mount namespace (util-linux's
 * unshare; the worker must be root, or hold CAP_SYS_ADMIN in a container) a sandbox's /tmp is
 * its own empty tmpfs, as big as its ephemeral storage, and /var/task its package, read-only.
 * Elsewhere /tmp is the host's and only TMPDIR (`os.tmpdir()`) is the sandbox's own.
 */
export const PRIVATE_MOUNTS: boolean =
  SETPRIV !== undefined && MOUNT !== undefined && UNSHARE !== undefined && existsSync('/bin/sh') &&
  spawnSync(UNSHARE, ['--mount', '--', MOUNT, '--bind', '/tmp', '/tmp'], { stdio: 'ignore', timeout: 5000 }).status === 0;
/**
 * Whether a sandbox with mounts of its own also gets an IPC namespace of its own, as each AWS
 * execution environment has: System V shared memory, semaphores and message queues (and POSIX
 * message queues) one function makes are invisible to every other and go when its sandbox ends.
 */
export const PRIVATE_IPC: boolean =
  PRIVATE_MOUNTS && UNSHARE !== undefined && spawnSync(UNSHARE, ['--ipc', '--', process.execPath, '--version'], { stdio: 'ignore', timeout: 5000 }).status === 0;
/** Where the package is mounted in a sandbox with PRIVATE_MOUNTS: AWS's task root. */
export const TASK_MOUNT = '/var/task';
/**
 * AWS's Node.js bootstrap when AWS_LAMBDA_EXEC_WRAPPER is set: the wrapper checked as it checks
 * it, then run with the runtime's command line as its arguments. `$0` is the wrapper as the
 * function names it, `$1` where it is here, the rest the command line.
 */
const EXEC_WRAPPER_SCRIPT =
  'w="$1"; shift; if [ ! -f "$w" ]; then echo "$0: does not exist"; exit 127; fi; if [ ! -x "$w" ]; then echo "$0: is not an executable"; exit 126; fi; exec "$w" "$@"';

/**
 * As AWS's (/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin): the directory of the Node.js
 * that runs the function, then the system's. Not the worker's own PATH, which says where the
 * worker was started from (`npm start` puts every node_modules/.bin of the checkout on it).
 */
const sandboxPath = (execPath: string): string => [...new Set([dirname(execPath), '/usr/local/bin', '/usr/bin', '/bin'])].join(':');
/**
 * Where the SDK's directory of links is mounted there: on the way up from /var/task, so that ES
 * modules (which ignore NODE_PATH) find it as CommonJS does, after the package's own.
 */
export const RUNTIME_MODULES_MOUNT = '/var/node_modules';
/**
 * Directories every user of the host may write to besides /tmp. On AWS only /tmp is writable;
 * here a file one function left in them (mode 644 by default) could be read by every other, and
 * by the next sandbox given its uid. In a sandbox's mount namespace each is an empty read-only
 * directory, so writes fail with EROFS as on AWS. (/var/lock is a link to /run/lock on Debian.)
 */
export const SHARED_WRITABLE_DIRS = ['/var/tmp', '/dev/shm', '/run/lock'] as const;
/**
 * The options of a sandbox's /tmp, a tmpfs of its own: as big as the function's ephemeral
 * storage, so that a write past it fails with ENOSPC as on AWS (and `df /tmp` tells its size),
 * owned by the sandbox's user. It lives in memory and goes with the sandbox's mount namespace.
 */
const tmpfsOptions = (sizeMb: number, owner: { uid: number; gid: number }): string =>
  `size=${sizeMb}m,mode=0700,uid=${owner.uid},gid=${owner.gid},nosuid,nodev`;
/**
 * Run by `sh -c` inside the sandbox's new mount namespace (mounts there are private, unshare's
 * default): `$0` mount, `$1` the options of its /tmp (tmpfsOptions), `$2` its package, `$3` the
 * runtime modules, `$4` a passwd file naming the sandbox's user (or empty), `$5` the directory of
 * every unpacked package, then the command to exec. Once its own package and modules are bound,
 * the directory of all packages is covered with an empty read-only tmpfs: other functions' code
 * is out of sight, as on AWS. /tmp is mounted after those: the package, the code directory and the passwd
 * file may be in the host's /tmp. Last, the host's other world-writable directories
 * (SHARED_WRITABLE_DIRS) get empty read-only covers too.
 */
const MOUNT_SCRIPT =
  `set -e; "$0" --bind -o ro "$2" ${TASK_MOUNT}; "$0" --bind -o ro "$3" ${RUNTIME_MODULES_MOUNT}; ` +
  `if [ -n "$4" ]; then "$0" --bind -o ro "$4" /etc/passwd; fi; ` +
  `"$0" -t tmpfs -o ro,size=4k,mode=0755 tributary-code "$5"; ` +
  `"$0" -t tmpfs -o "$1" tributary-tmp /tmp; ` +
  `for d in ${SHARED_WRITABLE_DIRS.join(' ')}; do if [ -d "$d" ] && [ ! -L "$d" ]; then "$0" -t tmpfs -o ro,size=4k,mode=0755 tributary-ro "$d"; fi; done; ` +
  `cd ${TASK_MOUNT}; unset OLDPWD; shift 5; exec "$@"`;

/** An invocation's error; `fault` when the platform ended it (a timeout, the runtime's exit or its memory), not the function. */
interface InvocationError {
  errorType: string;
  payload: string;
  fault?: true;
}

interface Invocation {
  request: InvokeRequest;
  resolve: (outcome: InvokeOutcome) => void;
  delivered: boolean;
  startedAt: number;
  lines: LogLines;
  coldStart: boolean;
  /** Its init is a retry after one that ran out of INIT_LIMIT_MS: it runs within the invocation's timeout. */
  suppressedInit: boolean;
  /** A suppressed init that failed too: AWS's INIT_REPORT of it (phase invoke), which heads the invocation's own lines. */
  initReport?: string;
  /** Epoch ms by which it must have answered (Lambda-Runtime-Deadline-Ms): from its delivery, or for a suppressed init from its start. */
  deadline: number;
  timer?: NodeJS.Timeout;
  memoryTimer?: NodeJS.Timeout;
  result?: { payload: string; payloadEncoding?: 'base64'; streamed?: true; error?: InvocationError };
  /** Bytes of stdout and stderr the worker must have read for the log to be complete (LOG_END_HEADER). */
  logEnd?: { stdout: number; stderr: number };
  /** Peak RSS in KB, as the runtime reported it with its result. */
  maxRssKb?: number;
  finished: boolean;
}

/**
 * The uid that owns the socket connected from 127.0.0.1:`clientPort` to 127.0.0.1:`serverPort`,
 * as /proc/net/tcp lists it (the kernel records who made each socket); undefined if not there.
 */
export const loopbackClientUid = (clientPort: number, serverPort: number): number | undefined => {
  const address = (port: number) => `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const [local, remote] = [address(clientPort), address(serverPort)];
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of table.split('\n')) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid …
    const fields = line.trim().split(/\s+/);
    if (fields[1] === local && fields[2] === remote) return Number(fields[7]);
  }
  return undefined;
};

/** Signals as AWS's runtime (written in Go) names them in "Runtime exited with error: signal: …". */
const SIGNAL_NAMES: Partial<Record<NodeJS.Signals, string>> = {
  SIGKILL: 'killed', SIGABRT: 'aborted', SIGSEGV: 'segmentation fault', SIGTERM: 'terminated', SIGINT: 'interrupt',
  SIGHUP: 'hangup', SIGBUS: 'bus error', SIGILL: 'illegal instruction', SIGFPE: 'floating point exception', SIGTRAP: 'trace/breakpoint trap',
  SIGQUIT: 'quit', SIGPIPE: 'broken pipe', SIGUSR1: 'user defined signal 1', SIGUSR2: 'user defined signal 2',
};

const errorPayload = (errorType: string, errorMessage: string, trace?: string[]): string =>
  JSON.stringify(trace ? { errorType, errorMessage, trace } : { errorType, errorMessage });

/** JSON re-written in ASCII only (\\u escapes), as an HTTP header value must be; undefined if not JSON. */
const headerSafeJson = (text: string): string | undefined => {
  try {
    return JSON.stringify(JSON.parse(text)).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  } catch {
    return undefined;
  }
};

/** decodeURIComponent that answers undefined for malformed input (the caller is function code). */
const safeDecode = (text: string): string | undefined => {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
};

/** An X-Ray style trace header: epoch seconds in hex, then 24 hex digits from randomUUID (its cached pool; two of them fixed by the UUID format). */
/** A result or error over the response limit. */
const tooLarge = (limitBytes: number) => ({
  payload: '',
  error: {
    errorType: 'Function.ResponseSizeTooLarge',
    payload: errorPayload('Function.ResponseSizeTooLarge', `Response payload size exceeded maximum allowed payload size (${limitBytes} bytes).`),
  },
});
const TOO_LARGE = tooLarge(LAMBDA_LIMITS.syncResponseBytes);
const STREAM_TOO_LARGE = tooLarge(LAMBDA_LIMITS.streamedResponseBytes);

const success = (result: { payload: string; payloadEncoding?: 'base64'; streamed?: true }): InvokeResponse => ({
  payload: result.payload,
  ...(result.payloadEncoding ? { payloadEncoding: result.payloadEncoding } : {}),
  ...(result.streamed ? { streamed: true as const } : {}),
});

/** A trailer or header's one value (Node gives repeated ones as an array). */
const single = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/**
 * Random bytes as hex, drawn from a pool filled 4 KB at a time, as Node's randomUUID draws its
 * own: `randomBytes(20)` for each invocation's trace id cost 4.7 µs a call (1.6 % of a worker's
 * CPU per invocation under `perf`), a pooled draw 0.3 µs.
 */
const RANDOM_POOL = Buffer.alloc(4096);
let randomOffset = RANDOM_POOL.length;
const randomHex = (bytes: number): string => {
  if (randomOffset + bytes > RANDOM_POOL.length) {
    randomFillSync(RANDOM_POOL);
    randomOffset = 0;
  }
  randomOffset += bytes;
  return RANDOM_POOL.toString('hex', randomOffset - bytes, randomOffset);
};

/**
 * An X-Ray trace header as AWS hands one to an invocation that came without: a new root, a
 * parent id and the sampling decision, all three, or the X-Ray SDK (and Powertools' Tracer) logs
 * "_X_AMZN_TRACE_ID is missing required information" at every invocation. Not sampled: no trace
 * is collected here, whatever the function's TracingConfig.
 */
const traceId = (): string => {
  const random = randomHex(20);
  return `Root=1-${Math.floor(Date.now() / 1000).toString(16).padStart(8, '0')}-${random.slice(0, 24)};Parent=${random.slice(24, 40)};Sampled=0`;
};

const logStreamName = (): string => {
  const d = new Date();
  const day = `${d.getUTCFullYear()}/${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String(d.getUTCDate()).padStart(2, '0')}`;
  return `${day}/[$LATEST]${randomHex(16)}`;
};

/**
 * One execution environment: a child process running a Lambda runtime, and the Runtime API
 * server it talks to. It runs one invocation at a time; the child blocks on `/next` between them.
 */
export class Sandbox {
  private child?: ChildProcess;
  private server?: Server;
  private pendingNext?: ServerResponse;
  private current?: Invocation;
  private spawnedAt = 0;
  private initDurationMs?: number;
  /** Output while no invocation runs (initialisation, background timers): it heads the next log. */
  private initLines = new LogLines(LOG_KEEP_CHARS);
  private partial = { stdout: '', stderr: '' };
  /** The request id of the invocation handed to the runtime last. */
  private lastRequestId = '';
  /** Bytes read from each pipe since the process started (LOG_END_HEADER counts the same). */
  private received = { stdout: 0, stderr: 0 };
  private readonly decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  /** The runtime's last reported peak RSS in KB: REPORT's figure once the process (and its /proc) is gone. */
  private lastMaxRssKb?: number;
  private alive = true;
  /** Stopped (SIGSTOP) while it waits for its next invocation, as AWS freezes an idle execution environment. */
  private frozen = false;
  private freezeTimer?: NodeJS.Timeout;
  retired = false;
  idleTimer?: NodeJS.Timeout;
  /** When the pool last put it back among the idle ones (performance.now()). */
  idleSince = 0;
  private killing = false;
  private markExited!: () => void;
  /** Resolves when the child process has exited. */
  readonly exitedPromise = new Promise<void>((resolve) => (this.markExited = resolve));

  constructor(
    readonly spec: FunctionSpec,
    private readonly taskRoot: string,
    private readonly settings: SandboxSettings,
    private readonly onExit: (sandbox: Sandbox) => void,
  ) {}

  get isAlive(): boolean {
    return this.alive;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Never rejects: a sandbox that cannot start is dead, and its invocation reports Runtime.ExitError. */
  async start(): Promise<void> {
    if (this.killing) return this.exited(null, null); // killed before it started (the pool closed)
    // No request timeout: a streaming response is one request for as long as the function runs
    // (up to 900 s), and the invocation's own timer ends it. Headers still have 10 s (Node would
    // drop that limit with the other). Trailers count as headers: 256 KB holds a streamed error's
    // record (the runtime fits it into 192 KB of base64). The runtime keeps one connection; a
    // function's own processes may not open more than a few, each of which the worker holds.
    const server = createServer({ keepAlive: true, requestTimeout: 0, headersTimeout: 10_000, maxHeaderSize: 256 * 1024 }, (req, res) => this.route(req, res));
    server.maxConnections = RUNTIME_API_CONNECTIONS;
    this.server = server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      // Accept errors (EMFILE, say) must not take the worker down.
      server.on('error', () => undefined);
      const uid = this.settings.ownUser ? this.settings.runAs?.uid : undefined;
      if (uid !== undefined) {
        // Any local process can reach a loopback port: without this, another function could
        // take this one's next event (GET /next) or answer in its name.
        const port = (server.address() as AddressInfo).port;
        server.on('connection', (socket) => {
          if (socket.remotePort === undefined || loopbackClientUid(socket.remotePort, port) !== uid) socket.destroy();
        });
      }
      this.spawn((server.address() as AddressInfo).port);
    } catch {
      this.exited(null, null);
    }
  }

  private spawn(port: number): void {
    const memory = this.spec.memorySize;
    this.spawnedAt = performance.now();
    // V8's heap sized as AWS's Node.js bootstrap sizes it: a tenth of the memory for the young
    // generation (two semi-spaces), the rest for the old. Node's own 16 MB semi-spaces would let
    // garbage push RSS past a small function's limit (and into Runtime.OutOfMemory).
    const newSpace = Math.floor(memory / 10);
    // As AWS's bootstrap, not where the function's NODE_OPTIONS sizes the heap itself.
    const own = this.spec.environment['NODE_OPTIONS'] ?? '';
    const heap = /--max-old-space-size|--max-semi-space-size/.test(own)
      ? []
      : [`--max-semi-space-size=${Math.max(1, Math.floor(newSpace / 2))}`, `--max-old-space-size=${memory - newSpace}`];
    // Flags AWS's Node.js bootstrap starts every function with: handlers may call global.gc().
    const runtime: [string, ...string[]] = [this.settings.execPath, '--expose-gc', '--max-http-header-size=81920', ...heap, BOOTSTRAP];
    const wrapper = this.spec.environment['AWS_LAMBDA_EXEC_WRAPPER'];
    const { runAs, passwdFile, ownUser } = this.settings;
    const wrapped: [string, ...string[]] = wrapper ? ['/bin/sh', '-c', EXEC_WRAPPER_SCRIPT, wrapper, this.hostPath(wrapper), ...runtime] : runtime;
    // RLIMIT_NPROC counts every process of the uid: only a uid of the sandbox's own may be held to it.
    const limits = [`--nofile=${FILE_LIMIT}:${FILE_LIMIT}`, ...(ownUser && runAs && runAs.uid !== 0 ? [`--nproc=${PROCESS_LIMIT}:${PROCESS_LIMIT}`] : [])];
    const node: [string, ...string[]] = PRLIMIT ? [PRLIMIT, ...limits, '--', ...wrapped] : wrapped;
    let command: string;
    let args: string[];
    let user = runAs;
    if (this.mounted && SETPRIV && UNSHARE && MOUNT) {
      // Mounts are made as root; setpriv then drops to the sandbox's user, every capability with it.
      const drop = runAs ? [`--reuid=${runAs.uid}`, `--regid=${runAs.gid}`, '--clear-groups'] : [];
      const modules = join(dirname(this.taskRoot), 'node_modules');
      const tmp = tmpfsOptions(this.spec.ephemeralStorageMb, runAs ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });
      [command, args] = [UNSHARE, ['--mount', ...(PRIVATE_IPC ? ['--ipc'] : []), '--', '/bin/sh', '-c', MOUNT_SCRIPT, MOUNT, tmp, this.taskRoot, modules, passwdFile ?? '', dirname(this.taskRoot), SETPRIV, ...drop, '--pdeathsig', 'KILL', '--', ...node]];
      user = undefined;
    } else if (SETPRIV) {
      [command, args] = [SETPRIV, ['--pdeathsig', 'KILL', '--', ...node]];
    } else {
      [command, ...args] = node;
    }
    this.child = spawn(command, args, {
      cwd: this.taskRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so that killing the sandbox also kills what the handler started.
      detached: true,
      ...user,
      env: this.environment(port),
    });
    this.child.stdout?.on('data', (chunk: Buffer) => this.output('stdout', chunk));
    this.child.stderr?.on('data', (chunk: Buffer) => this.output('stderr', chunk));
    this.child.once('exit', (code, signal) => this.exited(code, signal));
    // Once its pipes are drained (after 'exit'): what it wrote that no invocation's log took.
    this.child.once('close', () => this.shipStrayOutput());
    // A child that cannot be spawned (its task root vanished, say) emits 'error' and no 'exit'.
    this.child.once('error', () => this.exited(null, null));
  }

  /** A path the function names as in its sandbox on AWS: under /var/task is in its package, wherever that is here. */
  private hostPath(path: string): string {
    if (this.mounted || (path !== TASK_MOUNT && !path.startsWith(`${TASK_MOUNT}/`))) return path;
    return this.taskRoot + path.slice(TASK_MOUNT.length);
  }

  private get mounted(): boolean {
    return this.settings.privateMounts === true;
  }

  /** A scrubbed environment: the Lambda variables, the platform's, then the function's own. */
  private environment(port: number): Record<string, string> {
    const spec = this.spec;
    const taskRoot = this.mounted ? TASK_MOUNT : this.taskRoot;
    return {
      PATH: sandboxPath(this.settings.execPath),
      LANG: 'en_US.UTF-8',
      TZ: ':UTC',
      LAMBDA_TASK_ROOT: taskRoot,
      // As AWS's (…:/var/runtime/node_modules:/var/runtime:/var/task): `require('lib/x')` finds
      // the package's own lib/x.js from any directory, and the runtime's modules come after.
      NODE_PATH: [this.mounted ? RUNTIME_MODULES_MOUNT : join(dirname(this.taskRoot), 'node_modules'), taskRoot].join(delimiter),
      // As AWS's (/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib):
      // a native addon finds the shared libraries shipped in the package's lib/. There is no
      // /var/lang or /var/runtime here, and no /opt (no layers).
      LD_LIBRARY_PATH: ['/lib64', '/usr/lib64', taskRoot, join(taskRoot, 'lib')].join(':'),
      // Without a mount of its own, /tmp is shared: the sandbox's directory is at least os.tmpdir().
      // Its user is then in no passwd (that is mounted too): os.homedir() would throw, and the AWS
      // SDK, which looks for ~/.aws/config as a client starts, would take the process down.
      ...(!this.mounted && this.settings.tmpDir ? { TMPDIR: this.settings.tmpDir, ...(this.settings.runAs ? { HOME: this.settings.tmpDir } : {}) } : {}),
      LAMBDA_RUNTIME_DIR: fileURLToPath(new URL('./node-runtime/', import.meta.url)),
      _HANDLER: spec.handler,
      AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}`,
      AWS_LAMBDA_FUNCTION_NAME: spec.name,
      AWS_LAMBDA_FUNCTION_VERSION: spec.version,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memorySize),
      AWS_LAMBDA_LOG_GROUP_NAME: spec.logGroup,
      AWS_LAMBDA_LOG_STREAM_NAME: logStreamName(),
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_REGION: this.settings.region,
      AWS_DEFAULT_REGION: this.settings.region,
      AWS_EXECUTION_ENV: `AWS_Lambda_${spec.runtime}`,
      // LoggingConfig's JSON format, as AWS hands it to the runtime (and Powertools' Logger reads it).
      ...(spec.jsonLogs ? { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: spec.jsonLogs.applicationLogLevel } : {}),
      // As AWS sets it: the X-Ray SDK logs a segment it cannot find instead of throwing.
      AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
      ...this.settings.baseEnvironment,
      ...spec.environment,
    };
  }

  /** Runs one invocation; never rejects for faults of the function. */
  run(request: InvokeRequest): Promise<InvokeOutcome> {
    return new Promise((resolve) => {
      const coldStart = this.initDurationMs === undefined;
      const suppressedInit = coldStart && request.retriedInit !== undefined;
      const timeoutMs = this.spec.timeout * 1000;
      this.current = {
        request,
        resolve,
        delivered: false,
        // A suppressed init's invocation runs, and its Duration counts, from the start of that init.
        startedAt: suppressedInit ? this.spawnedAt : performance.now(),
        lines: new LogLines(LOG_KEEP_CHARS),
        coldStart,
        suppressedInit,
        deadline: Date.now() + timeoutMs,
        finished: false,
      };
      if (!this.alive) {
        if (!coldStart) return this.notStarted();
        return this.fail('Runtime.ExitError', `RequestId: ${request.requestId} Error: Runtime exited`, true);
      }
      this.thaw();
      // Until the runtime asks for it: a cold start has the init limit (a retried init, the
      // function's timeout); a warm runtime that never comes back to /next (busy with what its
      // last handler left running) has a grace on top of the timeout.
      if (suppressedInit) this.current.timer = setTimeout(() => this.timeout(), timeoutMs);
      else if (coldStart) this.current.timer = setTimeout(() => this.initTimedOut(), INIT_LIMIT_MS);
      else this.current.timer = setTimeout(() => this.timeout(), NEXT_GRACE_MS + timeoutMs);
      if (this.pendingNext) this.deliver(this.pendingNext);
    });
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '';
    if (req.method === 'GET' && url === '/2018-06-01/runtime/invocation/next') return this.next(res);
    if (req.method === 'POST' && single(req.headers['lambda-runtime-function-response-mode']) === 'streaming') {
      const match = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/response$/.exec(url);
      if (match) return this.streamed(req, res, safeDecode(match[1] ?? ''));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.byteLength;
      if (size <= LAMBDA_LIMITS.syncResponseBytes + 1024) chunks.push(c);
    });
    req.on('end', () => {
      const bytes = Buffer.concat(chunks);
      const body = bytes.toString('utf8');
      const match = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
      if (req.method === 'POST' && match) {
        const [, id, kind] = match;
        if (!this.current || this.current.request.requestId !== safeDecode(id ?? '') || this.current.result) {
          return this.reply(res, 400, { errorMessage: 'Invalid request ID', errorType: 'InvalidRequestID' });
        }
        this.reply(res, 202, { status: 'OK' });
        this.noteLogEnd(this.current, req.headers[LOG_END_HEADER]);
        if (this.overMemory(this.current)) return this.outOfMemory();
        if (kind === 'response') return this.resulted(bytes, size);
        return this.errored(body, size, req.headers['lambda-runtime-function-error-type']);
      }
      if (req.method === 'POST' && url === '/2018-06-01/runtime/init/error') {
        this.reply(res, 202, { status: 'OK' });
        if (this.current && !this.current.result) this.noteLogEnd(this.current, req.headers[LOG_END_HEADER]);
        return this.initFailed(body, req.headers['lambda-runtime-function-error-type']);
      }
      this.reply(res, 404, { errorMessage: 'Unknown Runtime API path', errorType: 'NotFound' });
    });
  }

  /**
   * A response in the streaming mode: its bytes go to the caller's `onChunk` as they arrive (or
   * are collected, for a caller that wants the whole answer). It ends with trailers: the log's
   * end and, for a handler that failed once bytes had gone, its error (type, and body in base64).
   * The runtime is answered once the stream has ended, as AWS's Runtime API does.
   */
  private streamed(req: IncomingMessage, res: ServerResponse, requestId: string | undefined): void {
    const invocation = this.current;
    req.on('error', () => undefined); // a runtime that dies mid-stream: its exit fails the invocation
    if (!invocation || invocation.request.requestId !== requestId || invocation.result) {
      req.resume();
      return this.reply(res, 400, { errorMessage: 'Invalid request ID', errorType: 'InvalidRequestID' });
    }
    const sink = invocation.request.onChunk;
    const limit = sink ? LAMBDA_LIMITS.streamedResponseBytes : LAMBDA_LIMITS.syncResponseBytes;
    const kept: Buffer[] = [];
    let size = 0;
    // Only while this invocation runs: a timeout or a kill ends it, and what comes after is nobody's.
    const running = (): boolean => this.current === invocation && !invocation.result && !invocation.finished;
    req.on('data', (chunk: Buffer) => {
      if (!running()) return;
      const room = limit - size;
      size += chunk.byteLength;
      if (room <= 0) return;
      // Up to the limit exactly: the caller of a stream cut off gets all it may have.
      const taken = chunk.byteLength > room ? chunk.subarray(0, room) : chunk;
      if (!sink) {
        kept.push(taken);
        return;
      }
      let wait: Promise<void> | void = undefined;
      try {
        wait = sink(taken);
      } catch {
        // The caller's own failure: the stream goes on to its end.
      }
      if (!wait) return;
      // The caller has no room: the runtime's writes wait on the socket until it has.
      req.pause();
      const resume = (): void => void req.resume();
      wait.then(resume, resume);
    });
    req.on('end', () => {
      this.reply(res, 202, { status: 'OK' });
      if (!running()) return;
      this.noteLogEnd(invocation, single(req.trailers[LOG_END_HEADER]));
      if (this.overMemory(invocation)) return this.outOfMemory();
      const errorType = single(req.trailers['lambda-runtime-function-error-type']);
      if (size <= limit && errorType !== undefined) {
        // The error's body came in a trailer, not in the stream: its size is not the stream's.
        return this.errored(Buffer.from(single(req.trailers['lambda-runtime-function-error-body']) ?? '', 'base64').toString('utf8'), 0, errorType);
      }
      if (size <= limit && !sink) return this.resulted(Buffer.concat(kept), size);
      invocation.result = size > limit ? (sink ? STREAM_TOO_LARGE : TOO_LARGE) : { payload: '', streamed: true };
      this.responded(invocation);
      this.awaitLog(invocation);
    });
  }

  private noteLogEnd(invocation: Invocation, header: string | string[] | undefined): void {
    const match = typeof header === 'string' ? /^(\d+) (\d+) (\d+)$/.exec(header) : null;
    if (!match) return;
    invocation.logEnd = { stdout: Number(match[1]), stderr: Number(match[2]) };
    invocation.maxRssKb = Number(match[3]);
    this.lastMaxRssKb = invocation.maxRssKb;
  }

  /** Kills a running invocation whose process has gone over its memory size, as AWS does. */
  private watchMemory(invocation: Invocation): void {
    if (this.current !== invocation || invocation.result || invocation.finished || !this.alive) return;
    const kb = this.procStatusKb('VmRSS');
    if (kb !== undefined && kb > this.spec.memorySize * 1024) {
      invocation.maxRssKb = Math.max(invocation.maxRssKb ?? 0, kb);
      this.outOfMemory();
      this.kill();
      return;
    }
    invocation.memoryTimer = setTimeout(() => this.watchMemory(invocation), MEMORY_POLL_MS);
  }

  private overMemory(invocation: Invocation): boolean {
    return invocation.maxRssKb !== undefined && invocation.maxRssKb > this.spec.memorySize * 1024;
  }

  /**
   * AWS kills a function that goes over its memory size. The runtime's peak RSS, reported with
   * its result, says so without polling: the result is replaced by AWS's error, and the sandbox
   * is retired (the pool kills it) so that the next invocation starts cold.
   */
  private outOfMemory(): void {
    const invocation = this.current;
    if (!invocation) return;
    const message = `RequestId: ${invocation.request.requestId} Error: Runtime exited with error: signal: killed`;
    invocation.result = {
      payload: '',
      error: { errorType: 'Runtime.OutOfMemory', payload: errorPayload('Runtime.OutOfMemory', message), fault: true },
    };
    this.retired = true;
    this.responded(invocation);
    this.awaitLog(invocation);
  }

  private reply(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  private next(res: ServerResponse): void {
    if (this.initDurationMs === undefined) this.initDurationMs = performance.now() - this.spawnedAt;
    if (this.current && !this.current.delivered) return this.deliver(res);
    this.pendingNext = res;
    // An invocation still collecting its log is frozen once it has finished (finish()).
    if (!this.current) this.freezeWhenIdle();
  }

  /**
   * Stops the sandbox's process group once its runtime waits on /next, its last invocation is
   * finished and FREEZE_AFTER_MS have passed without another, as AWS freezes an idle execution
   * environment: timers, sockets and processes a handler left behind resume with the next
   * invocation instead of running (and spending CPU, and writing into the next invocation's
   * log) while it sits idle. Not before the log is complete: a runtime blocked on a full pipe
   * must be able to finish writing it.
   */
  private freezeWhenIdle(): void {
    if (this.frozen || !this.alive || !SETPRIV) return;
    clearTimeout(this.freezeTimer);
    this.freezeTimer = setTimeout(() => this.freeze(), FREEZE_AFTER_MS);
    this.freezeTimer.unref();
  }

  private freeze(): void {
    const pid = this.child?.pid;
    if (this.frozen || !this.alive || this.current || !pid) return;
    try {
      process.kill(-pid, 'SIGSTOP');
      this.frozen = true;
    } catch {
      // Already gone: its exit is on the way.
    }
  }

  private thaw(): void {
    clearTimeout(this.freezeTimer);
    const pid = this.child?.pid;
    if (!this.frozen || !pid) return;
    this.frozen = false;
    try {
      process.kill(-pid, 'SIGCONT');
    } catch {
      // Already gone: its exit is on the way, and fails the invocation.
    }
  }

  private deliver(res: ServerResponse): void {
    const invocation = this.current;
    if (!invocation) return;
    this.pendingNext = undefined;
    invocation.delivered = true;
    this.lastRequestId = invocation.request.requestId;
    const timeoutMs = this.spec.timeout * 1000;
    // A suppressed init's invocation started, and has been timed, since the init began.
    if (!invocation.suppressedInit) {
      invocation.startedAt = performance.now();
      invocation.deadline = Date.now() + timeoutMs;
      clearTimeout(invocation.timer);
      invocation.timer = setTimeout(() => this.timeout(), timeoutMs);
    }
    invocation.memoryTimer = setTimeout(() => this.watchMemory(invocation), MEMORY_POLL_MS);
    const { request } = invocation;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'Lambda-Runtime-Aws-Request-Id': request.requestId,
      'Lambda-Runtime-Deadline-Ms': String(invocation.deadline),
      'Lambda-Runtime-Invoked-Function-Arn': request.invokedFunctionArn ?? this.spec.arn,
      'Lambda-Runtime-Trace-Id': request.traceId ?? traceId(),
    };
    if (request.clientContext) {
      const context = headerSafeJson(Buffer.from(request.clientContext, 'base64').toString('utf8'));
      if (context) headers['Lambda-Runtime-Client-Context'] = context;
    }
    try {
      res.writeHead(200, headers).end(request.payload);
    } catch (error) {
      // A header value Node refuses (an event id from some other publisher, say) fails this
      // invocation, not the Runtime API server.
      res.destroy();
      this.retired = true; // its runtime exits now that /next failed: it must not be handed out again
      this.fail('Runtime.InvalidRequest', `RequestId: ${request.requestId} Error: ${(error as Error).message}`);
    }
  }

  private resulted(body: Buffer, size: number): void {
    const invocation = this.current;
    if (!invocation) return;
    invocation.result =
      size > LAMBDA_LIMITS.syncResponseBytes
        ? TOO_LARGE
        : isUtf8(body)
          ? { payload: body.toString('utf8') }
          : { payload: body.toString('base64'), payloadEncoding: 'base64' };
    this.responded(invocation);
    this.awaitLog(invocation);
  }

  private errored(body: string, size: number, typeHeader: string | string[] | undefined): void {
    const invocation = this.current;
    if (!invocation) return;
    if (size > LAMBDA_LIMITS.syncResponseBytes) {
      // Only the first bytes were kept: parsed, they would hand the caller megabytes of broken JSON.
      invocation.result = TOO_LARGE;
      this.responded(invocation);
      this.awaitLog(invocation);
      return;
    }
    const parsed = this.parseError(body, typeHeader);
    // To callers, AWS's Node.js runtime reports `stackTrace` as `trace`.
    invocation.result = { payload: '', error: { errorType: parsed.errorType, payload: errorPayload(parsed.errorType, parsed.errorMessage, parsed.stackTrace) } };
    this.responded(invocation);
    this.awaitLog(invocation);
  }

  private responded(invocation: Invocation): void {
    // The function has answered: its deadline no longer applies (the log gets LOG_GRACE_MS).
    clearTimeout(invocation.timer);
    clearTimeout(invocation.memoryTimer);
    const { result, request } = invocation;
    if (!result || !request.onResponse) return;
    try {
      request.onResponse(result.error ? { payload: result.error.payload, functionError: 'Unhandled', errorType: result.error.errorType } : success(result));
    } catch {
      // The caller's own failure: it must not take the Runtime API server (or the worker) down.
    }
  }

  /**
   * The runtime's /init/error. A cold start's own init is run again within the invocation, as
   * AWS resets a failed init's environment and retries it in the invoke phase (retryInit); a
   * retry that fails too fails the invocation with its error.
   */
  private initFailed(body: string, typeHeader: string | string[] | undefined): void {
    const parsed = this.parseError(body, typeHeader);
    const invocation = this.current;
    if (invocation && !invocation.result && !invocation.finished) {
      if (invocation.coldStart && !invocation.suppressedInit) return this.retryInit(invocation, { status: 'error', errorType: parsed.errorType });
      this.noteRetryFailed(invocation, { status: 'error', errorType: parsed.errorType });
      invocation.result = { payload: '', error: { errorType: parsed.errorType, payload: errorPayload(parsed.errorType, parsed.errorMessage, parsed.stackTrace), fault: true } };
      this.responded(invocation);
      this.awaitLog(invocation);
    }
    this.retired = true;
  }

  private parseError(body: string, typeHeader: string | string[] | undefined): { errorType: string; errorMessage: string; stackTrace: string[] } {
    try {
      const value = JSON.parse(body) as { errorType?: string; errorMessage?: string; stackTrace?: string[] };
      return {
        errorType: value.errorType ?? String(typeHeader ?? 'Unhandled'),
        errorMessage: value.errorMessage ?? '',
        stackTrace: Array.isArray(value.stackTrace) ? value.stackTrace : [],
      };
    } catch {
      return { errorType: String(typeHeader ?? 'Unhandled'), errorMessage: body, stackTrace: [] };
    }
  }

  /** Settles the invocation once its log is complete, or after LOG_GRACE_MS when the runtime did not say where it ends. */
  private awaitLog(invocation: Invocation): void {
    if (this.logComplete(invocation)) {
      this.settle(invocation);
      return;
    }
    setTimeout(() => this.settle(invocation), LOG_GRACE_MS).unref();
  }

  private logComplete(invocation: Invocation): boolean {
    const end = invocation.logEnd;
    return end !== undefined && this.received.stdout >= end.stdout && this.received.stderr >= end.stderr;
  }

  private output(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    this.received[stream] += chunk.byteLength;
    const text = this.partial[stream] + this.decoders[stream].write(chunk);
    const lines = text.split('\n');
    let rest = lines.pop() ?? '';
    // Output without newlines must not grow one string without bound (nor be re-scanned).
    while (rest.length > LINE_MAX_CHARS) {
      lines.push(rest.slice(0, LINE_MAX_CHARS));
      rest = rest.slice(LINE_MAX_CHARS);
    }
    this.partial[stream] = rest;
    const invocation = this.current;
    for (const line of lines) (invocation?.delivered ? invocation.lines : this.initLines).push(line);
    if (invocation?.result && !invocation.finished && this.logComplete(invocation)) this.settle(invocation);
  }

  /** Finishes an invocation; whatever goes wrong in doing so, its caller is never left waiting. */
  private settle(invocation: Invocation, override?: InvocationError): void {
    this.finish(invocation, override).catch((error: unknown) => {
      const payload = errorPayload('Runtime.Unknown', `RequestId: ${invocation.request.requestId} Error: ${String(error)}`);
      invocation.resolve({ payload, functionError: 'Unhandled', errorType: 'Runtime.Unknown', durationMs: 0, billedDurationMs: 0, maxMemoryUsedMb: 0, coldStart: invocation.coldStart });
    });
  }

  private async finish(invocation: Invocation, override?: InvocationError): Promise<void> {
    if (invocation.finished) return;
    invocation.finished = true;
    clearTimeout(invocation.timer);
    clearTimeout(invocation.memoryTimer);
    // Output that ended without a newline is this invocation's too, once all it wrote is in.
    if (invocation.delivered && this.logComplete(invocation)) this.takePartialLines(invocation.lines);
    const durationMs = invocation.delivered || invocation.suppressedInit ? performance.now() - invocation.startedAt : 0;
    const measuredMb = invocation.maxRssKb !== undefined ? Math.round(invocation.maxRssKb / 1024) : this.peakMemoryMb();
    // A function killed for its memory used, as far as AWS reports, all of it and no more.
    const maxMemoryUsedMb = this.overMemory(invocation) ? this.spec.memorySize : measuredMb;
    const { requestId } = invocation.request;
    const error = override ?? invocation.result?.error;
    const initDurationMs = invocation.coldStart && !invocation.suppressedInit ? this.initDurationMs : undefined;
    const retriedInit = invocation.request.retriedInit ?? [];
    const outcome = error ? { status: error.errorType === 'Sandbox.Timedout' ? ('timeout' as const) : ('error' as const), errorType: error.errorType } : { status: 'success' as const };
    // REPORT names the platform's faults only; a JSON report names every outcome.
    const fault = error?.fault && outcome.status !== 'success' ? outcome : undefined;
    const figures = { durationMs, memorySizeMb: this.spec.memorySize, maxMemoryUsedMb, ...(initDurationMs !== undefined ? { initDurationMs } : {}) };
    const json = this.spec.jsonLogs;
    let lines: string[];
    if (json) {
      // As AWS's JSON logs: records only, the outcome in the report (no text lines of the platform's).
      const end = new Date();
      const platform = jsonPlatformLines(requestId, this.spec.version, figures, outcome, json.systemLogLevel, { start: new Date(end.getTime() - durationMs), end });
      lines = [...retriedInit, ...this.initLines.take(), ...(invocation.initReport ? [invocation.initReport] : []), ...platform.before, ...invocation.lines.take(), ...platform.after];
    } else {
      lines = [
        ...retriedInit,
        ...this.initLines.take(),
        ...(invocation.initReport ? [invocation.initReport] : []),
        startLine(requestId, this.spec.version),
        ...invocation.lines.take(),
        endLine(requestId),
        reportLine(requestId, { ...figures, ...(fault ? { fault } : {}) }),
      ];
    }
    const text = `${lines.join('\n')}\n`;
    try {
      this.settings.onLog?.(this.spec, requestId, text);
    } catch {
      // Shipping the log is best effort: it must never keep the invocation from finishing.
    }
    if (this.current === invocation) this.current = undefined;
    if (!this.current && this.pendingNext) this.freezeWhenIdle();
    invocation.resolve({
      ...(error ? { payload: error.payload, functionError: 'Unhandled' as const, errorType: error.errorType } : success(invocation.result ?? { payload: 'null' })),
      ...(invocation.request.wantLogTail ? { logTail: logTail(text) } : {}),
      durationMs,
      billedDurationMs: billedDuration(durationMs, initDurationMs),
      maxMemoryUsedMb,
      ...(initDurationMs !== undefined ? { initDurationMs } : {}),
      coldStart: invocation.coldStart,
    });
  }

  /** Gives back the invocation a warm runtime never asked for: it ran nothing, so it has no log. */
  private notStarted(): void {
    const invocation = this.current;
    if (!invocation || invocation.finished) return;
    this.giveBack(invocation);
  }

  /** Hands an invocation back to the pool unrun (InvokeOutcome.notStarted), with the log of an init to retry. */
  private giveBack(invocation: Invocation, retriedInit?: string[]): void {
    invocation.finished = true;
    clearTimeout(invocation.timer);
    clearTimeout(invocation.memoryTimer);
    if (this.current === invocation) this.current = undefined;
    invocation.resolve({ payload: '', durationMs: 0, billedDurationMs: 0, maxMemoryUsedMb: 0, coldStart: invocation.coldStart, notStarted: true, ...(retriedInit ? { retriedInit } : {}) });
  }

  /**
   * A cold start whose init ran out of INIT_LIMIT_MS: the sandbox is killed, and the pool runs the
   * invocation on a new one, whose init then has the invocation's timeout (a suppressed init, as
   * AWS retries it). What this init wrote, and AWS's INIT_REPORT of it, go with the retry.
   */
  private initTimedOut(): void {
    const invocation = this.current;
    if (!invocation || invocation.finished || invocation.delivered) return;
    this.retryInit(invocation, { status: 'timeout' });
  }

  /**
   * Gives a cold start's invocation back to the pool to run on a new sandbox, whose init then has
   * the invocation's timeout (InvokeRequest.retriedInit), and kills this one: what this init
   * wrote, and AWS's INIT_REPORT of how it ended, go with the retry.
   */
  private retryInit(invocation: Invocation, failure: PlatformFailure): void {
    const report = initReportLine(performance.now() - this.spawnedAt, 'init', failure, this.spec.jsonLogs);
    // What came after a /next that the init's error overtook is the init's too.
    const retriedInit = [...this.initLines.take(), ...invocation.lines.take(), ...(report ? [report] : [])];
    this.kill();
    this.giveBack(invocation, retriedInit);
  }

  /** A suppressed init that failed or ran out of time as well: its INIT_REPORT (phase invoke) goes before START. */
  private noteRetryFailed(invocation: Invocation, failure: PlatformFailure): void {
    if (!invocation.suppressedInit) return;
    invocation.initReport = initReportLine(performance.now() - this.spawnedAt, 'invoke', failure, this.spec.jsonLogs);
  }

  /** Ends the running invocation with an error of the platform's (fault) or of its own making. */
  private fail(errorType: string, message: string, fault?: true): void {
    const invocation = this.current;
    if (!invocation) return;
    this.settle(invocation, { errorType, payload: errorPayload(errorType, message), ...(fault ? { fault } : {}) });
  }

  private timeout(): void {
    const invocation = this.current;
    if (!invocation || invocation.finished) return;
    const message = timeoutMessage(invocation.request.requestId, this.spec.timeout);
    if (!invocation.delivered) this.noteRetryFailed(invocation, { status: 'timeout' });
    this.fail('Sandbox.Timedout', message, true);
    this.kill();
  }

  private exited(code: number | null, signal: NodeJS.Signals | null): void {
    if (!this.alive) return;
    this.alive = false;
    clearTimeout(this.freezeTimer);
    const invocation = this.current;
    if (invocation && !invocation.finished) {
      if (invocation.result) this.settle(invocation);
      else if (!invocation.delivered && !invocation.coldStart) this.notStarted();
      // A runtime that exits in its init (module code's process.exit): the init is retried, as a failed one is.
      // Not one the pool killed (closing, or the code retired): that is no init of the function's failing.
      else if (!invocation.delivered && !invocation.suppressedInit && !this.killing) this.retryInit(invocation, { status: 'error', errorType: 'Runtime.ExitError' });
      else {
        if (!invocation.delivered) this.noteRetryFailed(invocation, { status: 'error', errorType: 'Runtime.ExitError' });
        // AWS's words (Go's): an exit with status 0 is no error to name.
        const status = signal ? `with error: signal: ${SIGNAL_NAMES[signal] ?? signal}` : code ? `with error: exit status ${code}` : 'without providing a reason';
        const message = `RequestId: ${invocation.request.requestId} Error: Runtime exited ${status}`;
        this.fail('Runtime.ExitError', message, true);
      }
    }
    // What the handler started goes with the runtime, as its execution environment does on AWS
    // (and the sandbox's uid may then go to another sandbox).
    if (this.child?.pid) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        // no process of its group is left
      }
    }
    this.server?.closeAllConnections();
    this.server?.close();
    this.onExit(this);
    this.markExited();
  }

  /** Moves output that ended without a newline into `lines`, as a line of its own per pipe. */
  private takePartialLines(lines: LogLines): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream]) lines.push(this.partial[stream]);
      this.partial[stream] = '';
    }
  }

  /**
   * Output of a runtime that ended between invocations, held for the next one's log: the error its
   * crash handler logged ("Uncaught Exception", "Unhandled Promise Rejection" after the response
   * went), as AWS's runtime logs it before it exits. No invocation will take it now, so it goes
   * out on its own, under the request id the runtime ran last, as it stays in the log stream on AWS.
   */
  private shipStrayOutput(): void {
    if (this.current && !this.current.finished) return; // the invocation's own log takes it
    this.takePartialLines(this.initLines);
    const lines = this.initLines.take();
    if (lines.length === 0) return;
    try {
      this.settings.onLog?.(this.spec, this.lastRequestId, `${lines.join('\n')}\n`);
    } catch {
      // Best effort, as every log's shipping is.
    }
  }

  /**
   * Peak RSS of the child, for runtimes that do not report it with this result. A synchronous read
   * of /proc costs microseconds; the thread pool, a millisecond. Once the process is gone, the last
   * peak its runtime reported (a lower bound) beats 0.
   */
  private peakMemoryMb(): number {
    return Math.round((this.procStatusKb('VmHWM') ?? this.lastMaxRssKb ?? 0) / 1024);
  }

  /** A memory figure of the child from /proc (VmRSS: now; VmHWM: its peak), in KB; undefined once it is gone. */
  private procStatusKb(field: 'VmRSS' | 'VmHWM'): number | undefined {
    const pid = this.child?.pid;
    if (!pid || !this.alive) return undefined;
    try {
      const kb = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      return kb === undefined ? undefined : Number(kb);
    } catch {
      return undefined; // already gone: its exit is on the way
    }
  }

  /** Whether kill() was called: its exit is on the way. */
  get killed(): boolean {
    return this.killing;
  }

  kill(): void {
    // A sandbox being killed must never go back to the pool, even before its exit is seen.
    this.retired = true;
    this.killing = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    clearTimeout(this.freezeTimer);
    if (this.alive && this.child?.pid) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        this.child.kill('SIGKILL');
      }
    }
    else {
      this.server?.closeAllConnections();
      this.server?.close();
    }
  }
}
