#!/usr/bin/env bash
# Tracing's cost on gatewayd's request path, in one run: BenchmarkServeHTTP at a baseline commit without the
# tracing hooks (a temporary git worktree), and BenchmarkServeHTTPTracing (off, 1%, 100%) at the working tree,
# interleaved ROUNDS times so machine noise hits all alike; prints each case's median ns/op and its ratio to the
# baseline's median. Usage: run.sh BASELINE_COMMIT [ROUNDS] [BENCHTIME]
set -euo pipefail
base_commit=${1:?baseline commit}
rounds=${2:-5}
benchtime=${3:-2s}
go=${GO:-go}
root=$(git rev-parse --show-toplevel)
base=$(mktemp -d)
out=$(mktemp)
trap 'git -C "$root" worktree remove --force "$base" >/dev/null 2>&1 || true; rm -rf "$base" "$out"' EXIT
git -C "$root" worktree add -q --detach "$base" "$base_commit"
for i in $(seq 1 "$rounds"); do
  (cd "$base" && $go test -run '^$' -bench '^BenchmarkServeHTTP$' -benchtime "$benchtime" ./gatewayd/gateway/) |
    awk '/^BenchmarkServeHTTP-/ {print "baseline", $3}' >>"$out"
  (cd "$root" && $go test -run '^$' -bench '^BenchmarkServeHTTPTracing$' -benchtime "$benchtime" ./gatewayd/gateway/) |
    awk '/^BenchmarkServeHTTPTracing\// {split($1, a, "/"); sub(/-[0-9]+$/, "", a[2]); print a[2], $3}' >>"$out"
done
(cd "$root" && $go test -run '^$' -bench '^BenchmarkHooksOff$' -benchmem ./gatewayd/tracing/) | grep '^BenchmarkHooksOff'
echo "baseline: $base_commit ($(git -C "$root" log -1 --format=%s "$base_commit" | cut -c1-60)); $rounds rounds of $benchtime, median ns/op"
sort -k1,1 -k2,2n "$out" | awk '
  { v[$1, ++n[$1]] = $2 }
  END {
    split("baseline off sampled-1pct sampled-100pct", order, " ")
    for (i = 1; i <= 4; i++) { c = order[i]; m = n[c]; if (!m) continue
      med[c] = (m % 2) ? v[c, (m + 1) / 2] : (v[c, m / 2] + v[c, m / 2 + 1]) / 2 }
    for (i = 1; i <= 4; i++) { c = order[i]; if (!(c in med)) continue
      printf "%-15s %10.0f ns/op  x%.3f of baseline  (runs:", c, med[c], med[c] / med["baseline"]
      for (j = 1; j <= n[c]; j++) printf " %d", v[c, j]; print ")" } }'
