// Package importrules holds a test, and nothing else: it reads the module's
// import graph from `go list -deps -json ./...` and fails on every arrow the
// design forbids. engine imports nothing of ours outside engine/; reports and
// its subpackages import only the file schemas (tollgate/schema) of ours
// besides each other; schema and stats (the interval statistics) import
// nothing of ours; sim and gatewayd never import each other, directly or
// through another package; nothing outside testcontainers/ imports it. Test files count for every rule but engine's
// and schema's (their tests may use internal/ helpers). The engine's own test
// further limits it to the standard library and the YAML library.
package importrules
