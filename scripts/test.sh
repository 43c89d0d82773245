#!/usr/bin/env bash
# The whole test suite, on a fresh machine: system packages the tests drive for real, a type-checked
# build, then node's test runner over every test file -- on this machine's Node and again on the
# current Node LTS (the one the container image runs), fetched from the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system-deps.sh

npm run --silent build

# The compiled files of the test sources there are now: a test renamed or removed leaves its old
# build in dist/, which must not run.
files=$(ls test/*.test.ts | sed -e 's#^test/#dist/test/#' -e 's#\.ts$#.js#')
count=$(echo "$files" | wc -l)

echo "== node $(node --version): $count test files"
node --test --test-reporter=tap --test-concurrency=2 $files

lts=$(node --input-type=module -e "const m = await import('./dist/test/support/node-lts.js'); console.log(await m.nodeLts());")
echo "== node $("$lts" --version) (LTS): $count test files"
"$lts" --test --test-reporter=tap --test-concurrency=2 $files
