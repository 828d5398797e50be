package citations

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// outside matches citations of files that are not in the repository: the
// research notes, the design and style notes kept beside it, and absolute
// paths into a developer's or the lab machine's file system.
// (The pattern and the cases below are spelled so that they do not cite
// such files themselves.)
var outside = regexp.MustCompile(`(?:^|[^\w./-])((?:\.\./)*researc[h]/[\w.-]+\.md|(?:DESIGN|STYLE)\.md|/(?:work|home|Users|root)/[\w./-]*)`)

// mdLink matches a Markdown link's target: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// finding is one citation of a file outside the repository.
type finding struct {
	file string
	line int
	cite string
}

func (f finding) String() string { return fmt.Sprintf("%s:%d: %s", f.file, f.line, f.cite) }

// check returns the citations in text (the contents of the tracked file
// name, relative to the root) of files outside the repository. exists
// reports whether a repository-relative path is in the repository.
func check(name string, text []byte, exists func(string) bool) []finding {
	var out []finding
	for i, line := range strings.Split(string(text), "\n") {
		for _, m := range outside.FindAllStringSubmatch(line, -1) {
			c := m[1]
			if !strings.HasPrefix(c, "/") && exists(path.Clean(c)) {
				continue // a file of that name was added to the repository
			}
			out = append(out, finding{name, i + 1, c})
		}
		if !strings.HasSuffix(name, ".md") || strings.Contains("/"+name, "/testdata/") {
			// Golden reports under testdata link to the figures a run
			// writes beside them; only their citations are checked.
			continue
		}
		for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			p := path.Join(path.Dir(name), target)
			if strings.HasPrefix(target, "/") || strings.HasPrefix(p, "../") || !exists(p) {
				out = append(out, finding{name, i + 1, m[1]})
			}
		}
	}
	return out
}

// moduleRoot is the directory holding go.mod, above this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// trackedFiles lists the repository's files: git's index when the tree is a
// git checkout, else every file under root except build outputs.
func trackedFiles(t *testing.T, root string) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = root
	if b, err := cmd.Output(); err == nil {
		var out []string
		for _, f := range bytes.Split(b, []byte{0}) {
			if len(f) > 0 {
				out = append(out, string(f))
			}
		}
		return out
	}
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") && d.Name() != ".ci" || rel == "out" || rel == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNoCitationOutsideRepository reads every tracked text file and fails on
// each citation of a file the repository does not hold.
func TestNoCitationOutsideRepository(t *testing.T) {
	root := moduleRoot(t)
	files := trackedFiles(t, root)
	if len(files) < 50 {
		t.Fatalf("only %d files found under %s", len(files), root)
	}
	set := map[string]bool{}
	for _, f := range files {
		set[f] = true
		for d := path.Dir(f); d != "."; d = path.Dir(d) {
			set[d] = true
		}
	}
	exists := func(p string) bool { return set[p] }
	var bad []finding
	read := 0
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the work tree, not yet in the index
			}
			t.Fatal(err)
		}
		if bytes.IndexByte(b[:min(len(b), 8000)], 0) >= 0 {
			continue // binary
		}
		read++
		bad = append(bad, check(f, b, exists)...)
	}
	for _, f := range bad {
		t.Errorf("cites a file outside the repository: %s", f)
	}
	t.Logf("%d text files checked", read)
}

// TestCheckFindsCitations makes sure the check can fail: each fabricated
// citation of an outside file is found, and in-repository files and public
// URLs are not.
func TestCheckFindsCitations(t *testing.T) {
	exists := func(p string) bool { return p == "docs/reports.md" || p == "docs" || p == "README.md" }
	// Outside files, spelled in pieces (see outside).
	research, design, abs := "research"+"/costs.md", "DESIGN"+".md", "/wo"+"rk/shared/"+"research"+"/costs.md"
	cases := []struct {
		name, file, text string
		want             []string
	}{
		{"research note", "reports/run.go", "// the worked example (" + research + " section 3)", []string{research}},
		{"design note", "gatewayd/config/defaults.go", "// alpha (" + design + ", pricing)", []string{design}},
		{"absolute path", "reports/prices.yaml", "# tags from " + abs + ":", []string{abs}},
		{"home directory", "README.md", "see /ho" + "me/alice/notes.txt", []string{"/ho" + "me/alice/notes.txt"}},
		{"relative research", "docs/sim.md", "as in ../" + research, []string{"../" + research}},
		{"dangling markdown link", "docs/sim.md", "see [the notes](notes.md#x) and [cost](reports.md)", []string{"notes.md#x"}},
		{"markdown link out of the tree", "README.md", "[x](../outside.md)", []string{"../outside.md"}},
		{"in-repo doc", "reports/run.go", "// the worked example in docs/reports.md", nil},
		{"public URL", "docs/reports.md", "[AWS](https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html)", nil},
		{"in-repo link", "README.md", "[reports](docs/reports.md#cost-model)", nil},
		{"golden report's figure", "reports/testdata/run_report.md", "![cdf](latency_cdf.png) " + research, []string{research}},
		{"not a path", "sim/doc.go", "// a " + "research" + "/costs estimate, /workers/ and x" + design + "x", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, f := range check(c.file, []byte("first line\n"+c.text+"\n"), exists) {
				if f.line != 2 {
					t.Errorf("line %d, want 2", f.line)
				}
				got = append(got, f.cite)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("check(%q) = %q, want %q", c.text, got, c.want)
			}
		})
	}
}
