// Package gctune sets the garbage collector the way the daemon runs it.
//
// duebell's live heap is small (tens of MB while dispatching) but it
// allocates fast: every notice renders a message, signs a link and talks
// HTTP or SMTP. At Go's default GOGC=100 the collector then runs several
// times a second and took ≈11 % of the CPU in BenchmarkDispatch; at 400 the
// same run dispatched ≈25 % more SMS a second for ≈30 MB more resident
// memory. A soft memory limit keeps that trade from growing with the heap:
// near it the collector works harder again.
package gctune

import (
	"os"
	"runtime/debug"
)

// Defaults the daemon runs with unless GOGC or GOMEMLIMIT are set.
const (
	Percent     = 400
	MemoryLimit = 512 << 20 // bytes
)

// Apply sets Percent and MemoryLimit, each unless the operator chose its
// own through the environment (GOGC, GOMEMLIMIT).
func Apply() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(Percent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
	}
}
