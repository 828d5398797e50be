package cost

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"tollgate/schema"
)

func loadSheet(t testing.TB) *Sheet {
	t.Helper()
	sh, err := LoadFile("../prices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

// near reports whether got rounds to the worked example's figure, which is given
// to the cent (half a cent either way, plus float noise).
func near(got, want float64) bool { return math.Abs(got-want) <= 0.0051 }

// TestManagedTiers checks the REST and HTTP API tier arithmetic of the worked
// example in docs/reports.md exactly, and the tier boundaries.
func TestManagedTiers(t *testing.T) {
	sh := loadSheet(t)
	cases := []struct {
		name     string
		kind     Managed
		requests float64
		want     float64
	}{
		{"rest 1B worked example", REST, 1e9, 1165.50 + 1867.60},
		{"rest first tier only", REST, 100e6, 350},
		{"rest at first boundary", REST, 333e6, 1165.50},
		{"rest one million past first boundary", REST, 334e6, 1165.50 + 2.80},
		{"rest 20B boundary", REST, 20e9, 1165.50 + 1867.60 + 19000*2.38},
		{"rest 25B beyond last boundary", REST, 25e9, 1165.50 + 1867.60 + 19000*2.38 + 5000*1.51},
		{"http 1B worked example", HTTP, 1e9, 930},
		{"http at boundary", HTTP, 300e6, 300},
		{"http 10M", HTTP, 10e6, 10},
		{"zero", HTTP, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := ManagedBill(sh, c.kind, Usage{Requests: c.requests, Logs: LogsNone})
			if got := b.Line(CRequests); !near(got, c.want) {
				t.Errorf("requests line = %.4f, want %.2f", got, c.want)
			}
		})
	}
	if got := ManagedBill(sh, REST, Usage{Requests: 1e9}).Line(CRequests); !near(got, 3033.10) {
		t.Errorf("REST 1B = %.4f, want 3033.10", got)
	}
}

func TestEgressTiers(t *testing.T) {
	sh := loadSheet(t)
	for _, c := range []struct{ gb, want float64 }{
		{4000, 351}, // research: (4,000 - 100 free) x $0.09
		{1000, 81},
		{100, 0},
		{50, 0},
		{100 + 10240 + 1000, 10240*0.09 + 1000*0.085},
	} {
		if got := sh.Network.InternetEgress.Cost(c.gb); !near(got, c.want) {
			t.Errorf("egress(%v GB) = %.4f, want %.2f", c.gb, got, c.want)
		}
	}
}

// TestWorkedExample reproduces the worked example in docs/reports.md: the shared
// line items and every variant's total excluding egress.
func TestWorkedExample(t *testing.T) {
	sh := loadSheet(t)
	want := map[string]struct{ ec2, redis, total float64 }{
		"S1":      {79.50, 8.41, 153.01},
		"S2":      {35.99, 8.41, 109.50},
		"S3":      {14.23, 8.41, 87.74},
		"S4":      {158.77, 37.38, 261.25},
		"S4-spot": {48.62, 37.38, 151.10},
		"S5":      {195.46, 37.38, 297.94},
		"S5'":     {186.15, 37.38, 288.63},
	}
	shared := map[string]float64{
		CNLBHours: 16.43, CNLBCapacity: 30.00, CPublicIPv4: 10.95, CEBS: 1.92, CCrossAZ: 4.00, CLogs: 1.81,
	}
	for _, v := range WorkedVariants() {
		key, _, _ := strings.Cut(v.Name, ":")
		w, ok := want[key]
		if !ok {
			t.Fatalf("variant %q not in the expectations", v.Name)
		}
		t.Run(key, func(t *testing.T) {
			b, err := FleetBill(sh, v.Name, FleetUsage(sh, 1e9, v.Fleet, v.Assumptions))
			if err != nil {
				t.Fatal(err)
			}
			for c, usd := range shared {
				if got := b.Line(c); !near(got, usd) {
					t.Errorf("%s = %.4f, want %.2f", c, got, usd)
				}
			}
			if got := b.Line(CCompute); !near(got, w.ec2) {
				t.Errorf("compute = %.4f, want %.2f", got, w.ec2)
			}
			if got := b.Line(CRedis); !near(got, w.redis) {
				t.Errorf("redis = %.4f, want %.2f", got, w.redis)
			}
			// The research rounds each line to the cent before adding.
			if got := b.Without(CEgress); math.Abs(got-w.total) > 0.02 {
				t.Errorf("total excl. egress = %.4f, want %.2f", got, w.total)
			}
			if got := b.Line(CEgress); !near(got, 351) {
				t.Errorf("egress = %.4f, want 351", got)
			}
			if got, want := b.PerBillion(), b.Total(); !near(got, want) {
				t.Errorf("per billion at 1B = %v, want the total %v", got, want)
			}
		})
	}
}

func TestCloudWatchLogsDelta(t *testing.T) {
	sh := loadSheet(t)
	a := DefaultAssumptions()
	fleet := []FleetNode{{"c7g.medium", OnDemand, 3}}
	s3, err := FleetBill(sh, "s3", FleetUsage(sh, 1e9, fleet, a))
	if err != nil {
		t.Fatal(err)
	}
	a.Logs = LogsCloudWatch
	cw, err := FleetBill(sh, "cw", FleetUsage(sh, 1e9, fleet, a))
	if err != nil {
		t.Fatal(err)
	}
	// research: 500 GB x $0.50 = $250 ingest, plus ~$1.50 compressed storage.
	if got := cw.Line(CLogs); !near(got, 250+1.5) {
		t.Errorf("cloudwatch logs = %.4f, want 251.50", got)
	}
	if d := cw.Total() - s3.Total(); d < 249 || d > 250 {
		t.Errorf("cloudwatch - s3 = %.2f, want about +$250", d)
	}
	// The managed bill carries the same CloudWatch line when asked.
	m := ManagedBill(sh, HTTP, FleetUsage(sh, 1e9, fleet, a))
	if got := m.Line(CLogs); !near(got, 251.5) {
		t.Errorf("managed cloudwatch logs = %.4f", got)
	}
}

func TestClaim(t *testing.T) {
	sh := loadSheet(t)
	c, err := CheckClaim(sh)
	if err != nil {
		t.Fatal(err)
	}
	// 3x c7g.medium spot 14.23 + NLB hours 16.43 + Valkey Serverless 8.41.
	if !near(c.Floor, 14.235+16.425+8.4111) {
		t.Errorf("floor = %.4f, want 39.07", c.Floor)
	}
	omitted := map[string]float64{}
	for _, l := range c.Omitted {
		omitted[l.Component] = l.USD
	}
	for comp, usd := range map[string]float64{CEgress: 351, CPublicIPv4: 10.95, CNLBCapacity: 30, CLogs: 1.81, CCrossAZ: 4, CEBS: 1.92} {
		if got := omitted[comp]; !near(got, usd) {
			t.Errorf("omitted %s = %.4f, want %.2f", comp, got, usd)
		}
	}
	if c.SpotFeedMin < 0.49 || c.SpotFeedMin > 0.51 || c.SpotFeedMax < 0.83 || c.SpotFeedMax > 0.85 {
		t.Errorf("spot feed discount %.3f..%.3f, want 0.50..0.84", c.SpotFeedMin, c.SpotFeedMax)
	}
	if c.SpotSavingS2 < 0.54 || c.SpotSavingS2 > 0.56 {
		t.Errorf("S2 vs S1 EC2 saving %.3f, want ~0.55", c.SpotSavingS2)
	}
}

func TestParseFleet(t *testing.T) {
	f, err := ParseFleet("c7g.medium:spot:3, c7g.medium:on-demand:1")
	if err != nil {
		t.Fatal(err)
	}
	if got := FormatFleet(f); got != "c7g.medium:spot:3,c7g.medium:on-demand:1" {
		t.Errorf("round trip = %q", got)
	}
	for _, bad := range []struct{ spec, want string }{
		{"", "must not be empty"},
		{"c7g.medium:spot", "TYPE:MARKET:COUNT"},
		{"c7g.medium:reserved:1", `fleet[0].market: must be spot or on-demand, got "reserved"`},
		{"c7g.medium:spot:0", `fleet[0].count`},
		{"c7g.medium:spot:1,:spot:2", `fleet[1].type`},
	} {
		_, err := ParseFleet(bad.spec)
		if err == nil || !errors.Is(err, ErrFleet) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseFleet(%q) = %v, want an ErrFleet naming %q", bad.spec, err, bad.want)
		}
	}
	sh := loadSheet(t)
	_, err = FleetBill(sh, "x", FleetUsage(sh, 1e6, []FleetNode{{"z9.huge", Spot, 1}}, DefaultAssumptions()))
	if err == nil || !strings.Contains(err.Error(), `"z9.huge"`) {
		t.Errorf("unknown type: %v", err)
	}
}

