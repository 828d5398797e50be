//go:build !mutation

package engine

// mutated is false in every normal build (see mutation.go).
const mutated = false
