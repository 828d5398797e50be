package main

import (
	"fmt"
	"net"

	"github.com/pires/go-proxyproto"

	"tollgate/gatewayd/clientip"
	"tollgate/gatewayd/config"
)

// proxyProtocol wraps ln so connections from the trusted proxies must open
// with a PROXY protocol header (v1 or v2), whose client address becomes the
// connection's RemoteAddr; a connection from any other peer that sends one
// is refused, so nobody else can claim an address. The header must arrive
// within server.read_header_timeout.
func proxyProtocol(ln net.Listener, s config.Server) net.Listener {
	r, err := clientip.New("server.trusted_proxies", s.TrustedProxies)
	if err != nil { // validated before: unreachable
		r = &clientip.Resolver{}
	}
	return &proxyproto.Listener{
		Listener:          ln,
		ReadHeaderTimeout: s.ReadHeaderTimeout.D(),
		ConnPolicy: func(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
			if o.Upstream == nil {
				return proxyproto.REJECT, fmt.Errorf("no peer address: %w", proxyproto.ErrInvalidUpstream)
			}
			if r.TrustsPeer(o.Upstream.String()) {
				return proxyproto.REQUIRE, nil
			}
			return proxyproto.REJECT, nil
		},
	}
}
