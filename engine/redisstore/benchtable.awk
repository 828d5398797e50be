# benchtable.awk: reads the output of `go test -bench BenchmarkRedisInterleaved`
# (one or more runs) and prints, as Markdown, each variant's decisions per
# second (mean over its blocks, and its best block) and the ratios
# BENCHMARKS.md quotes. Several runs: the median of each figure. Used by
# make bench-redis.
/^BenchmarkRedisInterleaved/ {
	runs++
	for (i = 2; i < NF; i++) {
		unit = $(i + 1)
		if (unit ~ /-(mean|best)\/s$/ || unit ~ /-(srv|cpu)-ns$/) {
			n[unit]++
			v[unit, n[unit]] = $i
		}
	}
}
function median(unit,    k, j, t, a, c) {
	c = n[unit]
	if (!c) return 0
	for (k = 1; k <= c; k++) a[k] = v[unit, k]
	for (k = 2; k <= c; k++) {
		t = a[k]
		for (j = k - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
		a[j + 1] = t
	}
	if (c % 2) return a[(c + 1) / 2]
	return (a[c / 2] + a[c / 2 + 1]) / 2
}
function ratio(a, b, what) {
	if (!m[b, what]) return "-"
	return sprintf("%.2fx", m[a, what] / m[b, what])
}
function row(label, a, b, target) {
	printf "| %s | %s | %s | %s | %s | %s |\n", label, ratio(a, b, "mean"), ratio(a, b, "best"), ratio(a, b, "srv"), ratio(a, b, "cpu"), target
}
END {
	if (!n["store-mean/s"] || !n["redis_rate-mean/s"] || !n["evalsha-mean/s"]) {
		print "bench-redis: no results (is redis-server installed? the benchmark skips without it)" > "/dev/stderr"
		exit 1
	}
	split("store redis_rate evalsha batch32 batch32x8", order, " ")
	desc["store"] = "(a) redisstore `Apply`: one script call per decision (GCRA, lean script)"
	desc["redis_rate"] = "(b) go-redis/redis_rate v10 `Allow` (GCRA)"
	desc["evalsha"] = "(c) trivial `EVALSHA` (`return 1`): the one-call-per-decision ceiling"
	desc["batch32"] = "(d) redisstore `ApplyBatch`: 32 decisions in one script call"
	desc["batch32x8"] = "(d') redisstore `ApplyBatch`: 32 decisions as 4 pipelined calls of 8"
	printf "| variant | decisions/s, mean | decisions/s, best block | redis-server CPU per decision | CPU per decision, server + client |\n|---|---:|---:|---:|---:|\n"
	for (k = 1; k <= 5; k++) {
		name = order[k]
		m[name, "mean"] = median(name "-mean/s")
		m[name, "best"] = median(name "-best/s")
		# CPU figures are inverted to decisions per CPU-second, so every
		# ratio below reads "higher is better".
		srv = median(name "-srv-ns"); cpu = median(name "-cpu-ns")
		m[name, "srv"] = srv ? 1e9 / srv : 0
		m[name, "cpu"] = cpu ? 1e9 / cpu : 0
		if (m[name, "mean"]) printf "| %s | %.0f | %.0f | %s | %s |\n", desc[name], m[name, "mean"], m[name, "best"], srv ? sprintf("%.1f us", srv / 1000) : "-", cpu ? sprintf("%.1f us", cpu / 1000) : "-"
	}
	printf "\n| ratio (higher is better) | wall clock, mean | wall clock, best block | per server CPU | per CPU, server + client | target |\n|---|---:|---:|---:|---:|---:|\n"
	row("(a)/(b) store vs redis_rate", "store", "redis_rate", ">= 1.0x")
	row("(a)/(c) store vs trivial EVALSHA", "store", "evalsha", "")
	row("(d)/(b) batch of 32 vs redis_rate", "batch32", "redis_rate", ">= 3x")
	row("(d)/(c) batch of 32 vs trivial EVALSHA", "batch32", "evalsha", "")
	row("(d')/(b) 4 pipelined calls of 8 vs redis_rate", "batch32x8", "redis_rate", "")
	printf "\n(%d run(s); median across runs)\n", runs
}
