#!/usr/bin/env bash
# Runs the test suite, or a named subset, on other Node.js versions than the machine's.
# Each version comes from the npm registry's `node` package into .nodeNN/ (git-ignored), once.
#   scripts/test-node-versions.sh                      the whole suite (vitest) on Node 22 and 24
#   scripts/test-node-versions.sh --subset core        the CLI, the gateway and the client
#   scripts/test-node-versions.sh --versions "24" test/e2e/oidc.test.ts   vitest arguments
# (npm run test:node-versions -- ARGS). Exits non-zero when any version fails.
set -euo pipefail
cd "$(dirname "$0")/.."
versions="22 24"
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --versions) versions="$2"; shift 2 ;;
    --subset)
      case "$2" in
        # The CLI (commands, init, login/token), the gateway (serve, OpenAI routes, streaming, OIDC)
        # and the client library.
        core) args+=(test/compiler/cli.test.ts test/compiler/init.test.ts test/e2e/serve-cli.test.ts test/e2e/openai-client.test.ts test/e2e/streaming.test.ts test/e2e/oidc.test.ts test/client) ;;
        *) echo "unknown subset $2 (known: core)" >&2; exit 2 ;;
      esac
      shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
failed=()
for v in $versions; do
  prefix=".node$v"
  if [ ! -x "$prefix/node_modules/.bin/node" ]; then
    npm install --no-save --no-audit --no-fund --prefix "$prefix" "node@$v" >/dev/null
  fi
  echo "== Node $("$prefix/node_modules/.bin/node" --version): vitest run ${args[*]:-}"
  # First on the PATH: vitest, tsx and every child process the tests start use this node.
  if ! PATH="$PWD/$prefix/node_modules/.bin:$PATH" node node_modules/vitest/vitest.mjs run "${args[@]}"; then
    failed+=("$v")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed on Node ${failed[*]}" >&2
  exit 1
fi
