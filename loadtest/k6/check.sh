#!/usr/bin/env bash
# Type-checks the k6 scripts against the k6 API (@types/k6) with TypeScript's checkJs, so a wrong
# k6 call or a misspelt option fails here rather than in a load test. Needs Node.js and npm; the
# two packages are installed into a temporary directory, not the repository.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
npm install --silent --no-audit --no-fund --prefix "$tools" typescript @types/k6 >/dev/null
"$tools/node_modules/.bin/tsc" --allowJs --checkJs --noEmit --strict false --target es2020 --module esnext \
  --moduleResolution bundler --types k6 --typeRoots "$tools/node_modules/@types" "$here"/*.js
echo "k6 scripts type-check: $(ls "$here"/*.js | wc -l) files"
