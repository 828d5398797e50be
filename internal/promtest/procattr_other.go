//go:build !linux

package promtest

import "os/exec"

// dieWithParent does nothing where the kernel offers no parent-death signal;
// t.Cleanup still stops Prometheus.
func dieWithParent(*exec.Cmd) {}
