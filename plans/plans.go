// Package plans holds the built-in plan specs (plans/*.yaml, embedded in the
// binary) and loads them by name, or a spec file by path, through plan.Parse.
//
// Example:
//
//	spec, err := plans.Load("seed-claim")
package plans

import (
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"tollgate/plan"
)

//go:embed *.yaml
var files embed.FS

// ErrUnknown marks a name that is neither a built-in spec nor a file.
var ErrUnknown = errors.New("plans: unknown plan spec")

// Names returns the built-in spec names, sorted.
func Names() []string {
	ents, _ := files.ReadDir(".")
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Load returns a built-in spec by name, or reads a file when nameOrPath ends
// in .yaml/.yml or contains a path separator.
func Load(nameOrPath string) (*plan.Spec, error) {
	if strings.HasSuffix(nameOrPath, ".yaml") || strings.HasSuffix(nameOrPath, ".yml") || strings.ContainsRune(nameOrPath, os.PathSeparator) {
		b, err := os.ReadFile(nameOrPath)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnknown, err)
		}
		return plan.Parse(nameOrPath, b)
	}
	b, err := files.ReadFile(nameOrPath + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("%w: %q (built in: %s)", ErrUnknown, nameOrPath, strings.Join(Names(), ", "))
	}
	return plan.Parse(filepath.Join("plans", nameOrPath+".yaml"), b)
}
