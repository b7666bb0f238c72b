import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@tributary/testing';
import { SandboxPool, readableBy } from './sandbox-pool.js';
import { BOOTSTRAP } from './sandbox.js';
import { UidRangeClaimedError, claimUidRange } from './uid-claim.js';

const CLAIM_MODULE = new URL('./uid-claim.js', import.meta.url).href;

/** Who a claim file names. */
const claimantOf = (path: string): { pid: number; startTime: string } => JSON.parse(readFileSync(path, 'utf8'));

const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Field 22 of /proc/<pid>/stat: when the process started. */
const startTimeOf = (pid: number): string => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
};

describe('claims of sandbox uid ranges (real processes)', { timeout: 30_000 }, () => {
  let dir: string;
  const children: ChildProcess[] = [];

  const gone = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null;

  /** Another process, a worker as far as claims go, that claims `first`–`last` in `claims` and holds it until killed (or, `exit`, exits at once). */
  const otherWorker = async (first: number, last: number, { exit = false, claims = dir } = {}): Promise<ChildProcess> => {
    const script = `
      const { claimUidRange } = await import(${JSON.stringify(CLAIM_MODULE)});
      const claim = claimUidRange(${JSON.stringify(claims)}, ${first}, ${last}, (message) => { console.error(message); process.exit(2); });
      process.stdout.write('claimed ' + claim.path + '\\n');
      ${exit ? '' : 'setInterval(() => {}, 60_000);'}`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(`pid ${child.pid} to claim ${first}–${last}`, () => {
      if (output.includes('claimed ')) return true;
      if (gone(child)) throw new Error(`it exited: ${output}`);
      return false;
    });
    if (exit && !gone(child)) await once(child, 'exit');
    return child;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trib-uid-claims-'));
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (gone(child)) continue;
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a range that overlaps one a live worker claims, naming both ranges, its pid and its claim', async () => {
    const other = await otherWorker(61_400, 61_409);
    const theirs = join(dir, '61400-61409');
    const message = new RegExp(
      `^sandbox uids 61405–61414 overlap uids 61400–61409, which the worker with pid ${other.pid} on this host claims \\(${escaped(theirs)}\\): .*` +
        'Give each worker a range of its own with SANDBOX_UID and SANDBOX_UID_COUNT$',
    );
    assert.throws(() => claimUidRange(dir, 61_405, 61_414), (error: Error) => error instanceof UidRangeClaimedError && message.test(error.message));
    // The same range, too: its file is there already.
    assert.throws(() => claimUidRange(dir, 61_400, 61_409), /overlap uids 61400–61409, which the worker with pid \d+ on this host claims/);
    // The refused claim is not left behind to block a third worker, and the holder's is untouched.
    assert.deepEqual(await readdir(dir), ['61400-61409']);
    assert.equal(claimantOf(theirs).pid, other.pid);
  });

  it('takes over a claim whose worker is gone, or whose pid a later process has', async () => {
    const exited = await otherWorker(61_400, 61_409, { exit: true });
    const path = join(dir, '61400-61409');
    assert.equal(claimantOf(path).pid, exited.pid, 'a worker killed without closing its pool leaves its claim');
    const overlapping = claimUidRange(dir, 61_405, 61_414);
    assert.equal(overlapping?.path, join(dir, '61405-61414'));
    const same = claimUidRange(dir, 61_400, 61_409);
    assert.equal(claimantOf(path).pid, process.pid, 'the stale claim of the same range is replaced');
    overlapping?.release();
    same?.release();
    // A live process whose pid the claim names, but started at another time: not the claimant.
    const parent = process.ppid;
    await writeFile(path, JSON.stringify({ pid: parent, startTime: String(Number(startTimeOf(parent)) + 1) }));
    const again = claimUidRange(dir, 61_400, 61_409);
    assert.equal(claimantOf(path).pid, process.pid);
    again?.release();
  });

  it('lets ranges that do not overlap be claimed beside a live worker’s', async () => {
    await otherWorker(61_400, 61_409);
    const below = claimUidRange(dir, 61_390, 61_399);
    const above = claimUidRange(dir, 61_410, 61_419);
    assert.deepEqual((await readdir(dir)).sort(), ['61390-61399', '61400-61409', '61410-61419']);
    assert.equal(claimantOf(join(dir, '61410-61419')).pid, process.pid);
    below?.release();
    above?.release();
  });

  it('removes the claim file on release, once no claim of this process holds it', async () => {
    const path = join(dir, '61400-61409');
    const first = claimUidRange(dir, 61_400, 61_409);
    // Two pools of one process (as tests make) do not conflict, even with ranges that overlap.
    const second = claimUidRange(dir, 61_400, 61_409);
    const overlapping = claimUidRange(dir, 61_405, 61_414);
    assert.ok(first && second && overlapping);
    first.release();
    first.release();
    assert.ok(existsSync(path), 'still held by the second claim');
    second.release();
    overlapping.release();
    assert.deepEqual(await readdir(dir), []);
    // Released, the range is free for another worker.
    const other = await otherWorker(61_400, 61_409);
    assert.equal(claimantOf(path).pid, other.pid);
  });

  it('warns and goes on without a claim where none can be made, or where others could forge one', async () => {
    const warnings: string[] = [];
    const file = join(dir, 'a-file');
    await writeFile(file, '');
    assert.equal(
      claimUidRange(join(file, 'claims'), 61_400, 61_409, (message) => warnings.push(message)),
      undefined,
    );
    const open = join(dir, 'open');
    claimUidRange(open, 61_400, 61_409)?.release();
    await chmod(open, 0o777);
    assert.equal(claimUidRange(open, 61_400, 61_409, (message) => warnings.push(message)), undefined);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0] ?? '', new RegExp(`^sandbox uids 61400–61409 are not claimed in ${escaped(join(file, 'claims'))} \\(ENOTDIR: .*\\): nothing stops another worker`));
    assert.match(warnings[1] ?? '', new RegExp(`^sandbox uids 61400–61409 are not claimed in ${escaped(open)} \\(${escaped(open)} is not a directory only this user may write to\\)`));
    assert.deepEqual(await readdir(open), []);
  });

  describe('SandboxPool', { skip: process.getuid?.() !== 0 && 'needs root' }, () => {
    it("will not start where its range overlaps a live worker's, whose sandboxes it then leaves alone", async (t) => {
      const gid = 65_534;
      if (!readableBy(BOOTSTRAP, { uid: 61_405, gid })) return t.skip('this checkout is where other users may not enter: sandboxes would run as root');
      const work = join(dir, 'work');
      const claims = join(dir, 'claims');
      // The sandboxes' users pass through to the code dir.
      await chmod(dir, 0o711);
      await mkdir(work, { mode: 0o711 });
      const warnings: string[] = [];
      const pool = (uid: number, uidClaimDir = claims) =>
        new SandboxPool({
          codeDir: join(work, `code-${uid}`), tmpRoot: join(work, `scratch-${uid}`), region: 'us-east-1', idleTimeoutMs: 60_000,
          runAs: { uid, gid, count: 10 }, privateMounts: false, uidClaimDir, fetchCode: async () => new Uint8Array(),
          logger: { log: () => undefined, warn: (message) => warnings.push(message), error: () => undefined },
        });
      // A process of a uid, in a session of its own: a sandbox of a worker's, or what one left.
      const asUid = (uid: number) => {
        const child = spawn('sleep', ['30'], { uid, gid, detached: true, stdio: 'ignore' });
        children.push(child);
        return child;
      };
      const other = await otherWorker(61_400, 61_409, { claims });
      const theirSandbox = asUid(61_405);
      assert.throws(() => pool(61_405), (error: Error) => error.message.startsWith(`sandbox uids 61405–61414 overlap uids 61400–61409, which the worker with pid ${other.pid}`));
      // A pool beside it kills what a worker gone left in its own range. Had the refused one begun
      // its kill of leftovers, begun earlier, it would have killed their sandbox by then.
      const leftover = asUid(61_411);
      const beside = pool(61_410);
      try {
        assert.equal(claimantOf(join(claims, '61410-61419')).pid, process.pid);
        await waitFor('the leftover of the range beside to be killed', () => gone(leftover));
        assert.equal(gone(theirSandbox), false, "the other worker's sandbox lives on");
      } finally {
        await beside.close();
      }
      assert.deepEqual(await readdir(claims), ['61400-61409'], 'closed, the pool has given its range up');
      // Where no claim can be made (no /run/lock), a worker starts as it did before claims.
      await writeFile(join(dir, 'a-file'), '');
      const unclaimed = pool(61_420, join(dir, 'a-file', 'claims'));
      await unclaimed.close();
      assert.deepEqual(unclaimed.sandboxUser, { uid: 61_420, gid });
      assert.match(warnings.join('\n'), /^sandbox uids 61420–61429 are not claimed in \S+ \(ENOTDIR: /m);
    });
  });
});
