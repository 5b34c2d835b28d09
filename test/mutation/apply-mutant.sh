#!/usr/bin/env bash
# Applies a hand mutant (a literal replacement in one file), runs the given tests, and reverts.
# usage: test/mutation/apply-mutant.sh FILE 'from' 'to' TEST_FILE [-t name]
# Prints the test result under the mutant; the file is restored from git whatever happens.
set -uo pipefail
file=$1 from=$2 to=$3
shift 3
trap 'git checkout -q -- "$file"' EXIT
FROM="$from" TO="$to" node -e '
const fs = require("fs"); const f = process.argv[1]; const s = fs.readFileSync(f, "utf8");
if (!s.includes(process.env.FROM)) { console.error("mutant text not found in " + f); process.exit(2); }
fs.writeFileSync(f, s.replace(process.env.FROM, process.env.TO));' "$file" || exit 2
NO_COLOR=1 npx vitest run "$@" 2>&1 | grep -E "^ +(×|✗)|^ FAIL|Tests " | sort -u | head -20
