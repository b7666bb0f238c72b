import { randomBytes } from 'node:crypto';
import { chown, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

type User = { uid: number; gid: number };

/** Whether a process `pid` exists (one this process may not signal counts). */
export const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** A sandbox's /tmp and, when asked for, the passwd file that names its user. */
export interface ScratchDir {
  /** The directory (not made when the sandbox's /tmp is a mount of its own). */
  path: string;
  passwdFile?: string;
}

/** The name a sandbox's user goes by in its passwd file (AWS's: sbx_user1051). */
export const sandboxUserName = (uid: number): string => `sbx_user${uid}`;

/**
 * Each sandbox's `/tmp`: an empty directory of its own under `root`, made when the sandbox
 * starts and removed when it ends, so that nothing one function writes there is seen by another
 * or by its own next cold start (AWS gives every execution environment a fresh /tmp).
 * Directories are named `<worker pid>-<random>`; a worker removes at start those of workers no
 * longer running, and those naming its own pid (an earlier process's, as pid 1 of a restarted
 * container), which a worker killed with SIGKILL leaves behind.
 *
 * Beside it, `<dir>.passwd`: the host's /etc/passwd with an entry for the sandbox's user, whose
 * uid is its own and in no passwd of the host, so that `os.userInfo()`, `whoami` and the like
 * answer as on AWS instead of failing.
 */
export class ScratchDirs {
  private prepared?: Promise<void>;

  constructor(private readonly root: string) {}

  /**
   * `directory: false` when the sandbox's /tmp is a mount of its own (a tmpfs in its mount
   * namespace): then only the passwd file is made, named as if the directory were there.
   */
  async create(owner?: User, { passwd = false, directory = true } = {}): Promise<ScratchDir> {
    this.prepared ??= this.removeAbandoned();
    await this.prepared;
    const path = join(this.root, `${process.pid}-${randomBytes(6).toString('hex')}`);
    if (directory) {
      await mkdir(path, { mode: 0o700 });
      if (owner) await chown(path, owner.uid, owner.gid);
    }
    if (!passwd || !owner) return { path };
    const passwdFile = `${path}.passwd`;
    // The pool refuses a range that holds an account: the host's entries and the sandbox's never clash.
    const host = await readFile('/etc/passwd', 'utf8').catch(() => '');
    const lines = host.split('\n').filter(Boolean);
    await writeFile(passwdFile, [...lines, `${sandboxUserName(owner.uid)}:x:${owner.uid}:${owner.gid}::/tmp:/usr/sbin/nologin`, ''].join('\n'), { mode: 0o644 });
    return { path, passwdFile };
  }

  async remove(dir: ScratchDir): Promise<void> {
    await rm(dir.path, { recursive: true, force: true, maxRetries: 2 });
    if (dir.passwdFile) await rm(dir.passwdFile, { force: true });
  }

  private async removeAbandoned(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o711 });
    for (const entry of await readdir(this.root)) {
      const pid = Number(/^(\d+)-[0-9a-f]{12}(?:\.passwd)?$/.exec(entry)?.[1]);
      if (!pid) continue; // not a sandbox's: left alone
      if (pid === process.pid || !isRunning(pid)) await rm(join(this.root, entry), { recursive: true, force: true, maxRetries: 2 }).catch(() => undefined);
    }
  }
}
