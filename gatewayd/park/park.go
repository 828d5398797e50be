// Package park keeps idle keep-alive connections cheap. net/http holds a
// goroutine and about 8 KiB of buffers for every open connection, idle or
// not, so 10,000 idle keep-alive clients cost well over 100 MB. Wrap hands
// each connection to net/http only while a request is on it: when a response
// is done and no next request is waiting, the connection is taken back
// (net/http releases its goroutine and buffers to its pools) and parked in
// one epoll set, costing a few hundred bytes, until the client sends again or
// the idle timeout closes it. The client sees one ordinary keep-alive TCP
// connection throughout.
//
//	pl := park.Wrap(ln, idleTimeout)
//	srv := &http.Server{Handler: h, ConnState: park.ConnState}
//	srv.Serve(pl)
//
// Wrap needs Linux (epoll); elsewhere it returns the listener unchanged.
// A request pipelined behind another whose first bytes arrive split across
// the park point could lose those bytes and be answered 400; browsers and
// common clients do not pipeline.
package park

import (
	"net"
	"net/http"
)

// ConnState is the http.Server.ConnState hook Wrap needs: it tells each
// connection when net/http considers it idle.
func ConnState(c net.Conn, s http.ConnState) {
	if pc, ok := c.(interface{ setIdle(bool) }); ok {
		pc.setIdle(s == http.StateIdle)
	}
}
