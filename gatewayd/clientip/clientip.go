// Package clientip finds the address of the client behind a request, for
// limits keyed by client IP (anonymous routes).
//
// The peer's address (RemoteAddr) is the client unless the peer is a trusted
// proxy (a load balancer that appends to X-Forwarded-For): then the client is
// the right-most X-Forwarded-For address that is not itself a trusted proxy.
// An untrusted peer's X-Forwarded-For is ignored, since anyone can send one,
// and so is everything left of the first untrusted address. IPv6 clients are
// keyed by their /64, since one host commonly holds a whole /64.
package clientip

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Resolver finds client addresses. The zero value trusts no proxy.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver trusting the given proxies, each an address
// ("10.0.0.7") or a CIDR prefix ("10.0.0.0/8"); field names the config field
// in errors ("server.trusted_proxies").
func New(field string, proxies []string) (*Resolver, error) {
	r := &Resolver{}
	for i, p := range proxies {
		pre, err := ParseProxy(p)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: want an IP address or CIDR prefix, got %q", field, i, p)
		}
		r.trusted = append(r.trusted, pre)
	}
	return r, nil
}

// ParseProxy parses one trusted proxy: an IP address or a CIDR prefix.
func ParseProxy(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// TrustsPeer reports whether the peer at remoteAddr ("host:port") is a
// trusted proxy.
func (r *Resolver) TrustsPeer(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	return err == nil && r.isTrusted(a.Unmap().WithZone(""))
}

// Client returns the client's address for a request from remoteAddr
// ("host:port", as http.Request.RemoteAddr) carrying the X-Forwarded-For
// header values xff. ok is false when no address can be read (a malformed
// RemoteAddr); a malformed X-Forwarded-For entry stops the walk there, and
// the last good address is the client.
func (r *Resolver) Client(remoteAddr string, xff []string) (addr netip.Addr, ok bool) {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	peer, err := netip.ParseAddr(strings.TrimPrefix(strings.TrimSuffix(host, "]"), "["))
	if err != nil {
		return netip.Addr{}, false
	}
	client := peer.Unmap().WithZone("")
	if !r.isTrusted(client) {
		return client, true
	}
	// Walk X-Forwarded-For right to left while the hops are trusted.
	for i := len(xff) - 1; i >= 0; i-- {
		parts := strings.Split(xff[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return client, true
			}
			client = a.Unmap().WithZone("")
			if !r.isTrusted(client) {
				return client, true
			}
		}
	}
	return client, true
}

// Key is the limiter key of a client address: the address itself for IPv4,
// its /64 for IPv6.
func Key(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
