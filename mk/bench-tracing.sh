#!/usr/bin/env bash
# Tracing's cost on gatewayd's request path, in one run: BenchmarkServeHTTP at a baseline commit without the
# tracing hooks (a temporary git worktree), and BenchmarkServeHTTPTracing (off, 1%, 100%) at the working tree,
# interleaved ROUNDS times so machine noise hits all alike; prints each case's median ns/op and the median of its
# per-round ratios to the baseline (paired, so a slow round slows both). Usage: bench-tracing.sh BASELINE [ROUNDS]
# [BENCHTIME]; BASELINE is a commit without the tracing hooks, as close to the working tree as possible.
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
    awk -v r="$i" '/^BenchmarkServeHTTP-/ {print r, "baseline", $3}' >>"$out"
  (cd "$root" && $go test -run '^$' -bench '^BenchmarkServeHTTPTracing$' -benchtime "$benchtime" ./gatewayd/gateway/) |
    awk -v r="$i" '/^BenchmarkServeHTTPTracing\// {split($1, a, "/"); sub(/-[0-9]+$/, "", a[2]); print r, a[2], $3}' >>"$out"
done
(cd "$root" && $go test -run '^$' -bench '^BenchmarkHooksOff$' -benchmem ./gatewayd/tracing/) | grep '^BenchmarkHooksOff'
echo "baseline: $base_commit ($(git -C "$root" log -1 --format=%s "$base_commit" | cut -c1-60)); $rounds rounds of $benchtime, median ns/op"
awk '
  function median(arr, n,   i, j, t) {
    for (i = 2; i <= n; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]; arr[j + 1] = t }
    return (n % 2) ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2 }
  { ns[$1, $2] = $3; rounds[$1] = 1 }
  END {
    split("baseline off sampled-1pct sampled-100pct", order, " ")
    for (i = 1; i <= 4; i++) { c = order[i]; n = 0; m = 0; delete v; delete q
      for (r in rounds) { if ((r, c) in ns) v[++n] = ns[r, c]; if ((r, c) in ns && (r, "baseline") in ns) q[++m] = ns[r, c] / ns[r, "baseline"] }
      if (!n) continue
      printf "%-15s median %8.0f ns/op  paired ratio to baseline: median x%.3f (min x%.3f, max x%.3f, %d rounds)\n",
        c, median(v, n), median(q, m), q[1], q[m], m } }' "$out"
