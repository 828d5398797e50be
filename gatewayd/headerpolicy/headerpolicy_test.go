package headerpolicy

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestApply(t *testing.T) {
	in := http.Header{
		"X-Tollgate-Tier":     {"gold"},
		"X_tollgate_tier":     {"gold"},
		"X_tollgate_key_hash": {"victim"},
		"X-Tollgate-Other":    {"x"},
		"X_request_id":        {"forged"},
		"X-Api-Key":           {"raw"},
		"X_api_key":           {"raw"},
		"Authorization":       {"Bearer forged"},
		"Proxy-Authorization": {"Basic x"},
		"X_forwarded_for":     {"10.0.0.1"},
		"X-Forwarded-For":     {"127.0.0.1"},
		"Accept":              {"*/*"},
		"Cookie":              {"a=b"},
	}
	h := in.Clone()
	New("X-API-Key", false).Apply(h, Vouch{RequestID: "r1", Tier: "basic", KeyHash: "kh"})
	want := http.Header{"X-Request-Id": {"r1"}, "X-Tollgate-Tier": {"basic"}, "X-Tollgate-Key-Hash": {"kh"},
		"X-Forwarded-For": {"127.0.0.1"}, "Accept": {"*/*"}, "Cookie": {"a=b"}}
	if len(h) != len(want) {
		t.Errorf("got %v, want %v", h, want)
	}
	for k, v := range want {
		if len(h[k]) != 1 || h[k][0] != v[0] {
			t.Errorf("%s = %q, want %q", k, h[k], v)
		}
	}

	h = in.Clone()
	New("X-API-Key", false).Apply(h, Vouch{RequestID: "r1", Tier: "basic", KeyHash: "kh", Verified: "Bearer good"})
	if got := h["Authorization"]; len(got) != 1 || got[0] != "Bearer good" {
		t.Errorf("verified credential: Authorization = %q", got)
	}
	if _, ok := h["Proxy-Authorization"]; ok {
		t.Error("Proxy-Authorization forwarded unverified")
	}

	h = in.Clone()
	New("X-API-Key", true).Apply(h, Vouch{RequestID: "r1", Tier: "basic", KeyHash: "kh"})
	if h.Get("Authorization") != "Bearer forged" || h.Get("Proxy-Authorization") != "Basic x" {
		t.Errorf("forward_credentials: %v", h)
	}
	if h.Get("X-Api-Key") != "" || len(h["X_api_key"]) != 0 || h.Get("X-Tollgate-Tier") != "basic" {
		t.Errorf("forward_credentials forwarded the API key or an identity header: %v", h)
	}
}

func TestCheck(t *testing.T) {
	if err := Check(http.Header{"Authorization": {"a"}}); err != nil {
		t.Error(err)
	}
	if err := Check(http.Header{"Authorization": {"a", "b"}}); err != ErrDuplicateAuthorization {
		t.Errorf("two values: %v", err)
	}
	if err := Check(http.Header{"Authorization": {"a"}, "authorization": {"b"}}); err != ErrDuplicateAuthorization {
		t.Errorf("two spellings: %v", err)
	}
}

func TestIsIdentityAndVouch(t *testing.T) {
	for name, want := range map[string]bool{"X-Tollgate-Tier": true, "x_TOLLGATE_anything": true, "X_Request_ID": true,
		"X-Tollgate": false, "X-Requested-With": false} {
		if IsIdentity(name) != want {
			t.Errorf("IsIdentity(%q) = %v", name, !want)
		}
	}
	v := Vouch{RequestID: "r", Tier: "t"}
	if got := VouchFrom(WithVouch(context.Background(), v)); got != v {
		t.Errorf("VouchFrom = %+v", got)
	}
	if got := VouchFrom(context.Background()); got != (Vouch{}) {
		t.Errorf("empty context: %+v", got)
	}
}

func TestUpgrade(t *testing.T) {
	for _, tc := range []struct {
		h     http.Header
		want  string
		route string
		ok    bool
	}{
		{http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}, "websocket", "websocket", true},
		{http.Header{"Upgrade": {"WebSocket"}, "Connection": {"keep-alive, upgrade"}}, "WebSocket", "websocket", true},
		{http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}, "websocket", "", false},
		{http.Header{"Upgrade": {"h2c"}, "Connection": {"Upgrade, HTTP2-Settings"}}, "h2c", "websocket", false},
		{http.Header{"Upgrade": {"websocket, h2c"}, "Connection": {"Upgrade"}}, "websocket, h2c", "websocket", false},
		{http.Header{"Upgrade": {"websocket"}}, "", "websocket", false},
	} {
		got := Upgrade(tc.h)
		if got != tc.want {
			t.Errorf("Upgrade(%v) = %q, want %q", tc.h, got, tc.want)
		}
		if got != "" && UpgradeAllowed(tc.route, got) != tc.ok {
			t.Errorf("UpgradeAllowed(%q, %q) = %v", tc.route, got, !tc.ok)
		}
	}
}

// FuzzFold: the allocation-free comparisons agree with Fold.
func FuzzFold(f *testing.F) {
	f.Add("X_Tollgate_Tier", "x-tollgate-")
	f.Add("X-Request-Id", "x-request-id")
	f.Fuzz(func(t *testing.T, name, other string) {
		folded := Fold(other)
		if got, want := foldHasPrefix(name, folded), strings.HasPrefix(Fold(name), folded); got != want {
			t.Errorf("foldHasPrefix(%q, %q) = %v", name, folded, got)
		}
		if got, want := foldEqual(name, folded), Fold(name) == folded; got != want {
			t.Errorf("foldEqual(%q, %q) = %v", name, folded, got)
		}
	})
}

func BenchmarkApply(b *testing.B) {
	p := New("X-API-Key", false)
	in := http.Header{"Accept": {"*/*"}, "User-Agent": {"x"}, "Content-Type": {"application/json"},
		"X-Forwarded-For": {"127.0.0.1"}, "X-Api-Key": {"k"}, "Accept-Encoding": {"gzip"}}
	v := Vouch{RequestID: "r", Tier: "t", KeyHash: "h"}
	b.ReportAllocs()
	for b.Loop() {
		h := make(http.Header, len(in)+3)
		for k, vv := range in {
			h[k] = vv
		}
		p.Apply(h, v)
	}
}
