//go:build linux

package park

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Listener is a net.Listener whose connections park while idle. Safe for
// concurrent use.
type Listener struct {
	inner  net.Listener
	idle   time.Duration
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
	epfd   int
	loop   chan struct{}

	errMu sync.Mutex
	err   error

	mu     sync.Mutex
	parked map[int]*parkedConn // by fd

	// Parked counts connections parked now (for tests and metrics).
	parkedN atomic.Int64
}

type parkedConn struct {
	c     *conn
	since time.Time
}

// Wrap returns l with parking. idle closes connections parked longer than
// that (the server's idle timeout). If epoll cannot be set up, it returns l.
func Wrap(l net.Listener, idle time.Duration) net.Listener {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return l
	}
	pl := &Listener{inner: l, idle: idle, conns: make(chan net.Conn, 1024), closed: make(chan struct{}),
		epfd: epfd, loop: make(chan struct{}), parked: map[int]*parkedConn{}}
	go pl.acceptLoop()
	go pl.eventLoop()
	return pl
}

// Parked returns how many connections are parked now.
func (l *Listener) Parked() int64 { return l.parkedN.Load() }

func (l *Listener) acceptLoop() {
	var backoff time.Duration
	for {
		c, err := l.inner.Accept()
		if err != nil {
			select {
			case <-l.closed:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
				errors.Is(err, syscall.ECONNABORTED) {
				// Out of descriptors or a transient failure: back off as
				// net/http does, up to a second.
				if backoff == 0 {
					backoff = 5 * time.Millisecond
				} else if backoff *= 2; backoff > time.Second {
					backoff = time.Second
				}
				time.Sleep(backoff)
				continue
			}
			l.errMu.Lock()
			l.err = err
			l.errMu.Unlock()
			_ = l.Close()
			return
		}
		backoff = 0
		pc, ok := newConn(l, c)
		if !ok {
			pc = nil
		}
		var out net.Conn = c
		if pc != nil {
			out = pc
		}
		select {
		case l.conns <- out:
		case <-l.closed:
			_ = c.Close()
			return
		}
	}
}

// Accept returns the next connection with a request to serve.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		l.errMu.Lock()
		defer l.errMu.Unlock()
		if l.err != nil {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

// Addr returns the listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Close stops accepting and closes every parked connection.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.closed)
		err = l.inner.Close()
		<-l.loop
		l.mu.Lock()
		for fd, p := range l.parked {
			_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
			_ = p.c.Conn.Close()
			delete(l.parked, fd)
			l.parkedN.Add(-1)
		}
		l.mu.Unlock()
		_ = syscall.Close(l.epfd)
		// Connections accepted but not yet taken by the server.
		for {
			select {
			case c := <-l.conns:
				_ = c.Close()
			default:
				return
			}
		}
	})
	return err
}

// park puts an idle connection in the epoll set; false if the listener is
// closed or epoll refused it (the caller then closes the connection).
func (l *Listener) park(c *conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.closed:
		return false
	default:
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | (syscall.EPOLLONESHOT & 0xffffffff), Fd: int32(c.fd)}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		return false
	}
	l.parked[c.fd] = &parkedConn{c: c, since: time.Now()}
	l.parkedN.Add(1)
	return true
}

// eventLoop hands readable parked connections back to Accept and closes
// those idle too long.
func (l *Listener) eventLoop() {
	defer close(l.loop)
	events := make([]syscall.EpollEvent, 256)
	lastSweep := time.Now()
	for {
		select {
		case <-l.closed:
			return
		default:
		}
		n, err := syscall.EpollWait(l.epfd, events, 100)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			return
		}
		for i := 0; i < n; i++ {
			fd := int(events[i].Fd)
			l.mu.Lock()
			p := l.parked[fd]
			if p != nil {
				delete(l.parked, fd)
				l.parkedN.Add(-1)
				_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
			}
			l.mu.Unlock()
			if p == nil {
				continue
			}
			_ = p.c.Conn.SetDeadline(time.Time{})
			select {
			case l.conns <- p.c:
			case <-l.closed:
				_ = p.c.Conn.Close()
			}
		}
		if now := time.Now(); l.idle > 0 && now.Sub(lastSweep) >= time.Second {
			lastSweep = now
			l.mu.Lock()
			for fd, p := range l.parked {
				if now.Sub(p.since) >= l.idle {
					_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
					_ = p.c.Conn.Close()
					delete(l.parked, fd)
					l.parkedN.Add(-1)
				}
			}
			l.mu.Unlock()
		}
	}
}

// conn is a server-side connection that can be parked.
type conn struct {
	net.Conn
	l       *Listener
	rc      syscall.RawConn
	fd      int
	idle    atomic.Bool
	parking atomic.Bool
}

func newConn(l *Listener, c net.Conn) (*conn, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, false
	}
	pc := &conn{Conn: c, l: l, rc: rc, fd: -1}
	_ = rc.Control(func(fd uintptr) { pc.fd = int(fd) })
	return pc, pc.fd >= 0
}

func (c *conn) setIdle(v bool) { c.idle.Store(v) }

// errParked is what an idle read returns when nothing is waiting: net/http
// then ends its connection and calls Close, which parks it.
type parkedErr struct{}

func (parkedErr) Error() string   { return "park: idle connection parked" }
func (parkedErr) Timeout() bool   { return true }
func (parkedErr) Temporary() bool { return true }

// Linger is how long an idle connection waits inside net/http for its next
// request before it is parked: a busy client sends again within moments, and
// parking it would only add system calls (an epoll_ctl to park, another to
// unpark, a fresh net/http connection goroutine). Under load on a busy
// machine a keep-alive client's next request often comes more than 5 ms after
// the last response, and a CPU profile of gatewayd at saturation showed
// connections parking and unparking between requests; 50 ms keeps them in
// net/http while they are busy and still parks an idle one almost at once.
const Linger = 50 * time.Millisecond

// Read reads, unless the connection is idle and nothing arrives within
// Linger: then it asks net/http to let go of the connection. Bytes already
// waiting are read at once, without touching the deadline (tryRead).
func (c *conn) Read(b []byte) (int, error) {
	if c.idle.Load() {
		c.idle.Store(false)
		if n, ok := c.tryRead(b); ok {
			return n, nil // the next request was already waiting
		}
		_ = c.Conn.SetReadDeadline(time.Now().Add(Linger))
		n, err := c.Conn.Read(b)
		if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			c.parking.Store(true)
			return 0, parkedErr{}
		}
		// net/http sets its own deadline for the request it now reads.
		_ = c.Conn.SetReadDeadline(time.Time{})
		return n, err
	}
	return c.Conn.Read(b)
}

// tryRead makes one non-blocking read: under load the next request is
// usually waiting already, and reading it at once spares setting and
// clearing the Linger deadline (both showed in the CPU profile). ok is false
// when nothing was read (nothing waiting, end of stream or an error): the
// caller then reads the ordinary way, which reports EOF and errors as net
// does.
func (c *conn) tryRead(b []byte) (n int, ok bool) {
	if len(b) == 0 {
		return 0, false
	}
	var err error
	if rerr := c.rc.Read(func(fd uintptr) bool {
		for {
			n, err = syscall.Read(int(fd), b)
			if err != syscall.EINTR {
				return true // never wait here
			}
		}
	}); rerr != nil || err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// Close parks the connection if it is being let go after an idle read, or
// closes it.
func (c *conn) Close() error {
	if c.parking.CompareAndSwap(true, false) {
		c.idle.Store(false)
		if c.l.park(c) {
			return nil
		}
	}
	return c.Conn.Close()
}
