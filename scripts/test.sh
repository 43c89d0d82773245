#!/usr/bin/env bash
# The whole test suite, on a fresh machine: system packages the tests drive for real, a type-checked
# build, then node's test runner over every test file, on this machine's Node and on the current LTS.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system-deps.sh

npm run --silent build

files=$(ls dist/test/*.test.js)
echo "== node $(node --version): $(echo "$files" | wc -l) test files"
node --test --test-concurrency=2 $files
