package sim

import (
	"reflect"
	"testing"
)

// fill sets every exported field reachable from v to a non-zero value:
// slices and maps get one element, pointers a target.
func fill(v reflect.Value, depth int) {
	if depth > 12 {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth+1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), depth+1)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, depth+1)
		fill(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(3)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(3)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	}
}

// shared lists the paths where a and b (of the same type) share a slice's
// backing array, a map or a pointer's target.
func shared(a, b reflect.Value, path string) []string {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return nil
		}
		if a.Pointer() == b.Pointer() {
			return []string{path}
		}
		return shared(a.Elem(), b.Elem(), "(*"+path+")")
	case reflect.Slice:
		if a.Len() == 0 || b.Len() == 0 {
			return nil
		}
		if a.Pointer() == b.Pointer() {
			return []string{path}
		}
		var out []string
		for i := 0; i < min(a.Len(), b.Len()); i++ {
			out = append(out, shared(a.Index(i), b.Index(i), path+"[i]")...)
		}
		return out
	case reflect.Map:
		if a.IsNil() || b.IsNil() {
			return nil
		}
		if a.Pointer() == b.Pointer() {
			return []string{path}
		}
		var out []string
		iter := a.MapRange()
		for iter.Next() {
			if bv := b.MapIndex(iter.Key()); bv.IsValid() {
				out = append(out, shared(iter.Value(), bv, path+"[k]")...)
			}
		}
		return out
	case reflect.Struct:
		var out []string
		for i := 0; i < a.NumField(); i++ {
			if a.Type().Field(i).IsExported() {
				out = append(out, shared(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name)...)
			}
		}
		return out
	}
	return nil
}

// TestCloneSharesNothing fills every field of a Config, clones it, and
// checks the clone is equal and shares no slice, map or pointer with the
// original, so a change to any nested field of one leaves the other alone.
func TestCloneSharesNothing(t *testing.T) {
	var c Config
	fill(reflect.ValueOf(&c).Elem(), 0)
	cl := c.Clone()
	if !reflect.DeepEqual(&c, cl) {
		t.Fatal("the clone differs from the original")
	}
	if s := shared(reflect.ValueOf(c), reflect.ValueOf(*cl), "Config"); len(s) > 0 {
		t.Errorf("the clone shares with the original: %v", s)
	}
	// The check can fail: a plain copy of the struct shares its slices.
	shallow := c
	if s := shared(reflect.ValueOf(c), reflect.ValueOf(shallow), "Config"); len(s) == 0 {
		t.Error("a shallow copy was not caught sharing")
	}
	// A nested change in the clone leaves the original alone.
	cl.Tiers[0].Name = "changed"
	cl.Traffic.Groups[0].Name = "changed"
	if c.Tiers[0].Name == "changed" || c.Traffic.Groups[0].Name == "changed" {
		t.Error("a change to the clone reached the original")
	}
}
