package console_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"duebell/repo"
	"duebell/repo/storetest"
)

// TestNoticePageShowsTheDigest: support opening any bill's notice sees the
// digest that covers it, and the digest lists every bill it covers.
func TestNoticePageShowsTheDigest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	storetest.Plan(t, b.r, "p3", "c1", []repo.Date{repo.NewDate(2026, 11, 12)})
	stages := []repo.Stage{{Name: "due_soon_2", OffsetDays: -2, Kind: "due_soon", Channels: []string{"sms"},
		DigestChannels: []string{"sms"}}}
	if _, err := b.r.QueueDueReminders(context.Background(), t0, stages); err != nil {
		t.Fatal(err)
	}
	var ns []repo.Notification
	if err := b.r.DB().Select(&ns, `SELECT * FROM notifications WHERE stage = 'due_soon_2' ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if len(ns) != 2 || ns[0].DigestOf == nil || *ns[0].DigestOf != ns[0].ID || ns[1].DigestOf == nil || *ns[1].DigestOf != ns[0].ID {
		t.Fatalf("want p1's and p3's notices in one digest led by the first: %+v", ns)
	}
	leader, member := ns[0].ID, ns[1].ID
	w := b.browser(t)
	w.login(viewerToken)
	_, body, _ := w.getAs(fmt.Sprintf("/console/notifications/%d", member), "en")
	if !strings.Contains(body, fmt.Sprintf(`covered by <a href="/console/notifications/%d">`, leader)) {
		t.Errorf("the covered bill's notice does not link its digest:\n%s", body)
	}
	_, body, _ = w.getAs(fmt.Sprintf("/console/notifications/%d", leader), "en")
	for _, want := range []string{"this notice goes out for 2 bills", `id="digest"`, "p1 · period 1", "p3 · period 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("the digest's page lacks %q", want)
		}
	}
}
