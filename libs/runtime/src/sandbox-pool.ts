import { existsSync, mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { dirname, join, parse, resolve, sep } from 'node:path';
import type { FunctionSpec } from '@tributary/contracts';
import { CodeCache, functionModuleScopes } from './code-cache.js';
import { nodeRuntimes } from './node-runtimes.js';
import { BOOTSTRAP, PRIVATE_MOUNTS, PRLIMIT, RUNTIME_MODULES_MOUNT, SETPRIV, Sandbox, TASK_MOUNT, type InvokeOutcome, type InvokeRequest } from './sandbox.js';
import { ScratchDirs } from './scratch-dirs.js';
import { UID_CLAIM_DIR, claimUidRange, type UidClaim } from './uid-claim.js';

type User = { uid: number; gid: number };

/** The largest uid (4294967295 is (uid_t) -1, "no user"). */
const MAX_UID = 4_294_967_294;

/** The uid ranges a user namespace's uid_map (`<inside> <outside> <count>` lines) maps, as [first, last], sorted. */
export const mappedUidRanges = (uidMap: string): [number, number][] =>
  uidMap
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter((fields): fields is [number, number, number] => fields.length === 3 && fields.every(Number.isInteger))
    .map(([inside, , length]): [number, number] => [inside, inside + length - 1])
    .sort((a, b) => a[0] - b[0]);

/** Whether sorted ranges cover every uid from `first` to `last`. */
export const coversUids = (ranges: [number, number][], first: number, last: number): boolean => {
  let next = first;
  for (const [from, to] of ranges) if (from <= next && to >= next) next = to + 1;
  return next > last;
};

const mappedUids = (): [number, number][] | undefined => {
  try {
    return mappedUidRanges(readFileSync('/proc/self/uid_map', 'utf8'));
  } catch {
    return undefined;
  }
};

/** Processes (pids) whose real, effective or saved uid `matches` and that can still run (not zombies). */
const processesOf = async (matches: (uid: number) => boolean): Promise<number[]> => {
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((name) => /^\d+$/.test(name));
  const found: number[] = [];
  await Promise.all(
    pids.map(async (pid) => {
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
      const state = /^State:\s+(\S)/m.exec(status)?.[1];
      if (uids && state !== 'Z' && state !== 'X' && uids.slice(1).some((uid) => matches(Number(uid)))) found.push(Number(pid));
    }),
  );
  return found;
};

/**
 * Kills every process whose uid `matches`, from this (root) process: one of that uid cannot stop
 * or kill the killer, as it could a `kill -1` run as the uid itself. Processes forked meanwhile
 * are caught by the next pass. Whether none is left at the end.
 */
export const killProcessesOf = async (matches: (uid: number) => boolean, passes = 50): Promise<boolean> => {
  for (let pass = 0; pass < passes; pass += 1) {
    const pids = await processesOf(matches);
    if (pids.length === 0) return true;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await sleep(10);
  }
  return (await processesOf(matches)).length === 0;
};

/** Accounts of this host (/etc/passwd) whose uid lies between `first` and `last`, as `name (uid)`. */
const accountsBetween = (first: number, last: number): string[] => {
  let passwd = '';
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return [];
  }
  return passwd
    .split('\n')
    .map((line) => line.split(':'))
    .filter((fields) => fields.length > 2 && Number(fields[2]) >= first && Number(fields[2]) <= last)
    .map((fields) => `${fields[0]} (${fields[2]})`);
};

/** Whether `user` may read `path` (and pass through every directory above it), by mode bits. */
export const readableBy = (path: string, user: User): boolean => {
  const parts = path.split(sep).filter(Boolean);
  let current = parse(path).root;
  for (const [i, part] of ['', ...parts].entries()) {
    if (part) current = current.endsWith(sep) ? `${current}${part}` : `${current}${sep}${part}`;
    let st;
    try {
      st = statSync(current);
    } catch {
      return false;
    }
    const need = i === parts.length && !st.isDirectory() ? 4 : 1; // read a file, pass a directory
    const bits = st.uid === user.uid ? (st.mode >> 6) & 7 : st.gid === user.gid ? (st.mode >> 3) & 7 : st.mode & 7;
    if ((bits & need) === 0) return false;
  }
  return true;
};

const realpathOrSelf = (path: string): string => {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
};

const isUnder = (path: string, dir: string): boolean => path === dir || path.startsWith(`${dir}${sep}`);

