// Package deploy_test checks the deployment files in deploy/ against each
// other and against the code: the Kubernetes Indexed Job and the CI matrix
// that run `gwlab plan` in shards must agree on the shard count with their
// merge steps, and name a built-in spec.
package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"tollgate/plans"
)

func docs(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []map[string]any
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, m)
	}
}

// get walks a decoded YAML tree by keys and list indexes.
func get(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %v: not a map", path)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("at %v: not a list of %d", path, k+1)
			}
			v = l[k]
		}
	}
	return v
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func partials(n int, dir string) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s/partial-%d-of-%d.json", dir, i, n))
	}
	return out
}

func TestKubernetesIndexedJob(t *testing.T) {
	var job map[string]any
	for _, d := range docs(t, "k8s/plan-job.yaml") {
		if d["kind"] == "Job" {
			job = d
		}
	}
	if job == nil {
		t.Fatal("no Job in k8s/plan-job.yaml")
	}
	if m := get(t, job, "spec", "completionMode"); m != "Indexed" {
		t.Fatalf("completionMode %v, want Indexed", m)
	}
	n := get(t, job, "spec", "completions").(int)
	if p := get(t, job, "spec", "parallelism").(int); p != n {
		t.Errorf("parallelism %d, completions %d", p, n)
	}
	args := strs(get(t, job, "spec", "template", "spec", "containers", 0, "args"))
	i := slices.Index(args, "-shard")
	if args[0] != "plan" || i < 0 || args[i+1] != fmt.Sprintf("$(JOB_COMPLETION_INDEX)/%d", n) {
		t.Errorf("shard args %v, want plan -shard $(JOB_COMPLETION_INDEX)/%d", args, n)
	}
	out := args[slices.Index(args, "-out")+1]
	if !slices.Contains(plans.Names(), args[len(args)-1]) {
		t.Errorf("spec %q is not built in (%v)", args[len(args)-1], plans.Names())
	}
	merge := docs(t, "k8s/plan-merge-job.yaml")[0]
	margs := strs(get(t, merge, "spec", "template", "spec", "containers", 0, "args"))
	spec := args[len(args)-1]
	if margs[0] != "merge" || !slices.Equal(margs[1:4], []string{"-spec", spec, "-out"}) || !slices.Equal(margs[5:], partials(n, out)) {
		t.Errorf("merge args %v, want merge -spec %s -out DIR %v", margs, spec, partials(n, out))
	}
}

func TestCIMatrix(t *testing.T) {
	wf := docs(t, "ci/plan-matrix.yml")[0]
	shards := get(t, wf, "jobs", "shard", "strategy", "matrix", "shard").([]any)
	n := len(shards)
	for i, s := range shards {
		if s != i {
			t.Errorf("matrix shard[%d] = %v", i, s)
		}
	}
	var run string
	for _, st := range get(t, wf, "jobs", "shard", "steps").([]any) {
		if r, ok := st.(map[string]any)["run"]; ok {
			run = r.(string)
		}
	}
	if !strings.Contains(run, fmt.Sprintf("-shard ${{ matrix.shard }}/%d", n)) {
		t.Errorf("shard step %q does not run -shard ${{ matrix.shard }}/%d", run, n)
	}
	var merge string
	for _, st := range get(t, wf, "jobs", "merge", "steps").([]any) {
		if r, ok := st.(map[string]any)["run"]; ok {
			merge = r.(string)
		}
	}
	// the merge's -spec is the shards' spec argument, word for word
	spec := regexp.MustCompile(`-out \S+ (.+?)\s*$`).FindStringSubmatch(run)
	if len(spec) < 2 {
		t.Fatalf("shard step %q does not end with -out DIR SPEC", run)
	}
	if ok, _ := regexp.MatchString(fmt.Sprintf(`gwlab merge -spec %s -out \S+ \S+/partial-\*-of-%d\.json`, regexp.QuoteMeta(spec[1]), n), merge); !ok {
		t.Errorf("merge step %q does not merge partial-*-of-%d.json with -spec %s", merge, n, spec[1])
	}
	if need := get(t, wf, "jobs", "merge", "needs"); need != "shard" {
		t.Errorf("merge needs %v", need)
	}
}
