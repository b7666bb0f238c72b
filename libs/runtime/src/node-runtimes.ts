import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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
  /** Runtimes whose Node.js is not installed, which run on the worker's own instead. */
  missing: { runtime: string; version: string; looked: string }[];
}

const major = (version: string): string => version.replace(/^v/, '').split('.')[0] ?? '';

/**
 * The Node.js of every runtime the manifest pins: the worker's own where its major is the
 * runtime's (AWS's nodejs20.x is the latest Node.js 20, as is the worker's own on these machines),
 * else the pinned release installed in `dir`.
 */
export const nodeRuntimes = (dir: string = DEFAULT_NODE_RUNTIMES_DIR): NodeRuntimes => {
  const execPaths: Record<string, string> = {};
  const missing: NodeRuntimes['missing'] = [];
  for (const [runtime, { version }] of Object.entries(MANIFEST.runtimes)) {
    if (major(version) === major(process.version)) {
      execPaths[runtime] = process.execPath;
      continue;
    }
    const installed = join(dir, `node-v${version}-${process.platform}-${process.arch}`, 'bin', 'node');
    if (existsSync(installed)) execPaths[runtime] = installed;
    else missing.push({ runtime, version, looked: installed });
  }
  return { execPaths, missing };
};
