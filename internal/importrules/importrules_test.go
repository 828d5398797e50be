package importrules

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// module is the module's path.
const module = "tollgate"

// pkg is one package of the module as go list describes it.
type pkg struct {
	ImportPath string
	// Imports are the direct imports of the non-test files.
	Imports []string
	// Deps are every package the non-test files reach, transitively.
	Deps []string
	// TestImports and XTestImports are the direct imports of the test
	// files.
	TestImports  []string
	XTestImports []string
}

// under reports whether path is the module's package dir or below it.
func under(path, dir string) bool {
	p := module + "/" + dir
	return path == p || strings.HasPrefix(path, p+"/")
}

func ours(path string) bool { return path == module || strings.HasPrefix(path, module+"/") }

// rule is one intended arrow: for each package of the module it applies to,
// ok says whether the package may depend on another of ours.
type rule struct {
	name string
	// applies selects the importing packages.
	applies func(from string) bool
	// ok reports whether from may depend on to (both ours, from != to).
	ok func(from, to string) bool
	// transitive checks Deps as well as Imports; tests checks test imports.
	transitive, tests bool
}

var rules = []rule{
	{
		name:       "engine imports nothing of ours outside engine/",
		applies:    func(from string) bool { return under(from, "engine") },
		ok:         func(_, to string) bool { return under(to, "engine") },
		transitive: true,
	},
	{
		name:    "reports imports only tollgate/schema of ours, besides its own subpackages",
		applies: func(from string) bool { return under(from, "reports") },
		ok: func(_, to string) bool {
			return under(to, "reports") || under(to, "schema")
		},
		transitive: true, tests: true,
	},
	{
		name:       "schema imports nothing of ours",
		applies:    func(from string) bool { return under(from, "schema") },
		ok:         func(_, to string) bool { return under(to, "schema") },
		transitive: true,
	},
	{
		name:       "stats imports nothing of ours",
		applies:    func(from string) bool { return under(from, "stats") },
		ok:         func(_, to string) bool { return under(to, "stats") },
		transitive: true, tests: true,
	},
	{
		name:       "sim never imports gatewayd",
		applies:    func(from string) bool { return under(from, "sim") },
		ok:         func(_, to string) bool { return !under(to, "gatewayd") },
		transitive: true, tests: true,
	},
	{
		name:       "gatewayd never imports sim",
		applies:    func(from string) bool { return under(from, "gatewayd") },
		ok:         func(_, to string) bool { return !under(to, "sim") },
		transitive: true, tests: true,
	},
	{
		name:       "nothing imports testcontainers",
		applies:    func(from string) bool { return !under(from, "testcontainers") },
		ok:         func(_, to string) bool { return !under(to, "testcontainers") },
		transitive: true, tests: true,
	},
}

