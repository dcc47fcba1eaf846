package sqlite

import (
	"context"

	"duebell/repo"
)

// Not yet ported (repo/import.go).
func (s *Store) BeginImport(ctx context.Context, confirmChannels []string) (repo.ImportTx, error) {
	panic("sqlite: not ported: BeginImport")
}
