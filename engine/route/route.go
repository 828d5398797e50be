// Package route matches request paths to routes by the longest path prefix.
package route

import (
	"path"
	"sort"
	"strings"
)

// Table maps path prefixes to values. It is immutable after New and safe for
// concurrent use.
type Table[T any] struct {
	prefixes []string
	vals     []T
}

// New returns a table; prefixes must be unique (config validation ensures it).
func New[T any](prefixes []string, vals []T) *Table[T] {
	idx := make([]int, len(prefixes))
	for i := range idx {
		idx[i] = i
	}
	// Longest prefix first, so the first match is the most specific.
	sort.SliceStable(idx, func(a, b int) bool { return len(prefixes[idx[a]]) > len(prefixes[idx[b]]) })
	t := &Table[T]{}
	for _, i := range idx {
		t.prefixes = append(t.prefixes, prefixes[i])
		t.vals = append(t.vals, vals[i])
	}
	return t
}

// Match returns the value of the longest prefix of p.
func (t *Table[T]) Match(p string) (T, bool) {
	for i, pre := range t.prefixes {
		if strings.HasPrefix(p, pre) {
			return t.vals[i], true
		}
	}
	var zero T
	return zero, false
}

// Clean returns the canonical form of a request path: absolute, with "." and
// ".." resolved and duplicate slashes removed, keeping a trailing slash. The
// gateway matches and proxies the cleaned path, so "/v1/../admin" cannot slip
// past the route table.
func Clean(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}
