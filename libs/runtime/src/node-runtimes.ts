import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Node.js each Lambda runtime runs on, pinned in libs/runtime/node-runtimes.json. */
interface Manifest {
  runtimes: Record<string, { version: string; integrity: Record<string, string> }>;
}

const MANIFEST: Manifest = JSON.parse(readFileSync(new URL('../../node-runtimes.json', import.meta.url), 'utf8')) as Manifest;

/** Where `npm ci` (tools/scripts/install-runtimes.mjs) puts them: .runtimes at the checkout's root. */
export const DEFAULT_NODE_RUNTIMES_DIR = fileURLToPath(new URL('../../../../.runtimes', import.meta.url));

export interface NodeRuntimes {
  /** The node binary per runtime (`nodejs24.x` → …/node-v24.22.3-linux-x64/bin/node); the worker's own where its major is the runtime's. */
  execPaths: Record<string, string>;
  /** Runtimes whose Node.js is not installed or does not run here, which run on the worker's own instead. */
  missing: { runtime: string; reason: string }[];
}

const major = (version: string): string => version.replace(/^v/, '').split('.')[0] ?? '';

/** Whether the binary at `path` runs and says it is `version` (a copy from another libc would not). */
const runs = (path: string, version: string): boolean => {
  const probe = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return probe.status === 0 && probe.stdout.trim() === `v${version}`;
};
/** Probed once per binary: every pool of a process asks. */
const probed = new Map<string, boolean>();

/**
 * The Node.js version a runtime runs on (`20.20.2`): the worker's own where its major is the
 * runtime's, else the pinned release; undefined for a runtime the manifest does not pin.
 */
export const runtimeNodeVersion = (runtime: string): string | undefined => {
  const pinned = MANIFEST.runtimes[runtime]?.version;
  if (pinned === undefined) return undefined;
  return major(pinned) === major(process.version) ? process.version.replace(/^v/, '') : pinned;
};

/**
 * The Node.js of every runtime the manifest pins: the worker's own where its major is the
 * runtime's (AWS's nodejs20.x is the latest Node.js 20, as is the worker's own on these machines),
 * else the pinned release installed in `dir`, once it has been seen to run.
 */
export const nodeRuntimes = (dir: string = DEFAULT_NODE_RUNTIMES_DIR): NodeRuntimes => {
  const execPaths: Record<string, string> = {};
  const missing: NodeRuntimes['missing'] = [];
  for (const [runtime, { version }] of Object.entries(MANIFEST.runtimes)) {
    if (major(version) === major(process.version)) {
      execPaths[runtime] = process.execPath;
      continue;
    }
    // Absolute: a sandbox starts in its task root, where a relative path would lead nowhere.
    const installed = resolve(dir, `node-v${version}-${process.platform}-${process.arch}`, 'bin', 'node');
    if (!existsSync(installed)) {
      missing.push({ runtime, reason: `Node.js ${version} is not installed at ${installed}` });
      continue;
    }
    let ok = probed.get(installed);
    if (ok === undefined) probed.set(installed, (ok = runs(installed, version)));
    if (ok) execPaths[runtime] = installed;
    else missing.push({ runtime, reason: `${installed} does not run here as Node.js ${version}` });
  }
  return { execPaths, missing };
};
