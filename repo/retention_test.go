package repo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
)

func TestRetentionRunsOnOneReplicaAtATime(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	repotest.HoldLock(t, r, "retention") // another replica's cleaner
	if _, err := r.PurgeFinished(context.Background(), time.Now(), 10); !errors.Is(err, repo.ErrBusy) {
		t.Errorf("with another replica cleaning: %v, want ErrBusy", err)
	}
}
