package repo

import (
	"context"
	"fmt"
)

// LinkTarget is what a compact repayment link stands for: the plan and
// installment of its notice.
type LinkTarget struct {
	PlanRef string `db:"plan_ref"`
	Seq     int    `db:"seq"`
}

// GetLinkTarget reads the plan ref and installment seq (0 if none) of a
// notice, for a compact link token that carries only the notice id.
func (q Common) GetLinkTarget(ctx context.Context, notificationID int64) (LinkTarget, error) {
	var t LinkTarget
	err := q.db.GetContext(ctx, &t, `
SELECT coalesce(p.ref, '') AS plan_ref, coalesce(i.seq, 0) AS seq
  FROM notifications n
  LEFT JOIN plans p ON p.id = n.plan_id
  LEFT JOIN installments i ON i.id = n.installment_id
 WHERE n.id = $1`, notificationID)
	if err != nil {
		return t, NotFound(err, fmt.Sprintf("link target of notification %d", notificationID))
	}
	return t, nil
}
