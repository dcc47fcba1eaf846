package repo_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"duebell/repo"
	"duebell/repo/repotest"
)

var digestSMS = []repo.Stage{{Name: "due_soon", OffsetDays: -3, Kind: "due_soon", Channels: []string{"sms"},
	DigestChannels: []string{"sms"}}}

// digestOf maps each plan's notice to the plan whose notice leads its digest
// ("" when in none).
func digestOf(t *testing.T, r *repo.Repo) map[string]string {
	t.Helper()
	var rows []struct {
		Plan   string `db:"plan"`
		Leader string `db:"leader"`
	}
	if err := r.DB().Select(&rows, `SELECT p.ref AS plan, coalesce(lp.ref, '') AS leader
		FROM notifications n JOIN plans p ON p.id = n.plan_id
		LEFT JOIN notifications l ON l.id = n.digest_of LEFT JOIN plans lp ON lp.id = l.plan_id`); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r.Plan] = r.Leader
	}
	return out
}

// A bill added later the same day joins the customer's digest while it
// waits; re-scans add nothing twice; once a dispatcher has claimed the
// digest, a later bill goes in a notice of its own, never silently into
// a digest already on its way.
func TestDigestGrowsUntilClaimedAndCoversEachBillOnce(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	ctx := context.Background()
	repotest.Customer(t, r, "c1")
	repotest.Plan(t, r, "p1", "c1", due24)
	repotest.Plan(t, r, "p2", "c1", due24)
	scan := func(at time.Time) {
		t.Helper()
		if _, err := r.QueueDueReminders(ctx, at, digestSMS); err != nil {
			t.Fatal(err)
		}
	}
	scan(shanghai(2026, 11, 21, 8))
	scan(shanghai(2026, 11, 21, 8)) // the same scan again
	repotest.Plan(t, r, "p3", "c1", due24)
	scan(shanghai(2026, 11, 21, 9))
	want := map[string]string{"p1": "p1", "p2": "p1", "p3": "p1"}
	if got := digestOf(t, r); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("digests %v, want %v", got, want)
	}
	var n int
	if err := r.DB().Get(&n, `SELECT count(*) FROM notifications`); err != nil || n != 3 {
		t.Fatalf("%d notices (%v), want one per bill", n, err)
	}

	// A dispatcher claims the digest; a fourth bill comes later that day.
	claims, err := r.ClaimNotifications(ctx, "replica-a", shanghai(2026, 11, 21, 10), time.Minute, 10, 0)
	if err != nil || len(claims) != 1 || !claims[0].LeadsDigest() {
		t.Fatalf("claimed %d (%v), want only the digest", len(claims), err)
	}
	repotest.Plan(t, r, "p4", "c1", due24)
	scan(shanghai(2026, 11, 21, 11))
	if got := digestOf(t, r)["p4"]; got != "" {
		t.Errorf("p4's notice joined digest of %s after it was claimed", got)
	}
	items, err := r.DigestItems(ctx, claims[0].ID)
	if err != nil || len(items) != 3 {
		t.Errorf("the claimed digest lists %d bills (%v), want its 3", len(items), err)
	}
}

// Bills in different currencies are not added up: each currency gets its
// own digest.
func TestDigestKeepsOneCurrency(t *testing.T) {
	t.Parallel()
	r := repotest.New(t)
	repotest.Customer(t, r, "c1")
	repotest.Plan(t, r, "p1", "c1", due24)
	repotest.Plan(t, r, "p2", "c1", due24)
	repotest.Plan(t, r, "u1", "c1", due24, func(p *repo.Plan) { p.Currency = "USD" })
	if _, err := r.QueueDueReminders(context.Background(), shanghai(2026, 11, 21, 8), digestSMS); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"p1": "p1", "p2": "p1", "u1": ""}
	if got := digestOf(t, r); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("digests %v, want %v", got, want)
	}
}
