package clientip

import (
	"net/netip"
	"strings"
	"testing"
)

func TestClient(t *testing.T) {
	r, err := New("server.trusted_proxies", []string{"10.0.0.0/8", "192.0.2.1", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"198.51.100.7:5000", nil, "198.51.100.7"},
		// An untrusted peer's X-Forwarded-For is ignored: anyone can send one.
		{"198.51.100.7:5000", []string{"203.0.113.9"}, "198.51.100.7"},
		// A trusted peer: the right-most untrusted entry.
		{"10.1.2.3:5000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"10.1.2.3:5000", []string{"6.6.6.6, 203.0.113.9, 10.9.9.9"}, "203.0.113.9"},
		{"10.1.2.3:5000", []string{"6.6.6.6", "203.0.113.9, 192.0.2.1"}, "203.0.113.9"},
		// A trusted peer and no header: the peer.
		{"10.1.2.3:5000", nil, "10.1.2.3"},
		// Every hop trusted: the left-most.
		{"10.1.2.3:5000", []string{"10.4.4.4, 10.5.5.5"}, "10.4.4.4"},
		// A malformed entry stops the walk at the last good address.
		{"10.1.2.3:5000", []string{"203.0.113.9, garbage, 10.5.5.5"}, "10.5.5.5"},
		// IPv4-mapped IPv6 is IPv4; zones are dropped.
		{"[::ffff:198.51.100.7]:5000", nil, "198.51.100.7"},
		{"[fe80::1%eth0]:5000", nil, "fe80::1"},
		{"[2001:db8::1]:5000", []string{"2001:db9::5"}, "2001:db9::5"},
	} {
		got, ok := r.Client(tc.remote, tc.xff)
		if !ok || got.String() != tc.want {
			t.Errorf("Client(%q, %q) = %v, %v; want %s", tc.remote, tc.xff, got, ok, tc.want)
		}
	}
	if _, ok := r.Client("not an address", nil); ok {
		t.Error("a malformed RemoteAddr must not give a client")
	}
	var zero Resolver
	if got, _ := zero.Client("10.1.2.3:1", []string{"203.0.113.9"}); got.String() != "10.1.2.3" {
		t.Errorf("the zero Resolver trusted X-Forwarded-For: %v", got)
	}
}

func TestKey(t *testing.T) {
	if k := Key(netip.MustParseAddr("203.0.113.9")); k != "203.0.113.9" {
		t.Errorf("IPv4 key %q", k)
	}
	a, b := netip.MustParseAddr("2001:db8:1:2:aaaa::1"), netip.MustParseAddr("2001:db8:1:2:bbbb::9")
	if Key(a) != Key(b) || Key(a) != "2001:db8:1:2::/64" {
		t.Errorf("IPv6 keys %q and %q, want one /64", Key(a), Key(b))
	}
}

func TestNewRejectsBadProxies(t *testing.T) {
	_, err := New("server.trusted_proxies", []string{"10.0.0.0/8", "10.0.0.0/99"})
	if err == nil || !strings.Contains(err.Error(), `server.trusted_proxies[1]: want an IP address or CIDR prefix, got "10.0.0.0/99"`) {
		t.Fatalf("got %v", err)
	}
}

// FuzzClient: any RemoteAddr and X-Forwarded-For give either no client or a
// valid address, never a panic; an untrusted peer is always its own client.
func FuzzClient(f *testing.F) {
	f.Add("10.1.2.3:5000", "6.6.6.6, 203.0.113.9, 10.9.9.9")
	f.Add("[2001:db8::1]:80", "::ffff:1.2.3.4,fe80::1%eth0")
	f.Add("198.51.100.7:1", ",,,")
	r, err := New("f", []string{"10.0.0.0/8", "2001:db8::/32"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		a, ok := r.Client(remote, []string{xff})
		if !ok {
			return
		}
		if !a.IsValid() || a.Zone() != "" || a.Is4In6() {
			t.Fatalf("Client(%q, %q) = %v", remote, xff, a)
		}
		if !r.isTrusted(a) {
			return
		}
		// A trusted client is only possible when every hop was trusted.
		_ = Key(a)
	})
}
