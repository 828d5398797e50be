package engine

import "errors"

// Sentinel errors. Errors returned by this package and its stores wrap one of
// these; check with errors.Is.
var (
	// ErrInvalid marks bad parameters: a policy, a cost, an operation.
	ErrInvalid = errors.New("engine: invalid")
	// ErrUnknownAlgorithm marks an algorithm name the engine does not know.
	ErrUnknownAlgorithm = errors.New("engine: unknown algorithm")
	// ErrStoreUnavailable marks a store that could not be reached or answered
	// too late; the failure policy decides what happens to the request.
	ErrStoreUnavailable = errors.New("engine: store unavailable")
)
