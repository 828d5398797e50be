//go:build unix

package redisstore

import (
	"syscall"
	"time"
)

// selfCPU returns the CPU time (user and system) of this process.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
