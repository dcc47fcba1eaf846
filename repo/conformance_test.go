package repo_test

import (
	"testing"

	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/repo/storetest"
)

var _ storetest.Store = (*repo.Repo)(nil)

// TestConformance runs the conformance suite against PostgreSQL.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t testing.TB) storetest.Store { return repotest.New(t) })
}
