// Package scenarios holds the simulator's scenario files (scenarios/*.yaml,
// embedded in the binary) and loads them: strict decoding (unknown fields are
// errors), defaults in one place (sim.Config.Defaults), then validation that
// reports every problem at once with the file, the field path and the value.
//
// Example:
//
//	sc, err := scenarios.Load("spot-loss")
//	if err != nil { ... }
//	if err := sc.Set("engine.clock", "client"); err != nil { ... }
//	sum, err := scenarios.Run(sc, scenarios.RunOptions{})
package scenarios

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"tollgate/schema"
	"tollgate/sim"
)

//go:embed *.yaml
var files embed.FS

// Sentinel errors.
var (
	// ErrUnknown marks a name that is neither a built-in scenario nor a file.
	ErrUnknown = errors.New("scenarios: unknown scenario")
	// ErrInvalid marks a scenario that failed decoding or validation.
	ErrInvalid = errors.New("scenarios: invalid scenario")
	// ErrPath marks a bad -set path or value.
	ErrPath = errors.New("scenarios: bad override")
)

// Scenario is a loaded scenario.
type Scenario struct {
	// Name is the scenario's name (the file's name field).
	Name string
	// File is where it came from ("scenarios/<name>.yaml" for built-ins).
	File string
	// Config is the decoded, defaulted configuration.
	Config sim.Config
}

// Names returns the built-in scenario names, sorted.
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

// Describe returns a built-in scenario's description, or "".
func Describe(name string) string {
	sc, err := Load(name)
	if err != nil {
		return ""
	}
	return sc.Config.Description
}

// Load returns a built-in scenario by name, or reads a file when nameOrPath
// ends in .yaml/.yml or contains a path separator. The result is defaulted
// and validated.
func Load(nameOrPath string) (*Scenario, error) {
	var data []byte
	var file string
	if strings.HasSuffix(nameOrPath, ".yaml") || strings.HasSuffix(nameOrPath, ".yml") || strings.ContainsRune(nameOrPath, os.PathSeparator) {
		b, err := os.ReadFile(nameOrPath)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnknown, err)
		}
		data, file = b, nameOrPath
	} else {
		b, err := files.ReadFile(nameOrPath + ".yaml")
		if err != nil {
			return nil, fmt.Errorf("%w: %q (built in: %s)", ErrUnknown, nameOrPath, strings.Join(Names(), ", "))
		}
		data, file = b, filepath.Join("scenarios", nameOrPath+".yaml")
	}
	return Parse(file, data)
}

// Parse decodes a scenario from data (file names it in errors), applies the
// defaults and validates it.
func Parse(file string, data []byte) (*Scenario, error) {
	var cfg sim.Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s: empty file", ErrInvalid, file)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s: more than one YAML document", ErrInvalid, file)
	}
	cfg.Defaults()
	sc := &Scenario{Name: cfg.Name, File: file, Config: cfg}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	return sc, nil
}

// Validate checks the configuration, naming the file in every problem.
func (sc *Scenario) Validate() error {
	if err := sc.Config.Validate(); err != nil {
		var ve *sim.ValidationError
		if errors.As(err, &ve) {
			lines := make([]string, len(ve.Problems))
			for i, p := range ve.Problems {
				lines[i] = sc.File + ": " + p
			}
			return fmt.Errorf("%w:\n%s", ErrInvalid, strings.Join(lines, "\n"))
		}
		return fmt.Errorf("%w: %s: %v", ErrInvalid, sc.File, err)
	}
	return nil
}

// Set overrides one field by its YAML path: dot-separated field names, list
// elements by index or by name ("tiers[0].rate", "tiers.0.rate",
// "tiers.free.rate", "traffic.groups.hot.zipf"). The value is YAML
// ("client", "3", "250ms", "[a, b]"). The scenario is re-defaulted and
// re-validated, and the error names the path and value. To change fields
// that are only valid together, use SetAll.
func (sc *Scenario) Set(path, value string) error {
	if err := sc.override(path, value); err != nil {
		return err
	}
	sc.Config.Defaults()
	return sc.Validate()
}

