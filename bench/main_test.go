package bench

import (
	"os"
	"testing"

	"duebell/internal/gctune"
)

// TestMain runs the benchmarks with the collector set as the daemon sets it
// (cmd/duebell): the figures are the daemon's.
func TestMain(m *testing.M) {
	gctune.Apply()
	os.Exit(m.Run())
}
