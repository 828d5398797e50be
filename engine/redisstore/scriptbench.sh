#!/bin/sh
# scriptbench.sh: redis-server CPU per script call, with the network taken
# nearly out of the picture: redis-benchmark pipelines 32 calls per round
# trip, so what is left is mostly the script itself. Compares, on one
# private redis-server (free loopback port, --save '' --appendonly no):
#
#   lean:       engine/redisstore/fast.lua, a GCRA Acquire as Store.Apply sends it
#   general:    engine/redisstore/script.lua, the same Acquire
#   redis_rate: go-redis/redis_rate v10's GCRA script, read from the Go module
#               cache at run time (the module go.mod already requires)
#   trivial:    return 1
#
# in ROUNDS interleaved rounds of N calls each (rotating which goes first), and prints the median server
# CPU per call (INFO CPU, used_cpu_sys + used_cpu_user) and the ratios.
# Usage: scriptbench.sh [ROUNDS] [N]   (run from the repository root)
set -eu
ROUNDS=${1:-5}
N=${2:-100000}
for c in redis-server redis-cli redis-benchmark; do
	command -v $c >/dev/null || { echo "scriptbench: $c not on PATH (apt-get install redis-server redis-tools)" >&2; exit 1; }
done
dir=$(mktemp -d)
port=$(awk 'BEGIN { srand(); print 20000 + int(rand() * 20000) }')
while redis-cli -p "$port" ping >/dev/null 2>&1; do port=$((port + 1)); done
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
	--pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
i=0
until redis-cli -p "$port" ping >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 50 ] || { echo "scriptbench: redis-server did not start" >&2; exit 1; }
	sleep 0.1
done
rr=$(go list -m -f '{{.Dir}}' github.com/go-redis/redis_rate/v10)
awk '/^var allowN = redis.NewScript\(`/ { f = 1; next } f && /^`\)/ { exit } f' "$rr/lua.go" >"$dir/redis_rate.lua"
cp engine/redisstore/fast.lua "$dir/lean.lua"
cp engine/redisstore/script.lua "$dir/general.lua"
echo 'return 1' >"$dir/trivial.lua"
# The arguments: a GCRA limit of 1,000,000 per second, burst 1,000,000, cost
# 1, on both sides (as in bench_test.go), over 10,000 keys.
args_lean='1 tg:{k__rand_int__}:gcra 4 1000 1000000000000000 1000000000'
args_general='1 tg:{k__rand_int__}:gcra 0 1 1000 1 4 1000000000000000 1000000000'
args_redis_rate='1 rate:k__rand_int__ 1000000 1000000 1 1'
args_trivial='1 k__rand_int__'
cpu() { redis-cli -p "$port" info cpu | awk -F: '/used_cpu_(sys|user):/ { s += $2 } END { printf "%.6f", s }'; }
# Load the scripts and write every key once, outside the measurement.
for v in lean general redis_rate trivial; do
	eval "a=\$args_$v"
	# shellcheck disable=SC2086
	redis-benchmark -p "$port" -c 4 -P 32 -n 20000 -r 10000 -q EVAL "$(cat "$dir/$v.lua")" $a >/dev/null
done
order="lean general redis_rate trivial"
for r in $(seq "$ROUNDS"); do
	# Rotate which goes first.
	set -- $order
	order="$2 $3 $4 $1"
	for v in $order; do
		sha=$(redis-cli -p "$port" script load "$(cat "$dir/$v.lua")")
		eval "a=\$args_$v"
		c0=$(cpu)
		# shellcheck disable=SC2086
		redis-benchmark -p "$port" -c 4 -P 32 -n "$N" -r 10000 -q EVALSHA "$sha" $a >/dev/null
		c1=$(cpu)
		echo "$v $(echo "($c1 - $c0) * 1000000 / $N" | bc -l)" >>"$dir/results"
	done
done
awk -v rounds="$ROUNDS" -v n="$N" '
{ c[$1]++; v[$1, c[$1]] = $2 }
function median(k,    i, j, t, a, m) {
	m = c[k]
	for (i = 1; i <= m; i++) a[i] = v[k, i]
	for (i = 2; i <= m; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
END {
	split("lean general redis_rate trivial", order, " ")
	printf "| script (pipelined 32 deep) | redis-server CPU per call | redis_rate / it (higher is better) | above trivial |\n|---|---:|---:|---:|\n"
	for (k = 1; k <= 4; k++) m[order[k]] = median(order[k])
	for (k = 1; k <= 4; k++) {
		s = order[k]
		printf "| %s | %.2f us | %.2fx | %.2f us |\n", s, m[s], m["redis_rate"] / m[s], m[s] - m["trivial"]
	}
	printf "\n(%d interleaved rounds of %d calls; median per script)\n", rounds, n
}' "$dir/results"