/** Makes `path` a directory if it is not one; false where that is not allowed. */
const ensureDirectory = (path: string): boolean => {
  try {
    mkdirSync(path, { recursive: true });
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/** The nearest directory of `path` (or above it) that exists: where a new one will be made. */
const existingAncestor = (path: string): string => {
  let current = path;
  while (!existsSync(current) && dirname(current) !== current) current = dirname(current);
  return current;
};

/**
 * What a sandbox must read: Node, the runtime, the way to the code directory (which the code
 * cache opens itself), and the AWS SDK that functions import without bundling.
 */
const runtimeFiles = (codeDir: string): string[] => {
  return [process.execPath, BOOTSTRAP, existingAncestor(dirname(resolve(codeDir))), ...functionModuleScopes()];
};

export interface SandboxPoolOptions {
  /** Unpacked code lives in codeDir/<codeKey>/. */
  codeDir: string;
  /** Each sandbox's /tmp is a directory of its own under this one (default: <os tmpdir>/tributary-sandbox-tmp). */
  tmpRoot?: string;
  fetchCode(codeKey: string): Promise<Uint8Array>;
  region: string;
  /** A warm sandbox idle this long is retired. */
  idleTimeoutMs: number;
  baseEnvironment?: Record<string, string>;
  /**
   * Run sandboxes as this group and a user of their own: uids `uid` … `uid + count − 1` (count
   * defaults to 1: all as `uid`), one per live sandbox. The worker must be root to switch.
   */
  runAs?: { uid: number; gid: number; count?: number };
  /** Where a range of more than one uid is claimed against other workers on this host (default: /run/lock/tributary-sandbox-uids). */
  uidClaimDir?: string;
  /** false: never give sandboxes mounts of their own, as where the worker cannot make them. */
  privateMounts?: false;
  /** Where the Node.js of each runtime is installed (default: .runtimes in the checkout, where npm ci puts them). */
  nodeRuntimesDir?: string;
  onLog?(spec: FunctionSpec, requestId: string, text: string): void;
  logger?: { log(message: string): void; warn(message: string): void; error(message: string): void };
}

const keyOf = (spec: FunctionSpec): string => `${spec.name}@${spec.revisionId}`;

/**
 * Warm sandboxes per function revision: an invocation takes an idle one or starts a new one; a
 * sandbox goes back to the pool afterwards and is retired after sitting idle, when its revision
 * is replaced, or when it fails.
 */
export class SandboxPool {
  private readonly idle = new Map<string, Sandbox[]>();
  private readonly all = new Set<Sandbox>();
  private readonly code: CodeCache;
  private readonly scratch: ScratchDirs;
  /** Whether sandboxes get their own /tmp and /var/task (PRIVATE_MOUNTS, and /var/task exists). */
  readonly privateMounts: boolean;
  private readonly removals = new Set<Promise<void>>();
  private closed = false;
  /** The node binary of each runtime (nodeRuntimes); one not listed runs on this process's. */
  private readonly execPaths: Record<string, string>;

  /** The users sandboxes run as, when not this process's: `count` uids from `uid`. */
  private readonly runAs?: User & { count: number };
  /** uids of the sandboxes alive now; the next handed out is the next free one after the last. */
  private readonly uidsInUse = new Set<number>();
  private lastUidIndex = -1;
  /** Cold starts waiting for a uid to be freed (all were taken), and uids being freed now. */
  private readonly uidWaiters: (() => void)[] = [];
  private waitingForUid = 0;
  private freeing = 0;
  /** Ends once processes of the range that an earlier worker left are killed. */
  private readonly leftovers?: Promise<void>;
  /** This pool's claim of the range, which keeps another worker on this host from using uids of it. */
  private readonly uidClaim?: UidClaim;

  constructor(private readonly options: SandboxPoolOptions) {
    // An installation under a directory only its owner may enter (a home, a mktemp dir) keeps
    // the runtime out of another user's reach: sandboxes then run as this process's user.
    const unreadable = options.runAs ? runtimeFiles(options.codeDir).find((f) => !readableBy(f, options.runAs as User)) : undefined;
    const runtimes = nodeRuntimes(options.nodeRuntimesDir);
    this.execPaths = runtimes.execPaths;
    const missing = [...runtimes.missing];
    // Where sandboxes do run as those users, a runtime's Node.js they cannot read falls back
    // alone: it does not cost every sandbox its own uid.
    for (const [runtime, path] of Object.entries(this.execPaths)) {
      if (options.runAs && !unreadable && path !== process.execPath && !readableBy(path, options.runAs)) {
        delete this.execPaths[runtime];
        missing.push({ runtime, reason: `uid ${options.runAs.uid} cannot read ${path}` });
      }
    }
    for (const { runtime, reason } of missing) {
      options.logger?.warn(`${runtime} runs on this worker's Node.js ${process.version}: ${reason} (npm ci installs it; or node tools/scripts/install-runtimes.mjs)`);
    }
    if (!PRLIMIT) options.logger?.warn("prlimit (util-linux) not found: sandboxes have this worker's resource limits, not AWS's 1,024 files and processes");
    if (options.runAs && unreadable) {
      options.logger?.warn(`sandboxes run as this process's user: uid ${options.runAs.uid} cannot read ${unreadable}`);
    } else if (options.runAs) {
      const { uid, gid } = options.runAs;
      const count = options.runAs.count ?? 1;
      const last = uid + count - 1;
      if (!Number.isInteger(count) || count < 1 || last > MAX_UID) {
        throw new Error(`sandbox users: ${count} uids from ${uid} is not a range of valid uids (at most ${MAX_UID})`);
      }
      // A rootless container maps 65,536 uids: beyond them setpriv cannot switch, and every sandbox would fail to start.
      const mapped = mappedUids();
      if (mapped && !coversUids(mapped, uid, last)) {
        throw new Error(`sandbox uids ${uid}–${last} are not all mapped in this user namespace (it maps ${mapped.map(([a, b]) => `${a}–${b}`).join(', ')})`);
      }
      // Every process of a uid is killed when a sandbox gives it up: none may be an account's.
      const accounts = count > 1 ? accountsBetween(uid, last) : [];
      if (accounts.length > 0) {
        throw new Error(`sandbox uids ${uid}–${last} include accounts of this host (${accounts.join(', ')}): pick a range no account uses`);
      }
      this.runAs = { uid, gid, count };
      if (count > 1) {
        // Another worker's range that overlaps would lose its sandboxes to the kill below, and to
        // every uid this pool frees; its claim stops this one. A claim left by a worker gone is taken over.
        this.uidClaim = claimUidRange(options.uidClaimDir ?? UID_CLAIM_DIR, uid, last, (message) => options.logger?.warn(message));
        // A worker killed with SIGKILL reaps nothing: what its sandboxes started in sessions of
        // their own lives on under uids this pool is about to hand out. None may run here yet.
        this.leftovers = killProcessesOf((u) => u >= uid && u <= last).then(
          (clean) => void (clean || options.logger?.error(`processes of sandbox uids ${uid}–${last} left by an earlier worker could not be killed`)),
          () => undefined,
        );
      }
    }
    this.code = new CodeCache(options.codeDir, options.fetchCode, this.runAs !== undefined);
    if (!SETPRIV) options.logger?.warn('setpriv (util-linux) not found: idle sandboxes are not frozen between invocations');
    this.scratch = new ScratchDirs(options.tmpRoot ?? join(tmpdir(), 'tributary-sandbox-tmp'));
    // Node, the runtime and the SDK must stay visible once a sandbox's /tmp covers the host's.
    const underTmp = [process.execPath, ...Object.values(this.execPaths), BOOTSTRAP, ...functionModuleScopes()].find((path) => isUnder(realpathOrSelf(path), '/tmp'));
    this.privateMounts = options.privateMounts !== false && PRIVATE_MOUNTS && !underTmp && ensureDirectory(TASK_MOUNT) && ensureDirectory(RUNTIME_MODULES_MOUNT);
    if (!this.privateMounts) {
      options.logger?.warn(
        `sandboxes share the host's /tmp (only TMPDIR is their own) and see their package outside /var/task: ${
          underTmp
            ? `${underTmp} is installed under /tmp`
            : 'a mount namespace needs root (in a container, CAP_SYS_ADMIN), util-linux unshare, mount and setpriv, /var/task and /var/node_modules'
        }`,
      );
    }
  }

  /** Who sandboxes run as (the first of the range); undefined: this process's user. */
  get sandboxUser(): User | undefined {
    return this.runAs && { uid: this.runAs.uid, gid: this.runAs.gid };
  }

  /** Whether every sandbox has a uid of its own (more than one in the range). */
  private get ownUsers(): boolean {
    return (this.runAs?.count ?? 1) > 1;
  }

  /**
   * A uid no live sandbox has, so that one sandbox cannot read another's environment, memory or
   * /tmp through /proc, nor signal it: the kernel lets a process do that to its own user's only.
   * Handed out in turn, not lowest first, so that a uid freed a moment ago is the last reused.
   * With all of them taken, the sandbox idle longest gives its up (AWS, too, reclaims idle
   * execution environments); with all of them running, the invocation fails.
   */
  private async takeUser(): Promise<User | undefined> {
    if (!this.runAs) return undefined;
    const { uid: first, gid, count } = this.runAs;
    if (count === 1) return { uid: first, gid }; // one user for all, as asked
    await this.leftovers;
    for (;;) {
      for (let step = 1; step <= count; step += 1) {
        const index = (this.lastUidIndex + step) % count;
        if (this.uidsInUse.has(first + index)) continue;
        this.uidsInUse.add(first + index);
        this.lastUidIndex = index;
        return { uid: first + index, gid };
      }
      // uids on their way back: sandboxes killed but not gone yet, and uids being freed. One
      // more is asked for only when they do not cover every cold start already waiting.
      const coming = this.freeing + [...this.all].filter((s) => s.killed).length;
      if (this.waitingForUid >= coming) {
        const idle = [...this.idle.values()].flat().sort((a, b) => a.idleSince - b.idleSince)[0];
        if (idle) {
          this.removeIdle(idle);
          idle.kill();
        } else if (coming === 0) {
          // Every uid is a sandbox's that runs an invocation: none is on its way back.
          throw new Error(`all ${count} sandbox users (uids ${first}–${first + count - 1}) belong to running sandboxes`);
        }
      }
      this.waitingForUid += 1;
      await new Promise<void>((resolve) => this.uidWaiters.push(resolve)).finally(() => (this.waitingForUid -= 1));
      if (this.closed) throw new Error('the sandbox pool is closed');
    }
  }

  /** Hands a sandbox's uid back once nothing runs under it any more; never rejects. */
  private async freeUser(user: User): Promise<void> {
    // Its process group is gone with the sandbox, but a process the handler started in a
    // session of its own (setsid, `detached`) is not in it: every process of the uid goes
    // before another sandbox may get the uid. One that cannot be made to go keeps it.
    this.freeing += 1;
    try {
      if (await killProcessesOf((uid) => uid === user.uid)) this.uidsInUse.delete(user.uid);
      else this.options.logger?.error(`processes of sandbox uid ${user.uid} outlived it and could not be killed: the uid is not handed out again`);
    } catch (error) {
      this.options.logger?.error(`could not free sandbox uid ${user.uid}: ${(error as Error).message}`);
    } finally {
      this.freeing -= 1;
      for (const waiter of this.uidWaiters.splice(0)) waiter();
    }
  }

  async invoke(spec: FunctionSpec, request: InvokeRequest): Promise<InvokeOutcome> {
    if (this.closed) throw new Error('the sandbox pool is closed');
    // A retried init is the invocation's own, in a new sandbox: a warm one would skip it.
    const sandbox = (request.retriedInit ? undefined : this.takeIdle(spec)) ?? (await this.create(spec));
    const outcome = await sandbox.run(request);
    this.release(sandbox);
    // A warm sandbox that died before it took the invocation ran nothing of it: another runs it
    // (a new one at the latest, whose failure, if it fails, is the invocation's). So does a
    // cold one whose init ran out of its time, the retry's init then within the invocation's.
    if (outcome.notStarted) return this.invoke(spec, outcome.retriedInit ? { ...request, retriedInit: outcome.retriedInit } : request);
    return outcome;
  }

  private takeIdle(spec: FunctionSpec): Sandbox | undefined {
    const list = this.idle.get(keyOf(spec));
    while (list && list.length > 0) {
      const sandbox = list.pop();
      if (sandbox?.isAlive && !sandbox.retired) {
        clearTimeout(sandbox.idleTimer);
        return sandbox;
      }
    }
    return undefined;
  }

  private async create(spec: FunctionSpec): Promise<Sandbox> {
    const taskRoot = await this.code.directory(spec.codeKey);
    const user = await this.takeUser();
    let released: Promise<void> | undefined;
    const release = (): Promise<void> => (released ??= user && this.ownUsers ? this.freeUser(user) : Promise.resolve());
    // A uid of the range is in no passwd of the host: in its mount namespace the sandbox's has it.
    // There its /tmp is a tmpfs of its own, and no directory of the host's is needed.
    const tmpDir = await this.scratch.create(user, { passwd: this.privateMounts && this.ownUsers, directory: !this.privateMounts }).catch(async (error: unknown) => {
      await release();
      throw error;
    });
    if (this.closed) {
      // Closed meanwhile: close() has already killed the sandboxes it knew of.
      await Promise.all([release(), this.scratch.remove(tmpDir).catch(() => undefined)]);
      throw new Error('the sandbox pool is closed');
    }
    const sandbox = new Sandbox(
      spec,
      taskRoot,
      {
        region: this.options.region,
        execPath: this.execPaths[spec.runtime] ?? process.execPath,
        baseEnvironment: this.options.baseEnvironment ?? {},
        ...(user ? { runAs: user, ownUser: this.ownUsers } : {}),
        ...(this.privateMounts ? {} : { tmpDir: tmpDir.path }),
        ...(tmpDir.passwdFile ? { passwdFile: tmpDir.passwdFile } : {}),
        privateMounts: this.privateMounts,
        ...(this.options.onLog ? { onLog: this.options.onLog } : {}),
      },
      (exited) => {
        this.forget(exited);
        // What the function left in /tmp goes with its sandbox: the next cold start begins empty.
        const removal = Promise.all([
          release(),
          this.scratch.remove(tmpDir).catch((error: Error) => this.options.logger?.warn(`could not remove ${tmpDir.path}: ${error.message}`)),
        ]).then(() => undefined);
        this.removals.add(removal);
        void removal.finally(() => this.removals.delete(removal));
      },
    );
    this.all.add(sandbox);
    await sandbox.start();
    return sandbox;
  }

  private release(sandbox: Sandbox): void {
    if (!sandbox.isAlive) return;
    if (sandbox.retired || this.closed) return sandbox.kill();
    const key = keyOf(sandbox.spec);
    const list = this.idle.get(key) ?? [];
    list.push(sandbox);
    this.idle.set(key, list);
    sandbox.idleSince = performance.now();
    sandbox.idleTimer = setTimeout(() => {
      sandbox.retired = true;
      this.removeIdle(sandbox);
      sandbox.kill();
    }, this.options.idleTimeoutMs);
    sandbox.idleTimer.unref();
  }

  private removeIdle(sandbox: Sandbox): void {
    const key = keyOf(sandbox.spec);
    const list = this.idle.get(key)?.filter((s) => s !== sandbox) ?? [];
    if (list.length > 0) this.idle.set(key, list);
    else this.idle.delete(key);
  }

  private forget(sandbox: Sandbox): void {
    this.all.delete(sandbox);
    this.removeIdle(sandbox);
  }

  /** Retires the sandboxes of `functionName` not running `keepRevisionId`; busy ones when they finish. */
  retire(functionName: string, keepRevisionId?: string): void {
    for (const sandbox of this.all) {
      if (sandbox.spec.name !== functionName || sandbox.spec.revisionId === keepRevisionId) continue;
      sandbox.retired = true;
      const idle = this.idle.get(keyOf(sandbox.spec))?.includes(sandbox);
      if (idle) {
        this.removeIdle(sandbox);
        sandbox.kill();
      }
    }
  }

  /**
   * Frees the disk of unpacked packages that neither `inUse` (the functions' current code) nor
   * a live sandbox needs and that were unpacked more than `graceMs` ago.
   */
  removeUnusedCode(inUse: Iterable<string>, graceMs: number): Promise<string[]> {
    const current = new Set(inUse);
    return this.code.removeUnused((key) => current.has(key) || [...this.all].some((s) => s.spec.codeKey === key), graceMs);
  }

  stats(): { warm: number; busy: number } {
    const warm = [...this.idle.values()].reduce((n, l) => n + l.length, 0);
    return { warm, busy: this.all.size - warm };
  }

  async close(): Promise<void> {
    this.closed = true;
    const sandboxes = [...this.all];
    for (const sandbox of sandboxes) sandbox.kill();
    await Promise.all(sandboxes.map((s) => s.exitedPromise));
    await Promise.all([...this.removals]);
    this.idle.clear();
    this.uidClaim?.release();
  }
}
