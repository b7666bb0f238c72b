#!/usr/bin/env bash
# `npm test`: starts NATS, Redis and PostgreSQL if they are down, builds, lints, and runs every
# unit, integration and end-to-end test against the real servers.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CI="${CI:-true}" NX_DAEMON=false NX_NO_CLOUD=true NX_USE_LOCAL=true

bash tools/scripts/ensure-services.sh
echo "--- build"
npm run --silent build
echo "--- lint"
npx nx show projects >/dev/null   # caches the project graph the module-boundary rule reads
npm run --silent lint
echo "--- tests"
node tools/scripts/run-tests.mjs "$@"