// violations returns every broken rule in pkgs, one line each, sorted.
func violations(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		if !ours(p.ImportPath) {
			continue
		}
		for _, r := range rules {
			if !r.applies(p.ImportPath) {
				continue
			}
			check := func(kind string, list []string) {
				for _, to := range list {
					if ours(to) && to != p.ImportPath && !r.ok(p.ImportPath, to) {
						out = append(out, fmt.Sprintf("%s: %s %s %s", r.name, p.ImportPath, kind, to))
					}
				}
			}
			check("imports", p.Imports)
			if r.transitive {
				check("depends on", p.Deps)
			}
			if r.tests {
				check("imports in its tests", p.TestImports)
				check("imports in its external tests", p.XTestImports)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// decode reads go list's stream of JSON objects, keeping the module's
// packages.
func decode(r io.Reader) ([]pkg, error) {
	dec := json.NewDecoder(r)
	var out []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		if ours(p.ImportPath) {
			out = append(out, p)
		}
	}
}

// TestImportRules checks the module's real import graph.
func TestImportRules(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-json", "./...")
	cmd.Dir = "../.."
	b, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	pkgs, err := decode(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// The rules must have something to bite on: each applies to some package,
	// and the graph holds the packages they name.
	have := map[string]bool{}
	for _, p := range pkgs {
		have[p.ImportPath] = true
	}
	for _, want := range []string{"engine", "engine/tier", "reports", "reports/slo", "schema", "sim", "gatewayd", "gatewayd/gateway", "testcontainers", "cmd/gwlab"} {
		if !have[module+"/"+want] {
			t.Errorf("go list lacks %s/%s: the rules would check nothing there", module, want)
		}
	}
	for _, r := range rules {
		n := 0
		for _, p := range pkgs {
			if r.applies(p.ImportPath) {
				n++
			}
		}
		if n == 0 {
			t.Errorf("rule %q applies to no package", r.name)
		}
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
	t.Logf("%d packages of %s checked against %d rules", len(pkgs), module, len(rules))
}

// TestViolationsCatchBrokenArrows makes sure the rules can fail: a
// fabricated graph with each forbidden arrow gives exactly those violations,
// and the allowed arrows give none.
func TestViolationsCatchBrokenArrows(t *testing.T) {
	tg := func(s ...string) []string {
		for i := range s {
			s[i] = module + "/" + s[i]
		}
		return s
	}
	good := []pkg{
		{ImportPath: module + "/engine"},
		{ImportPath: module + "/engine/tier", Imports: tg("engine"), Deps: append(tg("engine"), "fmt")},
		{ImportPath: module + "/engine/redisstore", Imports: tg("engine"), Deps: tg("engine"), TestImports: tg("internal/redistest")},
		{ImportPath: module + "/schema", Imports: []string{"encoding/json"}},
		{ImportPath: module + "/reports", Imports: tg("reports/cost", "schema"), Deps: tg("reports/cost", "schema")},
		{ImportPath: module + "/sim", Imports: tg("engine", "schema"), Deps: tg("engine", "schema"), XTestImports: tg("scenarios")},
		{ImportPath: module + "/gatewayd/gateway", Imports: tg("engine", "schema"), Deps: tg("engine", "schema")},
		{ImportPath: module + "/testcontainers", Imports: tg("sim", "gatewayd/config"), Deps: tg("sim", "gatewayd/config")},
		{ImportPath: module + "/cmd/gwlab", Imports: tg("sim", "reports", "gatewayd/config"), Deps: tg("sim", "reports", "gatewayd/config")},
		{ImportPath: "example.com/other", Imports: tg("testcontainers")},
	}
	if v := violations(good); len(v) > 0 {
		t.Errorf("allowed arrows reported: %q", v)
	}
	bad := []pkg{
		{ImportPath: module + "/engine/pricing", Imports: tg("schema"), Deps: tg("schema")},
		{ImportPath: module + "/engine", Deps: tg("gatewayd/config")},
		{ImportPath: module + "/reports/plot", Imports: tg("sim")},
		{ImportPath: module + "/reports", TestImports: tg("scenarios")},
		{ImportPath: module + "/schema", Imports: tg("engine")},
		{ImportPath: module + "/sim/dist", Deps: tg("gatewayd/ledger")},
		{ImportPath: module + "/gatewayd", XTestImports: tg("sim")},
		{ImportPath: module + "/scenarios", TestImports: tg("testcontainers")},
	}
	want := []string{
		"engine imports nothing of ours outside engine/: tollgate/engine depends on tollgate/gatewayd/config",
		"engine imports nothing of ours outside engine/: tollgate/engine/pricing depends on tollgate/schema",
		"engine imports nothing of ours outside engine/: tollgate/engine/pricing imports tollgate/schema",
		"gatewayd never imports sim: tollgate/gatewayd imports in its external tests tollgate/sim",
		"nothing imports testcontainers: tollgate/scenarios imports in its tests tollgate/testcontainers",
		"reports imports only tollgate/schema of ours, besides its own subpackages: tollgate/reports imports in its tests tollgate/scenarios",
		"reports imports only tollgate/schema of ours, besides its own subpackages: tollgate/reports/plot imports tollgate/sim",
		"schema imports nothing of ours: tollgate/schema imports tollgate/engine",
		"sim never imports gatewayd: tollgate/sim/dist depends on tollgate/gatewayd/ledger",
	}
	if got := violations(append(good, bad...)); !slices.Equal(got, want) {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
