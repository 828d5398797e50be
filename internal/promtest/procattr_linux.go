package promtest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes Prometheus die with the test process, so a test
// binary killed before its cleanup leaves no prometheus behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
