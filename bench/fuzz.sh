#!/usr/bin/env bash
# Runs every fuzz target of focussync for a bounded time each.
#
#   bench/fuzz.sh            # 30s per target
#   bench/fuzz.sh 2m         # any -fuzztime value: 2m, 90s, 10000x
#
# A failing input is written by go test to <package>/testdata/fuzz/<Target>/<hash>
# and the run stops with the command that reproduces it:
#   go test ./<package> -run=<Target>/<hash>
# Keep a crasher: fix the bug, then commit that file. Every file under
# testdata/fuzz/<Target>/ is replayed by a plain `go test` as a regression test,
# without -fuzz. The corpus go test builds while fuzzing (under
# $(go env GOCACHE)/fuzz) stays on this machine and is not committed.
set -euo pipefail

fuzztime="${1:-30s}"
cd "$(dirname "$0")/.."

# package:target, found with: grep -rn "func Fuzz" --include=*_test.go .
targets=(
	./syncer:FuzzMakePlan
	./config:FuzzParse
	./focus:FuzzParseCreated
	./focus:FuzzParseList
)

failed=()
for t in "${targets[@]}"; do
	pkg="${t%%:*}"
	name="${t##*:}"
	echo "== $name ($pkg), -fuzztime $fuzztime"
	if ! go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime"; then
		failed+=("$name")
		echo "!! $name failed: the crasher is under $pkg/testdata/fuzz/$name/ (see above)"
	fi
done

missing=$(grep -rhoE '^func Fuzz[A-Za-z0-9_]+' --include=*_test.go . | sed 's/^func //' | sort -u)
for m in $missing; do
	case " ${targets[*]} " in
		*":$m "*) ;;
		*) echo "note: $m is not in bench/fuzz.sh's list; add it" ;;
	esac
done

if ((${#failed[@]})); then
	echo "fuzz: FAILED: ${failed[*]}"
	exit 1
fi
echo "fuzz: ${#targets[@]} targets, no failure"
