//go:build !linux

package park

import (
	"net"
	"time"
)

// Wrap returns l unchanged: parking needs Linux's epoll.
func Wrap(l net.Listener, idle time.Duration) net.Listener { return l }
