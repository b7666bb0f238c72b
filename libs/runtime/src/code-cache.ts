import { createWriteStream, existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, readlink, realpath, rename, rm, stat, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { LAMBDA_LIMITS } from '@tributary/contracts';

/**
 * Unpacked deployment packages, one directory per code key. The first use of a key fetches and
 * extracts it once (concurrent callers share the work); the directory appears atomically.
 * Nobody but the worker's user may write in them (see `extractZip`): sandboxes that run as
 * another user can read a package but not change it for the other functions that share it.
 */
export class CodeCache {
  private readonly pending = new Map<string, Promise<string>>();

  constructor(
    private readonly root: string,
    private readonly fetch: (codeKey: string) => Promise<Uint8Array>,
    /** Sandboxes run as another user: the root must let them reach the packages. */
    private readonly readableByOthers = false,
  ) {}

  directory(codeKey: string): Promise<string> {
    if (!/^[a-f0-9]{64}$/.test(codeKey)) return Promise.reject(new Error(`invalid code key ${codeKey}`));
    let job = this.pending.get(codeKey);
    if (!job) {
      job = this.prepare(codeKey);
      this.pending.set(codeKey, job);
      job.catch(() => this.pending.delete(codeKey));
    }
    return job;
  }

  /**
   * Removes unpacked packages that are not `inUse` (asked right before each removal) and that
   * were unpacked more than `graceMs` ago (a package unpacked a moment ago is about to start a
   * sandbox). Returns the keys removed; the next use of one unpacks it again.
   */
  async removeUnused(inUse: (codeKey: string) => boolean, graceMs: number): Promise<string[]> {
    const names = await readdir(this.root).catch(() => [] as string[]);
    const removed: string[] = [];
    for (const name of names) {
      const path = join(this.root, name);
      // Left over by a removal or an extraction that was interrupted.
      if (/\.(trash|tmp)-[0-9a-f]+$/.test(name)) {
        const left = await stat(path).catch(() => undefined);
        if (left && (name.includes('.trash-') || Date.now() - left.mtimeMs >= graceMs)) await rm(path, { recursive: true, force: true });
        continue;
      }
      if (!/^[a-f0-9]{64}$/.test(name)) continue;
      const unpacked = await stat(path).catch(() => undefined);
      if (!unpacked || Date.now() - unpacked.mtimeMs < graceMs || inUse(name)) continue;
      // Moved aside in one step, so that a sandbox starting now finds either the whole package
      // or none (and unpacks it anew), never half of one.
      this.pending.delete(name);
      const trash = `${path}.trash-${randomBytes(4).toString('hex')}`;
      if (!(await rename(path, trash).then(() => true, () => false))) continue;
      removed.push(name);
      await rm(trash, { recursive: true, force: true });
    }
    return removed;
  }

  private runtimeModules?: Promise<void>;

  /**
   * AWS's Node.js runtimes let handlers import the AWS SDK v3 without bundling it, and the
   * `@smithy/*` packages it is built from (`@smithy/node-http-handler` for a client's timeouts,
   * say). Module resolution walks up from the handler's directory, so links to both scopes in
   * a `node_modules` beside the code directories serve `require` and `import`; a package the
   * function bundles itself is found first.
   */
  private provideRuntimeModules(): Promise<void> {
    this.runtimeModules ??= Promise.all(functionModuleScopes().map((scope) => this.link(scope))).then(
      () => undefined,
      () => {
        // Best effort: functions that bundle the SDK still run; the next cold start tries again.
        this.runtimeModules = undefined;
      },
    );
    return this.runtimeModules;
  }

  /** root/node_modules/<scope> → the installed scope directory. */
  private async link(scope: string): Promise<void> {
    const link = join(this.root, 'node_modules', basename(scope));
    if ((await readlink(link).catch(() => undefined)) === scope) return;
    // A link left by an earlier install may point at a directory that no longer exists:
    // replace it atomically (rename over), so a concurrent reader never sees no link.
    await mkdir(dirname(link), { recursive: true });
    const staging = `${link}.tmp-${randomBytes(4).toString('hex')}`;
    await symlink(scope, staging, 'dir');
    await rename(staging, link).catch(async (error: unknown) => {
      await rm(staging, { force: true });
      throw error;
    });
  }

  private async prepare(codeKey: string): Promise<string> {
    const target = join(this.root, codeKey);
    await mkdir(this.root, { recursive: true });
    if (this.readableByOthers) await chmod(this.root, 0o755);
    await this.provideRuntimeModules();
    if (await stat(target).then((s) => s.isDirectory(), () => false)) {
      // Unpacked before this process started, maybe by a version that kept a zip's owner-only modes.
      if (this.readableByOthers) await openModes(target);
      return target;
    }
    const staging = `${target}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      await extractZip(await this.fetch(codeKey), staging);
      await rename(staging, target).catch(async (error: unknown) => {
        // Another process of this host extracted it first.
        if (!(await stat(target).then(() => true, () => false))) throw error;
      });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    return target;
  }
}

/**
 * The package scopes functions import without bundling them: the installed `@aws-sdk` directory
 * and the `@smithy` one beside it. Empty when the SDK is not installed.
 */
export const functionModuleScopes = (): string[] => {
  let sdk: string;
  try {
    const entry = createRequire(import.meta.url).resolve('@aws-sdk/client-s3');
    sdk = entry.slice(0, entry.lastIndexOf(`${sep}@aws-sdk${sep}`) + `${sep}@aws-sdk`.length);
  } catch {
    return [];
  }
  const smithy = join(dirname(sdk), '@smithy');
  return existsSync(smithy) ? [sdk, smithy] : [sdk];
};

/** The modes `extractZip` gives, applied to a tree unpacked earlier: readable by all, writable by the owner only. */
const openModes = async (path: string): Promise<void> => {
  const info = await lstat(path);
  if (info.isSymbolicLink()) return;
  const wanted = (info.mode & 0o755) | (info.isDirectory() ? 0o555 : 0o444);
  if ((info.mode & 0o777) !== wanted) await chmod(path, wanted);
  if (info.isDirectory()) for (const name of await readdir(path)) await openModes(join(path, name));
};

/**
 * A package that cannot be unpacked as it is (not a zip, entries that escape or collide, too
 * large): AWS answers the invoke with InvalidZipFileException. Errors of the host (a full
 * disk) are not this.
 */
export class InvalidPackageError extends Error {
  override readonly name = 'InvalidPackageError';
}

/** Errors of the file system that a package's own entries cause: a file where a directory goes, or both at one path. */
const COLLISIONS = new Set(['EEXIST', 'ENOTDIR', 'EISDIR']);

const asPackageError = (error: unknown): Error => {
  if (error instanceof InvalidPackageError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  // yauzl's own errors carry no code; zlib's (corrupt data) a Z_ one.
  if (code === undefined || code.startsWith('Z_') || COLLISIONS.has(code)) return new InvalidPackageError(message);
  return error instanceof Error ? error : new Error(message);
};

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

/**
 * Makes the links a package holds, where they point (as AWS unpacks them; what they point to is
 * read with the sandbox's permissions). Each is made in a directory that really is inside the
 * root: a link below another link would otherwise be made wherever that one points.
 */
const makeLinks = async (root: string, links: Array<{ target: string; to: string }>): Promise<void> => {
  if (links.length === 0) return;
  await mkdir(root, { recursive: true });
  const realRoot = await realpath(root);
  const inside = (path: string) => path === realRoot || path.startsWith(realRoot + sep);
  for (const { target, to } of links) {
    if (to.length === 0 || to.length > 4096 || to.includes('\0')) throw new Error(`zip entry is a link to an invalid path: ${target.slice(root.length + 1)}`);
    await mkdir(dirname(target), { recursive: true });
    if (!inside(await realpath(dirname(target)))) throw new Error(`zip entry escapes the task root: ${target.slice(root.length + 1)}`);
    await symlink(to, target);
  }
};

/**
 * Extracts a zip into `dir`, keeping file modes except write permission for others (and adding
 * read permission for all: a sandbox may run as another user). yauzl refuses absolute paths and `..`, and
 * holds every entry to its declared size, so summing those bounds what lands on disk (a zip
 * bomb stops at `maxBytes`). Rejects with `InvalidPackageError` when the package is at fault.
 */
export const extractZip = (bytes: Uint8Array, dir: string, maxBytes: number = LAMBDA_LIMITS.unzippedBytes): Promise<void> =>
  new Promise((done, reject) => {
    const fail = (error: unknown) => reject(asPackageError(error));
    const root = resolve(dir);
    let total = 0;
    yauzl.fromBuffer(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { lazyEntries: true }, (openError, zip) => {
      if (openError || !zip) return fail(openError ?? new Error('could not open zip'));
      // Symbolic links are made after every file and directory, so that nothing is ever written
      // through one: an entry below a link to /etc would otherwise land in /etc.
      const links: Array<{ target: string; to: string }> = [];
      const inside = (path: string) => path === root || path.startsWith(root + sep);
      zip.on('error', fail);
      zip.on('end', () => makeLinks(root, links).then(() => done(), fail));
      zip.on('entry', (entry: yauzl.Entry) => {
        const target = resolve(root, entry.fileName);
        if (!inside(target)) return fail(new Error(`zip entry escapes the task root: ${entry.fileName}`));
        total += entry.uncompressedSize;
        if (total > maxBytes) return fail(new Error(`unzipped size must be smaller than ${maxBytes} bytes`));
        if (entry.fileName.endsWith('/')) {
          mkdir(target, { recursive: true }).then(() => zip.readEntry(), fail);
          return;
        }
        const unixMode = entry.externalFileAttributes >>> 16;
        const mode = (unixMode & 0o755) | 0o444;
        zip.openReadStream(entry, (streamError, stream) => {
          if (streamError || !stream) return fail(streamError ?? new Error('could not read zip entry'));
          if ((unixMode & S_IFMT) === S_IFLNK) {
            // A link's entry holds the path it points to (as `zip -y` stores it).
            const parts: Buffer[] = [];
            stream.on('data', (part: Buffer) => parts.push(part));
            stream.on('error', fail);
            stream.on('end', () => {
              links.push({ target, to: Buffer.concat(parts).toString('utf8') });
              zip.readEntry();
            });
            return;
          }
          mkdir(dirname(target), { recursive: true })
            .then(() => pipeline(stream, createWriteStream(target, { mode })))
            .then(() => chmod(target, mode))
            .then(() => zip.readEntry(), fail);
        });
      });
      zip.readEntry();
    });
  });
