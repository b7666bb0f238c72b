#!/usr/bin/env node
// Runs the compiled tests of the given project roots (all projects when none is given) in one
// `node --test` process tree, so the run ends with a single pass/fail summary.
// Usage: node tools/scripts/run-tests.mjs [--unit|--int|--e2e] [project-root ...]
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const kinds = { '--unit': /\.spec\.js$/, '--int': /\.int-spec\.js$/, '--e2e': /\.e2e-spec\.js$/ };
const only = args.filter((a) => a in kinds).map((a) => kinds[a]);
const patterns = only.length ? only : Object.values(kinds);
const roots = args.filter((a) => !(a in kinds));
const projectRoots = roots.length
  ? roots
  : ['libs', 'apps', 'tools'].flatMap((d) => readdirSync(d).map((p) => join(d, p)));

const walk = (dir) =>
  readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });

const files = projectRoots
  .map((root) => join(root, 'dist'))
  .filter((dist) => existsSync(dist))
  .flatMap(walk)
  .filter((file) => patterns.some((p) => p.test(file)))
  .sort();

if (files.length === 0) {
  console.error('run-tests: no compiled test files found; run `npm run build` first');
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '1';
const result = spawnSync(
  process.execPath,
  ['--enable-source-maps', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
