//go:build mutation

package engine

// mutated is true in builds with the mutation tag: every acquire except a
// concurrency slot is charged 10% less than its cost. It exists only so that
// `make mutation-check` can prove the simulator's independent references and
// the SLO gate catch an engine that over-admits; never ship such a build.
const mutated = true
