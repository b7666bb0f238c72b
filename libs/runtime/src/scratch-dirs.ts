import { randomBytes } from 'node:crypto';
import { chown, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

type User = { uid: number; gid: number };

const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Each sandbox's `/tmp`: an empty directory of its own under `root`, made when the sandbox
 * starts and removed when it ends, so that nothing one function writes there is seen by another
 * or by its own next cold start (AWS gives every execution environment a fresh /tmp).
 * Directories are named `<worker pid>-<random>`; a worker removes at start those of workers no
 * longer running, and those naming its own pid (an earlier process's, as pid 1 of a restarted
 * container), which a worker killed with SIGKILL leaves behind.
 */
export class ScratchDirs {
  private prepared?: Promise<void>;

  constructor(
    private readonly root: string,
    private readonly owner?: User,
  ) {}

  async create(): Promise<string> {
    this.prepared ??= this.removeAbandoned();
    await this.prepared;
    const dir = join(this.root, `${process.pid}-${randomBytes(6).toString('hex')}`);
    await mkdir(dir, { mode: 0o700 });
    if (this.owner) await chown(dir, this.owner.uid, this.owner.gid);
    return dir;
  }

  async remove(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true, maxRetries: 2 });
  }

  private async removeAbandoned(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o711 });
    for (const entry of await readdir(this.root)) {
      const pid = Number(/^(\d+)-[0-9a-f]{12}$/.exec(entry)?.[1]);
      if (!pid) continue; // not a sandbox's: left alone
      if (pid === process.pid || !isRunning(pid)) await this.remove(join(this.root, entry)).catch(() => undefined);
    }
  }
}