func TestParseCount(t *testing.T) {
	for in, want := range map[string]float64{"1e9": 1e9, "1B": 1e9, "250M": 250e6, "12k": 12000, "7": 7} {
		got, err := ParseCount(in)
		if err != nil || got != want {
			t.Errorf("ParseCount(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1e300", "NaN"} {
		if _, err := ParseCount(bad); err == nil {
			t.Errorf("ParseCount(%q) accepted", bad)
		}
	}
}

// TestSummaryUsage scales an hour-long run to a month.
func TestSummaryUsage(t *testing.T) {
	sh := loadSheet(t)
	s := &schema.Summary{
		DurationS: 3600,
		Requests:  schema.Requests{Total: 1_369_863},
		Fleet: schema.Fleet{
			Nodes:             []schema.NodeHours{{InstanceType: "c7g.medium", Market: "spot", Hours: 3}},
			LoadBalancerHours: 1,
			Requests:          1_369_863, // 1e9 / 730
		},
		RedisOpsPerRequest: 1,
	}
	u, err := SummaryUsage(sh, s, DefaultAssumptions())
	if err != nil {
		t.Fatal(err)
	}
	b, err := FleetBill(sh, "run", u)
	if err != nil {
		t.Fatal(err)
	}
	// An hour of the S3 fleet at a billion a month is S3's month.
	if math.Abs(u.Requests-1e9) > 1000 {
		t.Errorf("requests/month = %v", u.Requests)
	}
	if got := b.Without(CEgress); math.Abs(got-87.74) > 0.05 {
		t.Errorf("bill excl. egress = %.4f, want ~87.74 (S3)", got)
	}
	if len(u.Notes) == 0 {
		t.Errorf("assumed lines not noted")
	}
	s.DurationS = 0
	if _, err := SummaryUsage(sh, s, DefaultAssumptions()); err == nil || !strings.Contains(err.Error(), "duration_s") {
		t.Errorf("zero duration: %v", err)
	}
}

func TestSheetValidation(t *testing.T) {
	good, err := os.ReadFile("../prices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, from, to, want string }{
		{"negative price", "usd: 0.0363", "usd: -0.0363", `instances[0].on_demand.usd: must be in [0, 100000], got -0.0363`},
		{"missing source", `source: "AWS Database Blog (ElastiCache Serverless launch)"`, `source: ""`, `redis.serverless[1].ecpu_per_million.source: must not be empty`},
		{"bad date", "date: 2025-06-28", "date: 2025-13-28", `instances[0].advisor.date: must be YYYY, YYYY-MM or YYYY-MM-DD, got "2025-13-28"`},
		{"bad band", `interruption: "<5%", source`, `interruption: "sometimes", source`, `instances[0].advisor.interruption: must be one of`},
		{"unknown field", "hours_per_month: 730", "hours_per_month: 730\nhourz: 1", "field hourz not found"},
		{"bounded last tier", "- {usd: 1.51}", "- {next: 5, usd: 1.51}", "api_gateway.rest.tiers[3].next: must be omitted on the last tier"},
		{"spot above on-demand", "usd: 0.0065, unit", "usd: 0.07, unit", "instances[0].spot.usd: must not exceed on_demand.usd 0.0363, got 0.07"},
		{"confidence", "confidence: C}\n\nredis", "confidence: D}\n\nredis", `storage.ebs_gp3_gb_month.confidence: must be A, B or C, got "D"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(string(good), c.from, c.to, 1)
			if src == string(good) {
				t.Fatalf("replacement %q not found in the sheet", c.from)
			}
			_, err := Parse([]byte(src))
			if err == nil || !errors.Is(err, ErrSheet) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant an ErrSheet containing %q", err, c.want)
			}
		})
	}
	// All problems at once.
	src := strings.Replace(strings.Replace(string(good), "version: 1", "version: 2", 1), "currency: USD", "currency: EUR", 1)
	_, err = Parse([]byte(src))
	if err == nil || !strings.Contains(err.Error(), "version: must be 1") || !strings.Contains(err.Error(), `currency: must be USD, got "EUR"`) {
		t.Errorf("joined errors: %v", err)
	}
}

// TestSheetContents checks that the instance types are there with a
// band, and every price has a source and a date (Validate enforces it).
func TestSheetContents(t *testing.T) {
	sh := loadSheet(t)
	for _, typ := range []string{"c7g.medium", "c7g.large", "c6g.large", "t4g.small", "m7g.large", "c7i.large", "c6i.large"} {
		in, ok := sh.Instance(typ)
		if !ok {
			t.Errorf("instance %s missing", typ)
			continue
		}
		if in.Spot.USD <= 0 || in.Spot.USD >= in.OnDemand.USD || in.Advisor.Interruption == "" {
			t.Errorf("instance %s: %+v", typ, in)
		}
	}
	if _, ok := sh.RedisNode("cache.t4g.small"); !ok {
		t.Error("valkey cache.t4g.small missing")
	}
	if _, ok := sh.RedisNode("redis-oss:cache.t4g.small"); !ok {
		t.Error("redis-oss cache.t4g.small missing")
	}
	if _, ok := sh.RedisServerless("valkey"); !ok {
		t.Error("valkey serverless missing")
	}
}

func FuzzParse(f *testing.F) {
	good, err := os.ReadFile("../prices.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(""))
	f.Add([]byte("version: 1\n"))
	f.Add([]byte("api_gateway: {rest: {tiers: [{next: -1, usd: .nan}]}}"))
	f.Add([]byte(strings.Replace(string(good), "- {usd: 1.51}", "- {next: 1e308, usd: 1e308}", 1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		sh, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrSheet) {
				t.Fatalf("error does not wrap ErrSheet: %v", err)
			}
			return
		}
		// A valid sheet gives finite, non-negative, monotone bills.
		prev := 0.0
		for _, n := range []float64{0, 1e6, 333e6, 1e9, 3e10} {
			for _, tr := range []Tiered{sh.APIGateway.REST, sh.APIGateway.HTTP, sh.Network.InternetEgress} {
				c := tr.Cost(n)
				if c < 0 || math.IsNaN(c) || math.IsInf(c, 0) {
					t.Fatalf("cost(%v) = %v", n, c)
				}
			}
			c := sh.APIGateway.REST.Cost(n)
			if c < prev {
				t.Fatalf("REST bill not monotone: %v then %v", prev, c)
			}
			prev = c
		}
		in := sh.Instances[0]
		fb, err := FleetBill(sh, "f", FleetUsage(sh, 1e9, []FleetNode{{in.Type, Spot, 3}}, Assumptions{Logs: LogsS3, Zones: 3, LoadBalancers: 1}))
		if err != nil {
			t.Fatalf("fleet bill on a valid sheet: %v", err)
		}
		if tot := fb.Total(); tot < 0 || math.IsNaN(tot) || math.IsInf(tot, 0) {
			t.Fatalf("fleet total %v", tot)
		}
	})
}

func BenchmarkFleetBill(b *testing.B) {
	sh := loadSheet(b)
	v := WorkedVariants()[1]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FleetBill(sh, v.Name, FleetUsage(sh, 1e9, v.Fleet, v.Assumptions)); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseFleet(f *testing.F) {
	for _, s := range []string{"c7g.medium:spot:3", "c7g.medium:spot:3,c7g.medium:on-demand:1", "", ":::", "a:spot:-1", "a:spot:1,,", "x:on-demand:100001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		fl, err := ParseFleet(spec)
		if err != nil {
			if !errors.Is(err, ErrFleet) {
				t.Fatalf("error does not wrap ErrFleet: %v", err)
			}
			return
		}
		// Valid specs round-trip and have positive counts and a known market.
		again, err := ParseFleet(FormatFleet(fl))
		if err != nil || len(again) != len(fl) {
			t.Fatalf("round trip of %q: %v", spec, err)
		}
		for i, n := range fl {
			if n.Count < 1 || (n.Market != Spot && n.Market != OnDemand) || again[i] != n {
				t.Fatalf("fleet[%d] = %+v (again %+v)", i, n, again[i])
			}
		}
		if _, err := ParseCount(spec); err == nil && strings.Contains(spec, ":") {
			t.Fatalf("ParseCount accepted a fleet spec %q", spec)
		}
	})
}

func TestSpotRate(t *testing.T) {
	sh, err := LoadFile("../prices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// c7g.medium is in the <5% band: at most 5% of instances a month, so
	// -ln(0.95)/730 per instance-hour at the upper end, half that share mid.
	r, band, err := sh.SpotRate("c7g.medium", true)
	if err != nil || band != "<5%" || math.Abs(r-(-math.Log(0.95)/730)) > 1e-12 {
		t.Errorf("c7g.medium upper: %v %q %v", r, band, err)
	}
	r, _, _ = sh.SpotRate("c7g.medium", false)
	if math.Abs(r-(-math.Log(0.975)/730)) > 1e-12 {
		t.Errorf("c7g.medium mid: %v", r)
	}
	hi, band, _ := sh.SpotRate("c7i.large", true)
	if band != ">20%" || hi <= r {
		t.Errorf("c7i.large: %v %q", hi, band)
	}
	if _, _, err := sh.SpotRate("z9.huge", true); err == nil || !strings.Contains(err.Error(), "z9.huge") {
		t.Errorf("unknown type: %v", err)
	}
	// A sheet missing a band is refused, naming the band.
	b, _ := os.ReadFile("../prices.yaml")
	bad := strings.Replace(string(b), `    - {band: "10-15%", monthly_low: 0.10, monthly_high: 0.15, note: ""}`+"\n", "", 1)
	if _, err := Parse([]byte(bad)); err == nil || !strings.Contains(err.Error(), `must list band "10-15%"`) {
		t.Errorf("sheet without a band: %v", err)
	}
}