// SetAll applies every "path=value" override in order (see Set for paths
// and values), then re-defaults and validates the scenario once, so fields
// that are only valid together (traffic.source=trace and traffic.trace) can
// be set in any order. A malformed override or an unknown path is an error
// naming it; on error the scenario may hold some of the overrides.
func (sc *Scenario) SetAll(overrides []string) error {
	for _, kv := range overrides {
		path, value, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("%w: %q: want path=value", ErrPath, kv)
		}
		if err := sc.override(strings.TrimSpace(path), value); err != nil {
			return err
		}
	}
	sc.Config.Defaults()
	return sc.Validate()
}

// override sets one field by its YAML path without defaulting or
// validating.
func (sc *Scenario) override(path, value string) error {
	v := reflect.ValueOf(&sc.Config).Elem()
	segs, err := splitPath(path)
	if err != nil {
		return err
	}
	for i, seg := range segs {
		v, err = step(v, seg)
		if err != nil {
			return fmt.Errorf("%w: %s: at %q: %v", ErrPath, path, strings.Join(segs[:i+1], "."), err)
		}
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
	}
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(value), &node); err != nil {
		return fmt.Errorf("%w: %s=%s: %v", ErrPath, path, value, err)
	}
	if len(node.Content) == 0 {
		return fmt.Errorf("%w: %s=%s: empty value", ErrPath, path, value)
	}
	fresh := reflect.New(v.Type())
	if err := node.Content[0].Decode(fresh.Interface()); err != nil {
		return fmt.Errorf("%w: %s=%s: %v", ErrPath, path, value, err)
	}
	v.Set(fresh.Elem())
	if segs[0] == "name" {
		sc.Name = sc.Config.Name
	}
	return nil
}

func splitPath(path string) ([]string, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty path", ErrPath)
	}
	path = strings.ReplaceAll(path, "[", ".")
	path = strings.ReplaceAll(path, "]", "")
	segs := strings.Split(path, ".")
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("%w: %q: empty path segment", ErrPath, path)
		}
	}
	return segs, nil
}

// step descends one path segment from v.
func step(v reflect.Value, seg string) (reflect.Value, error) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		if f, ok := fieldByTag(v, seg); ok {
			return f, nil
		}
		return v, fmt.Errorf("no field %q (fields: %s)", seg, strings.Join(fieldTags(v.Type()), ", "))
	case reflect.Slice:
		if i, err := strconv.Atoi(seg); err == nil {
			if i < 0 || i >= v.Len() {
				return v, fmt.Errorf("index %d out of range (length %d)", i, v.Len())
			}
			return v.Index(i), nil
		}
		for i := 0; i < v.Len(); i++ {
			e := v.Index(i)
			if e.Kind() == reflect.Struct {
				if f := e.FieldByName("Name"); f.IsValid() && f.Kind() == reflect.String && f.String() == seg {
					return e, nil
				}
			}
		}
		return v, fmt.Errorf("no element named %q", seg)
	}
	return v, fmt.Errorf("%s is not a struct or list", v.Type())
}

// fieldByTag finds the field of struct v whose yaml tag is seg, looking
// inside inlined structs (the policy vocabulary's types embedded in sim's).
func fieldByTag(v reflect.Value, seg string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag, opts, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag == "" && opts == "inline" && v.Field(i).Kind() == reflect.Struct {
			if f, ok := fieldByTag(v.Field(i), seg); ok {
				return f, true
			}
			continue
		}
		if tag == seg {
			return v.Field(i), true
		}
	}
	return v, false
}

// fieldTags lists a struct type's yaml field names, inlined structs'
// included.
func fieldTags(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		tag, opts, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag == "" && opts == "inline" && t.Field(i).Type.Kind() == reflect.Struct {
			names = append(names, fieldTags(t.Field(i).Type)...)
			continue
		}
		if tag != "" && tag != "-" {
			names = append(names, tag)
		}
	}
	return names
}

// RunOptions tune a run without changing its result.
type RunOptions struct {
	// Seed overrides the scenario's seed when non-zero.
	Seed uint64
	// Algorithm overrides engine.algorithm when set.
	Algorithm string
	// Progress receives the fraction of virtual time simulated.
	Progress func(done float64)
}

// Run simulates the scenario and returns its summary.
func Run(sc *Scenario, opts RunOptions) (*schema.Summary, error) {
	cfg := *sc.Config.Clone()
	if opts.Seed != 0 {
		cfg.Seed = opts.Seed
	}
	if opts.Algorithm != "" {
		cfg.Engine.Algorithm = opts.Algorithm
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, sc.File, err)
	}
	return sim.Run(&cfg, sim.Options{Progress: opts.Progress})
}
