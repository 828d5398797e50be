# benchtable.awk: reads the output of `go test -bench BenchmarkRedisInterleaved`
# (one or more runs) and prints, as Markdown, each variant's decisions per
# second (mean over its blocks, and its best block) and the ratios
# BENCHMARKS.md quotes. Several runs: the median of each figure. Used by
# make bench-redis.
/^BenchmarkRedisInterleaved/ {
	runs++
	for (i = 2; i < NF; i++) {
		unit = $(i + 1)
		if (unit ~ /-(mean|best)\/s$/) {
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
END {
	if (!n["store-mean/s"] || !n["redis_rate-mean/s"] || !n["evalsha-mean/s"]) {
		print "bench-redis: no results (is redis-server installed? the benchmark skips without it)" > "/dev/stderr"
		exit 1
	}
	split("store redis_rate evalsha batch32 batch32x8", order, " ")
	desc["store"] = "(a) redisstore `Apply`: one script call per decision (GCRA)"
	desc["redis_rate"] = "(b) go-redis/redis_rate v10 `Allow` (GCRA)"
	desc["evalsha"] = "(c) trivial `EVALSHA` (`return 1`): the one-call-per-decision ceiling"
	desc["batch32"] = "(d) redisstore `ApplyBatch`: 32 decisions in one script call"
	desc["batch32x8"] = "(d') redisstore `ApplyBatch`: 32 decisions as 4 pipelined calls of 8"
	printf "| variant | decisions/s, mean | decisions/s, best block |\n|---|---:|---:|\n"
	for (k = 1; k <= 5; k++) {
		name = order[k]
		m[name, "mean"] = median(name "-mean/s")
		m[name, "best"] = median(name "-best/s")
		if (m[name, "mean"]) printf "| %s | %.0f | %.0f |\n", desc[name], m[name, "mean"], m[name, "best"]
	}
	printf "\n| ratio | mean | best block | target |\n|---|---:|---:|---:|\n"
	printf "| (a)/(b) store vs redis_rate | %s | %s | >= 1.0x |\n", ratio("store", "redis_rate", "mean"), ratio("store", "redis_rate", "best")
	printf "| (a)/(c) store vs trivial EVALSHA | %s | %s | |\n", ratio("store", "evalsha", "mean"), ratio("store", "evalsha", "best")
	printf "| (d)/(b) batch of 32 vs redis_rate | %s | %s | >= 3x |\n", ratio("batch32", "redis_rate", "mean"), ratio("batch32", "redis_rate", "best")
	printf "| (d)/(c) batch of 32 vs trivial EVALSHA | %s | %s | |\n", ratio("batch32", "evalsha", "mean"), ratio("batch32", "evalsha", "best")
	printf "| (d')/(b) 4 pipelined calls of 8 vs redis_rate | %s | %s | |\n", ratio("batch32x8", "redis_rate", "mean"), ratio("batch32x8", "redis_rate", "best")
	printf "\n(%d run(s); median across runs)\n", runs
}
