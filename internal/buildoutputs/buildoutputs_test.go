package buildoutputs

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"testing"
)

// maxBytes bounds a tracked file: the largest source, golden image or
// baseline is far below it, a static Go binary far above.
const maxBytes = 2 << 20

// magics are the first bytes of executables and object files.
var magics = []struct {
	name  string
	magic []byte
}{
	{"an ELF executable or object", []byte("\x7fELF")},
	{"a Mach-O executable", []byte{0xcf, 0xfa, 0xed, 0xfe}},
	{"a Mach-O executable", []byte{0xce, 0xfa, 0xed, 0xfe}},
	{"a universal Mach-O executable", []byte{0xca, 0xfe, 0xba, 0xbe}},
	{"a PE (Windows) executable", []byte("MZ")},
	{"an archive (Go .a or ar)", []byte("!<arch>\n")},
}

// binaryNames are the names go build gives the module's commands.
var binaryNames = map[string]bool{"gwlab": true, "gatewayd": true, "demo-upstream": true, "gatewayd-bench": true}

// problem returns why the tracked file name, whose first bytes are head and
// whose size is size, is a build output, or "".
func problem(name string, head []byte, size int64) string {
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return "is " + m.name
		}
	}
	if binaryNames[path.Base(name)] {
		return "is named like a compiled command"
	}
	if size > maxBytes {
		return fmt.Sprintf("is %d bytes, over the %d a source file may have", size, maxBytes)
	}
	return ""
}

func TestNoBuildOutputsTracked(t *testing.T) {
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = filepath.Join("..", "..")
	b, err := cmd.Output()
	if err != nil {
		t.Skipf("not a git checkout (git ls-files: %v): nothing is tracked to check", err)
	}
	n := 0
	for _, f := range bytes.Split(b, []byte{0}) {
		if len(f) == 0 {
			continue
		}
		name := string(f)
		p := filepath.Join(cmd.Dir, filepath.FromSlash(name))
		st, err := os.Lstat(p)
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet in the index
		}
		if err != nil {
			t.Fatal(err)
		}
		if !st.Mode().IsRegular() {
			continue
		}
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 8)
		k, _ := fh.Read(head)
		fh.Close()
		if why := problem(name, head[:k], st.Size()); why != "" {
			t.Errorf("%s %s: build outputs are not committed (git rm --cached it; .gitignore should keep it out)", name, why)
		}
		n++
	}
	if n < 50 {
		t.Fatalf("only %d tracked files checked", n)
	}
}

// TestProblemCatchesBuildOutputs makes sure the check can fail.
func TestProblemCatchesBuildOutputs(t *testing.T) {
	cases := []struct {
		name string
		head []byte
		size int64
		bad  bool
	}{
		{"gwlab", []byte("\x7fELF\x02\x01\x01\x00"), 13 << 20, true},
		{"cmd/gwlab/gwlab", []byte("package "), 100, true},
		{"tools/x.exe", []byte("MZ\x90\x00"), 4096, true},
		{"bin/thing", []byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1}, 4096, true},
		{"reports/baseline/huge.json", []byte("{\n  \"ver"), 3 << 20, true},
		{"cmd/gwlab/main.go", []byte("// Comma"), 3000, false},
		{"reports/plot/testdata/cdf.png", []byte("\x89PNG\r\n\x1a\n"), 40 << 10, false},
		{"gatewayd/example.yaml", []byte("# gatewa"), 2000, false},
	}
	for _, c := range cases {
		if got := problem(c.name, c.head, c.size) != ""; got != c.bad {
			t.Errorf("problem(%s) flagged %v, want %v", c.name, got, c.bad)
		}
	}
}
