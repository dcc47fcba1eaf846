package sqlite

import (
	"context"
	"fmt"

	"duebell/repo"
)

// GetLinkTarget reads the plan ref and installment seq (0 if none) of a
// notice, for a compact link token that carries only the notice id.
func (s *Store) GetLinkTarget(ctx context.Context, notificationID int64) (repo.LinkTarget, error) {
	var t repo.LinkTarget
	err := s.db.GetContext(ctx, &t, `
SELECT coalesce(p.ref, '') AS plan_ref, coalesce(i.seq, 0) AS seq
  FROM notifications n
  LEFT JOIN plans p ON p.id = n.plan_id
  LEFT JOIN installments i ON i.id = n.installment_id
 WHERE n.id = $1`, notificationID)
	if err != nil {
		return t, ingestNotFound(err, fmt.Sprintf("link target of notification %d", notificationID))
	}
	return t, nil
}
