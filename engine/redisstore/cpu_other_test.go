//go:build !unix

package redisstore

import "time"

// selfCPU is not measured here; the benchmark then reports no CPU figures.
func selfCPU() time.Duration { return 0 }
