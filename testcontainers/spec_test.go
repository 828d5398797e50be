package testcontainers

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tollgate/gatewayd/config"
)

func TestGatewaydConfigParses(t *testing.T) {
	b, err := GatewaydConfig(DefaultSpec())
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if c.Store.Kind != "redis" || c.Store.Redis.Addr != "redis:6379" || len(c.Auth.APIKeys.Keys) != 4 {
		t.Fatalf("unexpected config: %+v", c)
	}
	if strings.Contains(string(b), "tc-free-1") {
		t.Fatal("config holds a raw API key")
	}
}

func TestSpecValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Spec)
		want   string
	}{
		{"ok", func(*Spec) {}, ""},
		{"unknown tier", func(s *Spec) { s.Tenants[0].Tier = "gold" }, `tenants[0].tier: unknown tier "gold"`},
		{"zero rate", func(s *Spec) { s.Tenants[1].Rate = 0 }, "tenants[1].rate: must be > 0, got 0"},
		{"nan rate", func(s *Spec) { s.Tenants[1].Rate = math.NaN() }, "tenants[1].rate: must be > 0"},
		{"no route", func(s *Spec) { s.Tenants[2].Route = "/v2/x" }, `tenants[2].route: "/v2/x" matches no route`},
		{"dup zone", func(s *Spec) { s.Zones = []string{"a", "a"} }, "zones[1]"},
		{"short grace", func(s *Spec) { s.Grace = 500 * time.Millisecond }, "grace: must be >= 1s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := DefaultSpec()
			c.mutate(&s)
			err := s.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate() = %v, want containing %q", err, c.want)
			}
		})
	}
}

// TestHAProxyConfigChecks runs Debian's haproxy -c on the rendered config
// when haproxy is installed (the image carries the same binary).
func TestHAProxyConfigChecks(t *testing.T) {
	b, err := HAProxyConfig(DefaultSpec())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"server gw-a gw-a:8080", "inter 100ms fall 8 rise 3", "option httpchk GET /readyz", "mode tcp"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("config lacks %q:\n%s", want, b)
		}
	}
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy not installed; the rendered text was checked only")
	}
	p := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", p).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s\n%s", err, out, b)
	}
}

func TestParseStats(t *testing.T) {
	csv := "# pxname,svname,qcur,status,weight\n" +
		"gateways,FRONTEND,,OPEN,\n" +
		"gatewayd,gw-a,0,UP,1\n" +
		"gatewayd,gw-b,0,DOWN,1\n" +
		"gatewayd,gw-c,0,UP 1/2,1\n" +
		"gatewayd,BACKEND,0,UP,2\n"
	st, err := parseStats(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 3 || st["gw-b"] != "DOWN" || st.up() != 1 {
		t.Fatalf("parseStats = %v (up %d)", st, st.up())
	}
	if _, err := parseStats(strings.NewReader("# a,b\n")); err == nil {
		t.Fatal("stats without a status column accepted")
	}
}

func TestUpstreamArgs(t *testing.T) {
	got := strings.Join(UpstreamArgs(DefaultSpec()), " ")
	want := "-listen :9000 -route /v1/fast/=5ms -route /v1/report/=40ms"
	if got != want {
		t.Fatalf("UpstreamArgs = %q, want %q", got, want)
	}
}

// FuzzParseStats: any input parses or fails cleanly, and every server it
// returns came from a gatewayd row.
func FuzzParseStats(f *testing.F) {
	f.Add("# pxname,svname,status\ngatewayd,gw-a,UP\ngatewayd,BACKEND,UP\n")
	f.Add("# pxname,svname,qcur,status\ngatewayd,gw-b,0,DOWN\nstats,FRONTEND,,OPEN\n")
	f.Add("# a,b\n")
	f.Add("")
	f.Add("# pxname,svname,status\n\"unterminated\n")
	f.Add("# status,pxname,svname\nUP,gatewayd\n")
	f.Fuzz(func(t *testing.T, in string) {
		st, err := parseStats(strings.NewReader(in))
		if err != nil {
			return
		}
		for name := range st {
			if name == "BACKEND" || name == "FRONTEND" || !strings.Contains(in, "gatewayd") {
				t.Fatalf("parseStats(%q) returned server %q", in, name)
			}
		}
	})
}
