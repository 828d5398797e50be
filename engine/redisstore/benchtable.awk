# benchtable.awk: reads `go test -bench BenchmarkRedisDecisions` output from
# several rounds and prints the median decisions/s per variant and the
# ratios BENCHMARKS.md quotes, as a Markdown table. Used by make bench-redis.
/^BenchmarkRedisDecisions\// {
	name = $1
	sub(/^BenchmarkRedisDecisions\//, "", name)
	sub(/-[0-9]+$/, "", name)
	for (i = 2; i < NF; i++) {
		if ($(i + 1) == "decisions/s") {
			n[name]++
			v[name, n[name]] = $i
		}
	}
}
function median(name,    k, j, t, a, c) {
	c = n[name]
	for (k = 1; k <= c; k++) a[k] = v[name, k]
	for (k = 2; k <= c; k++) {
		t = a[k]
		for (j = k - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
		a[j + 1] = t
	}
	if (c % 2) return a[(c + 1) / 2]
	return (a[c / 2] + a[c / 2 + 1]) / 2
}
END {
	if (!n["store"] || !n["redis_rate"] || !n["evalsha"]) {
		print "bench-redis: no results (is redis-server installed? the benchmark skips without it)" > "/dev/stderr"
		exit 1
	}
	split("store redis_rate evalsha batch32 batch32x8", order, " ")
	desc["store"] = "(a) redisstore Apply, one script call per decision (GCRA)"
	desc["redis_rate"] = "(b) go-redis/redis_rate v10 Allow (GCRA)"
	desc["evalsha"] = "(c) trivial EVALSHA `return 1`: one-call-per-decision ceiling"
	desc["batch32"] = "(d) redisstore ApplyBatch, 32 decisions per script call"
	desc["batch32x8"] = "(d') redisstore ApplyBatch, 32 decisions as 4 pipelined calls of 8"
	printf "| variant | decisions/s (median of %d rounds) |\n|---|---:|\n", n["store"]
	for (k = 1; k <= 5; k++) {
		if (n[order[k]]) {
			m[order[k]] = median(order[k])
			printf "| %s | %.0f |\n", desc[order[k]], m[order[k]]
		}
	}
	printf "\n| ratio | value | target |\n|---|---:|---:|\n"
	printf "| (a)/(b) store vs redis_rate | %.2fx | >= 1.0x |\n", m["store"] / m["redis_rate"]
	printf "| (a)/(c) store vs trivial EVALSHA | %.2fx | |\n", m["store"] / m["evalsha"]
	if (n["batch32"]) printf "| (d)/(b) batch of 32 vs redis_rate | %.2fx | >= 3x |\n", m["batch32"] / m["redis_rate"]
	if (n["batch32"]) printf "| (d)/(c) batch of 32 vs trivial EVALSHA | %.2fx | |\n", m["batch32"] / m["evalsha"]
	if (n["batch32x8"]) printf "| (d')/(b) 4 pipelined calls of 8 vs redis_rate | %.2fx | |\n", m["batch32x8"] / m["redis_rate"]
}
