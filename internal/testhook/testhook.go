// Package testhook holds the points where sie's tests, and the tests of
// packages built on it (the server), inject slowness or panics into an
// Engine: loading a model, building a graph, running a batch. Each is nil
// outside tests. Set them before the Engine starts and clear them after it
// has closed, so that its goroutines never read them while they change.
package testhook

var (
	// Load runs as a model starts loading.
	Load func(model string)
	// Build runs while a model's graph is being built (before compiling).
	Build func(model string)
	// Run runs before each batch of a model is executed.
	Run func(model string)
)
