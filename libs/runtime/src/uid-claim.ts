import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where workers claim their sandbox uid ranges: a tmpfs on Debian, so that no claim outlives a reboot. */
export const UID_CLAIM_DIR = '/run/lock/tributary-sandbox-uids';

/** Who wrote a claim: a pid, and when that process started, which a later process given the same pid does not share. */
type Claimant = { pid: number; startTime: string };

/** Field 22 of /proc/<pid>/stat (clock ticks since boot); undefined when no such process runs (a zombie runs nothing). */
const startTimeOf = (pid: number): string | undefined => {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2, the command name, may hold spaces and parentheses: the fields after it start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[22 - 3];
};

const readClaim = (path: string): Claimant | undefined => {
  try {
    const { pid, startTime } = JSON.parse(readFileSync(path, 'utf8')) as Partial<Claimant>;
    return Number.isInteger(pid) && typeof startTime === 'string' ? { pid: pid as number, startTime } : undefined;
  } catch {
    return undefined;
  }
};

const isLive = (claimant: Claimant): boolean => startTimeOf(claimant.pid) === claimant.startTime;

/** Another worker on this host holds uids of the range asked for. */
export class UidRangeClaimedError extends Error {
  override readonly name = 'UidRangeClaimedError';
}

/** A range of uids this process holds, until `release()`. */
export interface UidClaim {
  /** The claim file. */
  readonly path: string;
  /** Removes the claim file if it still names this process; a no-op after the first call. */
  release(): void;
}

/** Claim files this process holds, with how many claims of this process share each (pools of one process may). */
const held = new Map<string, number>();

/**
 * Claims uids `first` … `last` for this process: a file `<first>-<last>` in `dir` that names it,
 * so that a second worker on this host (same PID namespace) whose range overlaps fails at start
 * instead of killing this one's sandboxes, as it would at start and whenever it frees a uid.
 * A claim whose process no longer runs is taken over; one by this process is no conflict.
 *
 * Throws UidRangeClaimedError when another live process claims an overlapping range. Where the
 * claim cannot be made (no /run/lock, a read-only /run), tells `warn` why and returns undefined.
 */
export const claimUidRange = (dir: string, first: number, last: number, warn: (message: string) => void = () => undefined): UidClaim | undefined => {
  const path = join(dir, `${first}-${last}`);
  const unclaimed = (reason: string): undefined =>
    void warn(`sandbox uids ${first}–${last} are not claimed in ${dir} (${reason}): nothing stops another worker on this host whose range overlaps from killing this one's sandboxes`);
  const startTime = startTimeOf(process.pid);
  if (startTime === undefined) return unclaimed(`/proc/${process.pid}/stat cannot be read`);
  const me: Claimant = { pid: process.pid, startTime };
  const ours = (claimant: Claimant | undefined): boolean => claimant?.pid === me.pid && claimant.startTime === me.startTime;
  if (!held.has(path)) {
    let rival: { path: string; first: number; last: number; pid: number } | undefined;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      // /run/lock is writable by everyone: a directory (or a link) another user made there could hold false claims.
      const st = lstatSync(dir);
      if (!st.isDirectory() || st.uid !== process.geteuid?.() || (st.mode & 0o022) !== 0) throw new Error(`${dir} is not a directory only this user may write to`);
      const text = `${JSON.stringify(me)}\n`;
      try {
        writeFileSync(path, text, { flag: 'wx', mode: 0o644 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const holder = readClaim(path);
        if (!holder || !isLive(holder)) {
          // Left by a worker that is gone: replaced whole, so that no reader sees it half written.
          const temp = join(dir, `.${first}-${last}.${process.pid}.tmp`);
          try {
            writeFileSync(temp, text, { mode: 0o644 });
            renameSync(temp, path);
          } finally {
            rmSync(temp, { force: true });
          }
        }
      }
      // Written first, looked for after: of two workers that claim overlapping ranges at once, the
      // later to look sees the other's claim. Both may see each other's, and both fail to start:
      // better than both starting. The range's own file counts, for one that took it over meanwhile.
      for (const name of readdirSync(dir)) {
        const range = /^(\d+)-(\d+)$/.exec(name);
        if (!range || Number(range[1]) > last || Number(range[2]) < first) continue;
        const claimant = readClaim(join(dir, name));
        if (claimant && claimant.pid !== process.pid && isLive(claimant)) {
          rival = { path: join(dir, name), first: Number(range[1]), last: Number(range[2]), pid: claimant.pid };
          break;
        }
      }
    } catch (error) {
      return unclaimed((error as Error).message);
    }
    if (rival) {
      if (ours(readClaim(path))) rmSync(path, { force: true });
      throw new UidRangeClaimedError(
        `sandbox uids ${first}–${last} overlap uids ${rival.first}–${rival.last}, which the worker with pid ${rival.pid} on this host claims (${rival.path}): ` +
          `each kills every process of its uids, the other's sandboxes among them. Give each worker a range of its own with SANDBOX_UID and SANDBOX_UID_COUNT`,
      );
    }
  }
  held.set(path, (held.get(path) ?? 0) + 1);
  let released = false;
  return {
    path,
    release: () => {
      if (released) return;
      released = true;
      const left = (held.get(path) ?? 1) - 1;
      if (left > 0) return void held.set(path, left);
      held.delete(path);
      if (ours(readClaim(path))) rmSync(path, { force: true });
    },
  };
};
