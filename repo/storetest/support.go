package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/kinds"
	"duebell/repo"
)

// The support area: searching the delivery log, a notice's detail, single
// and bulk resends.
func init() {
	register("Support", func(t *testing.T, open Opener) {
		t.Run("SearchFilters", func(t *testing.T) { t.Parallel(); supportTestSearchFilters(t, open(t)) })
		t.Run("SearchPaginationStableUnderInserts", func(t *testing.T) { t.Parallel(); supportTestPagination(t, open(t)) })
		t.Run("NotificationDetail", func(t *testing.T) { t.Parallel(); supportTestDetail(t, open(t)) })
		t.Run("ResendQueuesACopyToTheContactOnFile", func(t *testing.T) { t.Parallel(); supportTestResendCopy(t, open(t)) })
		t.Run("ResendRefusals", func(t *testing.T) { t.Parallel(); supportTestResendRefusals(t, open(t)) })
		t.Run("ResendOnceWhileQueued", func(t *testing.T) { t.Parallel(); supportTestResendOnceWhileQueued(t, open(t)) })
		t.Run("ResendSettled", func(t *testing.T) { t.Parallel(); supportTestResendSettled(t, open(t)) })
		t.Run("ResendOfADigestWhoseFirstBillIsPaid", func(t *testing.T) { t.Parallel(); supportTestResendDigest(t, open(t)) })
		t.Run("ResendEventKindsByRegistry", func(t *testing.T) { t.Parallel(); supportTestResendEvents(t, open(t)) })
		t.Run("ResendIdempotencyKey", func(t *testing.T) { t.Parallel(); supportTestIdempotency(t, open(t)) })
		t.Run("BulkResendOutage", func(t *testing.T) { t.Parallel(); supportTestBulkOutage(t, open(t)) })
		t.Run("BulkResendMoreThanABatch", func(t *testing.T) { t.Parallel(); supportTestBulkBatches(t, open(t)) })
		t.Run("BulkResendInvalid", func(t *testing.T) { t.Parallel(); supportTestBulkInvalid(t, open(t)) })
	})
}

// supportDue is the first due date of the support fixtures: 3 days after
// Now (Shanghai), so a scan at Now queues due_soon, at Now+3d due_today and
// at Now+4d overdue.
var supportDue = repo.NewDate(2026, 11, 4)

// supportScan runs the due-date scan at at with the three reminder stages,
// each on channels.
func supportScan(t testing.TB, s Store, at time.Time, channels ...string) {
	t.Helper()
	stages := []repo.Stage{
		{Name: kinds.DueSoon, OffsetDays: -3, Kind: kinds.DueSoon, Channels: channels},
		{Name: kinds.DueToday, OffsetDays: 0, Kind: kinds.DueToday, Channels: channels},
		{Name: kinds.Overdue, OffsetDays: 1, Kind: kinds.Overdue, Channels: channels},
	}
	if _, err := s.QueueDueReminders(context.Background(), at, stages); err != nil {
		t.Fatalf("scan at %v: %v", at, err)
	}
}

// supportClaim claims every notice due at at (a long lease, so finishing
// later still holds it), in id order.
func supportClaim(t testing.TB, s Store, at time.Time) []repo.Claim {
	t.Helper()
	var all []repo.Claim
	for {
		claims, err := s.ClaimNotifications(context.Background(), "support-test", at, at, 30*24*time.Hour, 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, claims...)
		if len(claims) < 1000 {
			break
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return all
}

// supportFinish finishes claims at at with status (sent or failed) through
// provider, each with one attempt and the contact on file as recipient, as
// the dispatcher does.
func supportFinish(t testing.TB, s Store, at time.Time, provider, status string, claims ...repo.Claim) {
	t.Helper()
	var outs []repo.Outcome
	for _, c := range claims {
		to := c.Customer.Phone
		if c.Channel == "email" {
			to = c.Customer.Email
		}
		o := repo.Outcome{ID: c.ID, Status: status, Provider: provider, Recipient: to, Body: "您的账单即将到期",
			Attempt: &repo.Attempt{N: c.Attempts, Channel: c.Channel, Provider: provider, StartedAt: at, FinishedAt: at}}
		if status == repo.StatusSent {
			o.Attempt.Outcome, o.Attempt.ProviderMsgID, o.ProviderMsgID = repo.OutcomeSent, fmt.Sprint("msg-", c.ID), fmt.Sprint("msg-", c.ID)
			o.SentAt = &at
		} else {
			o.Reason, o.LastError = "permanent provider error", "503 upstream down"
			o.Attempt.Outcome, o.Attempt.Code, o.Attempt.Error = repo.OutcomePermanent, "503", "upstream down"
		}
		outs = append(outs, o)
	}
	if err := s.FinishNotifications(context.Background(), "support-test", at, outs); err != nil {
		t.Fatal(err)
	}
}

// supportDispatch claims and finishes every due notice at at.
func supportDispatch(t testing.TB, s Store, at time.Time, provider, status string) []repo.Claim {
	t.Helper()
	claims := supportClaim(t, s, at)
	supportFinish(t, s, at, provider, status, claims...)
	return claims
}

func supportSettle(t testing.TB, s Store, planRef string, seq int, at time.Time, confirm ...string) {
	t.Helper()
	if _, err := s.RecordPayment(context.Background(), repo.PaymentInput{PlanRef: planRef, Seq: seq, Amount: 50000,
		Now: at, PaidAt: at, ConfirmChannels: confirm}); err != nil {
		t.Fatal(err)
	}
}

func supportIDs(rows []repo.NoticeSummary) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

// supportAll lists every notice, newest first.
func supportAll(t testing.TB, s Store, f repo.NoticeFilter) []repo.NoticeSummary {
	t.Helper()
	var all []repo.NoticeSummary
	cursor := ""
	for {
		page, err := s.SearchNotifications(context.Background(), f, repo.MaxSearchLimit, cursor)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Notices...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
}

func supportAudits(t testing.TB, s Store) []repo.AuditEntry {
	t.Helper()
	audit, err := s.ListAudit(context.Background(), time.Time{}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return audit
}

func supportTestSearchFilters(t *testing.T, s Store) {
	ctx := context.Background()
	c1 := Customer(t, s, "c1")
	c2 := Customer(t, s, "c2", func(c *repo.Customer) { c.Phone = "+8613900001111" })
	p1 := Plan(t, s, "p1", "c1", []repo.Date{supportDue, repo.NewDate(2026, 12, 4)})
	Plan(t, s, "p2", "c2", []repo.Date{supportDue})
	// due_soon on both channels, sent; a day after the due date, overdue by SMS, failed.
	supportScan(t, s, Now, "sms", "email")
	sent := supportDispatch(t, s, Now.Add(time.Minute), "webhook", repo.StatusSent)
	later := Now.Add(4 * 24 * time.Hour)
	supportScan(t, s, later, "sms")
	failed := supportDispatch(t, s, later.Add(time.Minute), "aliyun", repo.StatusFailed)
	if len(sent) != 4 || len(failed) != 2 {
		t.Fatalf("fixtures: %d sent, %d failed; want 4 and 2", len(sent), len(failed))
	}
	// c2 changes phone: the old number still finds what was sent to it.
	c2.Phone = "+8613700002222"
	if _, err := s.UpsertCustomer(ctx, c2, later.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	type row struct {
		repo.Claim
		status  string
		created time.Time
	}
	var truth []row
	for _, c := range sent {
		truth = append(truth, row{c, repo.StatusSent, Now})
	}
	for _, c := range failed {
		truth = append(truth, row{c, repo.StatusFailed, later})
	}
	want := func(keep func(r row) bool) []int64 {
		out := []int64{}
		for _, r := range truth {
			if keep(r) {
				out = append(out, r.ID)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i] > out[j] })
		return out
	}
	for _, tt := range []struct {
		name string
		f    repo.NoticeFilter
		want []int64
	}{
		{"all, newest first", repo.NoticeFilter{}, want(func(row) bool { return true })},
		{"phone as typed", repo.NoticeFilter{Phone: "138 1234-5678"}, want(func(r row) bool { return r.CustomerID == c1.ID })},
		{"phone on file", repo.NoticeFilter{Phone: "+86 137 0000 2222"}, want(func(r row) bool { return r.CustomerID == c2.ID })},
		{"phone a notice went to", repo.NoticeFilter{Phone: "13900001111"},
			want(func(r row) bool { return r.CustomerID == c2.ID && r.Channel == "sms" })},
		{"email any case", repo.NoticeFilter{Email: " C1@Example.NET "}, want(func(r row) bool { return r.CustomerID == c1.ID })},
		{"customer", repo.NoticeFilter{CustomerRef: "c2"}, want(func(r row) bool { return r.CustomerID == c2.ID })},
		{"unknown customer", repo.NoticeFilter{CustomerRef: "nobody"}, []int64{}},
		{"plan", repo.NoticeFilter{PlanRef: "p1"}, want(func(r row) bool { return *r.PlanID == p1.ID })},
		{"kind", repo.NoticeFilter{Kind: "overdue"}, want(func(r row) bool { return r.Kind == "overdue" })},
		{"channel", repo.NoticeFilter{Channel: "email"}, want(func(r row) bool { return r.Channel == "email" })},
		{"status", repo.NoticeFilter{Status: "sent"}, want(func(r row) bool { return r.status == "sent" })},
		{"since", repo.NoticeFilter{Since: later}, want(func(r row) bool { return !r.created.Before(later) })},
		{"until", repo.NoticeFilter{Until: later}, want(func(r row) bool { return r.created.Before(later) })},
		{"since until, another zone", repo.NoticeFilter{Since: Now.In(time.FixedZone("CST", 8*3600)), Until: Now.Add(time.Second)},
			want(func(r row) bool { return r.created.Equal(Now) })},
		{"customer and channel", repo.NoticeFilter{CustomerRef: "c1", Channel: "sms", Status: "failed"},
			want(func(r row) bool { return r.CustomerID == c1.ID && r.Channel == "sms" && r.status == "failed" })},
	} {
		f := tt.f
		if err := f.Normalize(); err != nil {
			t.Fatalf("%s: normalize: %v", tt.name, err)
		}
		page, err := s.SearchNotifications(ctx, f, 0, "")
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := supportIDs(page.Notices); fmt.Sprint(got) != fmt.Sprint(tt.want) || page.NextCursor != "" {
			t.Errorf("%s: ids %v cursor %q, want %v and no cursor", tt.name, got, page.NextCursor, tt.want)
		}
	}

	// The row carries the references a support agent reads.
	page, err := s.SearchNotifications(ctx, repo.NoticeFilter{CustomerRef: "c2", Status: "sent", Channel: "sms"}, 0, "")
	if err != nil || len(page.Notices) != 1 {
		t.Fatalf("c2's sent SMS: %+v, %v", page, err)
	}
	if r := page.Notices[0]; r.CustomerRef != "c2" || r.PlanRef != "p2" || r.Seq != 1 || r.Recipient != "+8613900001111" ||
		r.Status != "sent" || r.Provider != "webhook" || r.Attempts != 1 || r.Kind != "due_soon" || r.Stage != "due_soon" ||
		!r.CreatedAt.Equal(Now) || !r.UpdatedAt.Equal(Now.Add(time.Minute)) || r.SentAt == nil ||
		!r.SentAt.Equal(Now.Add(time.Minute)) || r.ResendOf != nil {
		t.Errorf("row = %+v", r)
	}
	if _, err := s.SearchNotifications(ctx, repo.NoticeFilter{}, 10, "abc"); !errors.Is(err, repo.ErrInvalid) {
		t.Errorf("bad cursor: %v, want ErrInvalid", err)
	}
	if _, err := s.SearchNotifications(ctx, repo.NoticeFilter{}, 10, "-5"); !errors.Is(err, repo.ErrInvalid) {
		t.Errorf("negative cursor: %v, want ErrInvalid", err)
	}
}

// supportTestPagination pages through the log while new notices keep
// arriving: every notice that existed at the first page is seen exactly
// once, and none of the newer ones slip in, even one created "earlier".
func supportTestPagination(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	dues := make([]repo.Date, 11)
	for i := range dues {
		dues[i] = supportDue
	}
	Plan(t, s, "pp", "c1", dues)
	supportScan(t, s, Now, "sms")
	claims := supportDispatch(t, s, Now.Add(time.Minute), "aliyun", repo.StatusSent)
	var want []int64
	for _, c := range claims {
		want = append([]int64{c.ID}, want...)
	}
	if len(want) != 11 {
		t.Fatalf("fixtures: %d notices, want 11", len(want))
	}
	var got []int64
	cursor, pages := "", 0
	for {
		page, err := s.SearchNotifications(ctx, repo.NoticeFilter{PlanRef: "pp"}, 4, cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, supportIDs(page.Notices)...)
		for _, at := range []time.Time{Now.Add(-time.Duration(pages) * time.Hour), Now.Add(48 * time.Hour)} {
			if _, err := s.Resend(ctx, repo.ResendInput{ID: want[pages], Reason: "again", Actor: "ops", Force: true, Now: at}); err != nil {
				t.Fatal(err)
			}
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || pages != 3 {
		t.Errorf("paged ids %v in %d pages, want %v in 3", got, pages, want)
	}
	// A page of exactly the remaining rows says there is no next one.
	page, err := s.SearchNotifications(ctx, repo.NoticeFilter{PlanRef: "pp", Status: "sent"}, 11, "")
	if err != nil || len(page.Notices) != 11 || page.NextCursor != "" {
		t.Errorf("11 of 11 = %d rows, cursor %q, %v", len(page.Notices), page.NextCursor, err)
	}
	page, err = s.SearchNotifications(ctx, repo.NoticeFilter{PlanRef: "pp", Status: "sent"}, 10, "")
	if err != nil || len(page.Notices) != 10 || page.NextCursor != fmt.Sprint(want[9]) {
		t.Errorf("10 of 11 = %d rows, cursor %q, %v; want cursor %d", len(page.Notices), page.NextCursor, err, want[9])
	}
}

func supportTestDetail(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", []repo.Date{repo.NewDate(2026, 10, 4), supportDue})
	supportSettle(t, s, "p1", 1, Now) // only seq 2 is reminded
	supportScan(t, s, Now, "sms")
	claims := supportDispatch(t, s, Now.Add(time.Minute), "aliyun", repo.StatusFailed)
	if len(claims) != 1 {
		t.Fatalf("fixtures: %d notices, want 1", len(claims))
	}
	id := claims[0].ID
	var resends []int64
	for i := range 2 {
		// The second is forced: the first is still queued.
		res, err := s.Resend(ctx, repo.ResendInput{ID: id, Reason: "客户说没收到", Actor: fmt.Sprint("ops", i), Force: i == 1, Now: Now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		resends = append(resends, res.Notification.ID)
	}
	d, err := s.GetNotificationDetail(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != id || d.CustomerRef != "c1" || d.PlanRef != "p1" || d.Seq != 2 || d.Status != "failed" ||
		d.Recipient != "+8613812345678" || d.Body == "" || d.LastError != "503 upstream down" || d.Attempts != 1 ||
		!d.CreatedAt.Equal(Now) || !d.UpdatedAt.Equal(Now.Add(time.Minute)) || d.DedupKey == nil {
		t.Errorf("detail = %+v", d)
	}
	if len(d.DeliveryAttempts) != 1 || d.DeliveryAttempts[0].Outcome != "permanent" || d.DeliveryAttempts[0].Provider != "aliyun" ||
		d.DeliveryAttempts[0].Code != "503" || !d.DeliveryAttempts[0].StartedAt.Equal(Now.Add(time.Minute)) {
		t.Errorf("attempts = %+v", d.DeliveryAttempts)
	}
	if fmt.Sprint(supportIDs(d.ResentAs)) != fmt.Sprint(resends) || d.ResentAs[0].RequestedBy != "ops0" ||
		d.ResentAs[1].RequestedBy != "ops1" || *d.ResentAs[0].ResendOf != id {
		t.Errorf("resent as = %+v, want the resends %v oldest first", d.ResentAs, resends)
	}
	if len(d.Digest) != 0 {
		t.Errorf("digest = %+v, want none", d.Digest)
	}
	// A resend's own detail: no attempts yet, no resends.
	r, err := s.GetNotificationDetail(ctx, resends[0])
	if err != nil || r.ResendOf == nil || *r.ResendOf != id || r.DeliveryAttempts == nil || len(r.DeliveryAttempts) != 0 ||
		r.ResentAs == nil || len(r.ResentAs) != 0 || r.ResendReason != "客户说没收到" {
		t.Errorf("resend's detail = %+v, %v", r, err)
	}
	if _, err := s.GetNotificationDetail(ctx, 999999); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("unknown id: %v, want ErrNotFound", err)
	}
}

func supportTestResendCopy(t *testing.T, s Store) {
	ctx := context.Background()
	c1 := Customer(t, s, "c1")
	p1 := Plan(t, s, "p1", "c1", []repo.Date{supportDue})
	supportScan(t, s, Now, "sms")
	orig := supportDispatch(t, s, Now.Add(time.Minute), "aliyun", repo.StatusFailed)[0].ID
	at := Now.Add(time.Hour)

	res, err := s.Resend(ctx, repo.ResendInput{ID: orig, Reason: "客户来电说没收到", Actor: "alice", Now: at})
	if err != nil {
		t.Fatal(err)
	}
	n := res.Notification
	if res.Replayed || n.ID <= orig || n.ResendOf == nil || *n.ResendOf != orig || n.DedupKey != nil ||
		n.RequestedBy != "alice" || n.ResendReason != "客户来电说没收到" || n.Forced ||
		n.Status != "pending" || n.Channel != "sms" || n.Kind != "due_soon" || n.Stage != "due_soon" || n.StageOffset != nil ||
		n.InstallmentID == nil || *n.InstallmentID != p1.Installments[0].ID || n.CustomerID != c1.ID ||
		!n.NotBefore.Equal(at) || !n.NextAttemptAt.Equal(at) || !n.CreatedAt.Equal(at) || !n.UpdatedAt.Equal(at) ||
		n.Recipient != "" || n.Body != "" || n.Attempts != 0 || n.Provider != "" || n.LastError != "" {
		t.Errorf("resend = %+v", n)
	}
	if got, err := s.GetNotification(ctx, n.ID); err != nil || got.ResendReason != n.ResendReason || got.Status != "pending" {
		t.Errorf("stored resend = %+v, %v", got, err)
	}
	// The dispatcher picks it up and sends it to the phone on file.
	claims := supportClaim(t, s, at)
	if len(claims) != 1 || claims[0].ID != n.ID || claims[0].Customer.Phone != c1.Phone {
		t.Fatalf("claim after resend = %+v", claims)
	}

	audit := supportAudits(t, s)
	var detail map[string]any
	if len(audit) == 1 {
		_ = json.Unmarshal(audit[0].Detail, &detail)
	}
	if len(audit) != 1 || audit[0].Actor != "alice" || audit[0].Action != repo.ActionResend ||
		audit[0].Target != fmt.Sprint("notification:", orig) || !audit[0].At.Equal(at) ||
		detail["reason"] != "客户来电说没收到" || detail["resend_id"] != float64(n.ID) || detail["channel"] != "sms" ||
		detail["force"] != false || detail["idempotency_key"] != nil {
		t.Errorf("audit = %+v detail %v", audit, detail)
	}

	// Another channel may be chosen; the address is still the one on file.
	res, err = s.Resend(ctx, repo.ResendInput{ID: orig, Channel: "email", Reason: "改发邮件", Actor: "alice", Now: at})
	if err != nil || res.Notification.Channel != "email" || res.Notification.Recipient != "" {
		t.Errorf("resend by email = %+v, %v", res.Notification, err)
	}
	audit = supportAudits(t, s)
	detail = nil
	if len(audit) == 2 {
		_ = json.Unmarshal(audit[0].Detail, &detail)
	}
	if len(audit) != 2 || detail["channel"] != "email" || detail["resend_id"] != float64(res.Notification.ID) {
		t.Errorf("audit after the email resend = %+v", audit)
	}
}

// supportTestResendOnceWhileQueued: a second resend of a notice on a
// channel whose resend is still queued is refused (a retried request
// without an idempotency key queued copy after copy, each spending the
// customer's SMS cap), unless forced; another channel, or a resend after
// the queued one went out, is queued.
func supportTestResendOnceWhileQueued(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", []repo.Date{supportDue})
	supportScan(t, s, Now, "sms")
	orig := supportDispatch(t, s, Now.Add(time.Minute), "aliyun", repo.StatusFailed)[0].ID
	at := Now.Add(time.Hour)
	resend := func(channel string, force bool) (repo.ResendResult, error) {
		return s.Resend(ctx, repo.ResendInput{ID: orig, Channel: channel, Reason: "客户来电说没收到", Actor: "alice", Force: force, Now: at})
	}
	first, err := resend("", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resend("sms", false); !errors.Is(err, repo.ErrConflict) ||
		!strings.Contains(err.Error(), fmt.Sprintf("resend by sms queued (notification %d)", first.Notification.ID)) {
		t.Errorf("second resend while the first is queued: %v, want a conflict naming notice %d", err, first.Notification.ID)
	}
	// Claimed (sending) is still queued.
	claimed := supportClaim(t, s, at)
	if len(claimed) != 1 || claimed[0].ID != first.Notification.ID {
		t.Fatalf("claim = %+v", claimed)
	}
	if _, err := resend("", false); !errors.Is(err, repo.ErrConflict) {
		t.Errorf("resend while the first is sending: %v, want a conflict", err)
	}
	if _, err := resend("email", false); err != nil {
		t.Errorf("resend by email beside a queued SMS resend: %v", err)
	}
	forced, err := resend("sms", true)
	if err != nil || forced.Notification.ID == first.Notification.ID {
		t.Errorf("forced second resend = %+v, %v", forced.Notification, err)
	}
	if n := len(supportAll(t, s, repo.NoticeFilter{Status: "pending", Channel: "sms"})); n != 1 {
		t.Errorf("%d SMS resends pending, want the forced one", n)
	}
	if audits := supportAudits(t, s); len(audits) != 3 {
		t.Errorf("%d audit rows, want 3 (the refused resends write none)", len(audits))
	}
	// Once they went out, the borrower may ask again.
	supportFinish(t, s, at, "aliyun", repo.StatusSent, claimed...)
	supportDispatch(t, s, at, "aliyun", repo.StatusSent)
	if _, err := resend("sms", false); err != nil {
		t.Errorf("resend after the earlier ones were sent: %v", err)
	}
}

func supportTestResendRefusals(t *testing.T, s Store) {
	ctx := context.Background()
	c1 := Customer(t, s, "c1")
	Customer(t, s, "c3", func(c *repo.Customer) { c.Email = "" })
	Plan(t, s, "p1", "c1", []repo.Date{supportDue, repo.NewDate(2026, 11, 5)})
	Plan(t, s, "p3", "c3", []repo.Date{repo.NewDate(2026, 11, 5)})
	supportScan(t, s, Now, "sms") // p1 seq 1
	sent := supportDispatch(t, s, Now, "aliyun", repo.StatusSent)[0].ID
	supportScan(t, s, Now.Add(24*time.Hour), "sms") // p1 seq 2, p3
	queued := supportClaim(t, s, Now.Add(24*time.Hour))
	if len(queued) != 2 {
		t.Fatalf("fixtures: %d queued, want 2", len(queued))
	}
	sending := queued[0].ID // claimed, not finished: still queued
	if *queued[1].PlanID == *queued[0].PlanID {
		t.Fatalf("fixtures: %+v", queued)
	}
	var noEmail int64
	for _, c := range queued {
		if c.Customer.Ref == "c3" {
			noEmail = c.ID
		} else {
			sending = c.ID
		}
	}
	supportFinish(t, s, Now.Add(24*time.Hour), "aliyun", repo.StatusSent, queued[slices.IndexFunc(queued, func(c repo.Claim) bool { return c.ID == noEmail })])
	supportScan(t, s, Now.Add(48*time.Hour), "email") // p1 seq 1 overdue by email: pending
	pending := supportAll(t, s, repo.NoticeFilter{Status: "pending"})
	if len(pending) == 0 {
		t.Fatalf("fixtures: nothing pending")
	}
	in := func(id int64) repo.ResendInput {
		return repo.ResendInput{ID: id, Reason: "why", Actor: "ops", Now: Now.Add(72 * time.Hour)}
	}
	for _, tt := range []struct {
		name string
		mod  func(*repo.ResendInput)
		want error
		msg  string
	}{
		{"unknown id", func(i *repo.ResendInput) { i.ID = 424242 }, repo.ErrNotFound, "notification 424242"},
		{"no reason", func(i *repo.ResendInput) { i.Reason = "  " }, repo.ErrInvalid, "reason"},
		{"no actor", func(i *repo.ResendInput) { i.Actor = "" }, repo.ErrInvalid, "actor"},
		{"bad channel", func(i *repo.ResendInput) { i.Channel = "push" }, repo.ErrInvalid, "channel"},
		{"reason too long", func(i *repo.ResendInput) { i.Reason = strings.Repeat("长", 501) }, repo.ErrInvalid, "reason"},
		{"reason not UTF-8", func(i *repo.ResendInput) { i.Reason = "bad\xff" }, repo.ErrInvalid, "reason: is not valid UTF-8"},
		{"actor with NUL", func(i *repo.ResendInput) { i.Actor = "a\x00b" }, repo.ErrInvalid, "actor"},
		{"bad key", func(i *repo.ResendInput) { i.IdempotencyKey = "a b" }, repo.ErrInvalid, "idempotency"},
		{"key too long", func(i *repo.ResendInput) { i.IdempotencyKey = strings.Repeat("k", 201) }, repo.ErrInvalid, "idempotency"},
		{"still pending", func(i *repo.ResendInput) { i.ID = pending[0].ID }, repo.ErrConflict, "still queued (pending)"},
		{"still sending", func(i *repo.ResendInput) { i.ID = sending }, repo.ErrConflict, "still queued (sending)"},
		{"no email on file", func(i *repo.ResendInput) { i.ID, i.Channel = noEmail, "email" }, repo.ErrConflict, "no email on file"},
		{"no email on file, forced", func(i *repo.ResendInput) { i.ID, i.Channel, i.Force = noEmail, "email", true }, repo.ErrConflict, "no email"},
	} {
		i := in(sent)
		tt.mod(&i)
		_, err := s.Resend(ctx, i)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %v, want %v mentioning %q", tt.name, err, tt.want, tt.msg)
		}
	}

	// Opted out of email: refused even with force.
	c1.EmailOptOut = true
	if _, err := s.UpsertCustomer(ctx, c1, Now); err != nil {
		t.Fatal(err)
	}
	i := in(sent)
	i.Channel, i.Force = "email", true
	if _, err := s.Resend(ctx, i); !errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), "opted out of email") {
		t.Errorf("opted-out channel: %v", err)
	}
	for _, n := range supportAll(t, s, repo.NoticeFilter{}) {
		if n.ResendOf != nil {
			t.Errorf("refused requests queued %+v", n)
		}
	}
	if audit := supportAudits(t, s); len(audit) != 0 {
		t.Errorf("%d audit rows for refused requests", len(audit))
	}
	// Force lets a queued notice be sent again; the SMS is still reachable.
	i = in(sending)
	i.Force = true
	if res, err := s.Resend(ctx, i); err != nil || !res.Notification.Forced || res.Notification.Channel != "sms" {
		t.Errorf("forced resend of a queued notice: %+v, %v", res.Notification, err)
	}
}

// supportDigest stores customer ref with one plan per ref in plans, each
// with one bill due on supportDue, sends their due_soon SMS as one digest
// (led by the first plan's notice) with status at at, and returns the
// digest's notice.
func supportDigest(t *testing.T, s Store, at time.Time, status, ref string, plans ...string) int64 {
	t.Helper()
	Customer(t, s, ref)
	for _, p := range plans {
		Plan(t, s, p, ref, []repo.Date{supportDue})
	}
	stages := []repo.Stage{{Name: kinds.DueSoon, OffsetDays: -3, Kind: kinds.DueSoon, Channels: []string{"sms"},
		DigestChannels: []string{"sms"}}}
	if _, err := s.QueueDueReminders(context.Background(), Now, stages); err != nil {
		t.Fatal(err)
	}
	claims := supportClaim(t, s, Now)
	if len(claims) != 1 || !claims[0].LeadsDigest() || claims[0].Plan.Ref != plans[0] {
		t.Fatalf("claimed %+v, want %s's digest", claims, ref)
	}
	supportFinish(t, s, at, "aliyun", status, claims...)
	return claims[0].ID
}

// A resend of a digest whose first bill is paid tells of the others, as a
// fresh digest would: it is not refused for that bill, alone or in bulk.
// It is refused when none of the bills asks for payment any more, and even
// forced when nothing is left to pay on any (a reminder never asks for
// ¥0.00); forced, it goes for a bill still owed on a cancelled plan.
func supportTestResendDigest(t *testing.T, s Store) {
	ctx := context.Background()
	at := Now.Add(time.Hour)
	sent := supportDigest(t, s, at, repo.StatusSent, "c1", "d1", "d2", "d3")
	supportDigest(t, s, at, repo.StatusFailed, "c2", "e1", "e2")
	cancelled := supportDigest(t, s, at, repo.StatusSent, "c3", "f1", "f2")
	for _, p := range []string{"d1", "e1", "f1"} {
		supportSettle(t, s, p, 1, at)
	}
	f2, err := s.GetPlan(ctx, "f2")
	if err != nil {
		t.Fatal(err)
	}
	f2.Status = repo.PlanCancelled
	if _, err := s.UpsertPlan(ctx, f2, at); err != nil {
		t.Fatal(err)
	}
	in := func(id int64, force bool) repo.ResendInput {
		return repo.ResendInput{ID: id, Reason: "客户说没收到", Actor: "ops", Force: force, Now: at.Add(time.Hour)}
	}
	if res, err := s.Resend(ctx, in(sent, false)); err != nil || res.Notification.ResendOf == nil || *res.Notification.ResendOf != sent {
		t.Errorf("resend of a digest whose first bill is paid: %v; want it queued for the two unpaid", err)
	}
	bulk, err := s.ResendMatching(ctx, repo.BulkResendInput{Filter: repo.BulkFilter{Status: repo.StatusFailed, Channel: "sms",
		Since: at, Until: at.Add(time.Minute)}, Reason: "短信网关故障", Actor: "ops", Now: at.Add(time.Hour)})
	if err != nil || bulk.Count != 1 || len(bulk.Skipped) != 0 {
		t.Errorf("bulk resend of a failed digest whose first bill is paid: %+v, %v; want it resent", bulk, err)
	}
	if _, err := s.Resend(ctx, in(cancelled, false)); !errors.Is(err, repo.ErrConflict) ||
		!strings.Contains(err.Error(), repo.ReasonDigestSettled) {
		t.Errorf("resend of a digest of a paid bill and a cancelled plan's: %v, want refused: %s", err, repo.ReasonDigestSettled)
	}
	if _, err := s.Resend(ctx, in(cancelled, true)); err != nil {
		t.Errorf("forced resend of a digest with a bill still owed on a cancelled plan: %v, want it queued", err)
	}
	supportSettle(t, s, "d2", 1, at)
	supportSettle(t, s, "d3", 1, at)
	for _, force := range []bool{false, true} { // not told to force: force would not help
		if _, err := s.Resend(ctx, in(sent, force)); !errors.Is(err, repo.ErrConflict) ||
			!strings.Contains(err.Error(), repo.ReasonDigestNothingOwed+"; a reminder would ask for nothing owed") {
			t.Errorf("resend (force %t) of a digest of paid bills: %v, want refused: nothing is owed on it", force, err)
		}
	}
}

// supportTestResendSettled: a reminder whose plan is cancelled is refused
// unless forced; the forced resend is flagged so the dispatcher's re-check
// lets it through. A reminder whose installment is paid or waived is
// refused even forced, saying so (it would ask for ¥0.00 as owed), and
// nothing is queued or audited. A payment confirmation does not ask for
// payment (kinds registry) and goes again regardless, forced or not.
func supportTestResendSettled(t *testing.T, s Store) {
	ctx := context.Background()
	for _, c := range []string{"c1", "c2", "c3"} {
		Customer(t, s, c)
	}
	Plan(t, s, "p1", "c1", []repo.Date{supportDue})
	p2 := Plan(t, s, "p2", "c2", []repo.Date{supportDue})
	p3 := Plan(t, s, "p3", "c3", []repo.Date{supportDue})
	var reminders []int64
	var cancelled, waived int64
	for _, days := range []int{0, 3, 4} { // due_soon, due_today, overdue
		at := Now.Add(time.Duration(days) * 24 * time.Hour)
		supportScan(t, s, at, "sms")
		for _, c := range supportDispatch(t, s, at, "aliyun", repo.StatusSent) {
			switch {
			case *c.PlanID == p2.ID && c.Kind == kinds.Overdue:
				cancelled = c.ID
			case *c.PlanID == p3.ID && c.Kind == kinds.Overdue:
				waived = c.ID
			case *c.PlanID != p2.ID && *c.PlanID != p3.ID:
				reminders = append(reminders, c.ID)
			}
		}
	}
	at := Now.Add(5 * 24 * time.Hour)
	supportSettle(t, s, "p1", 1, at, "sms")
	confirm := supportDispatch(t, s, at, "aliyun", repo.StatusSent)
	if len(reminders) != 3 || cancelled == 0 || waived == 0 || len(confirm) != 1 || confirm[0].Kind != kinds.PaymentReceived {
		t.Fatalf("fixtures: reminders %v, cancelled %d, waived %d, confirmations %+v", reminders, cancelled, waived, confirm)
	}
	p2.Status = repo.PlanCancelled
	if _, err := s.UpsertPlan(ctx, p2, at); err != nil {
		t.Fatal(err)
	}
	p3.Installments[0].Status = repo.InstallmentWaived
	if _, err := s.UpsertPlan(ctx, p3, at); err != nil {
		t.Fatal(err)
	}
	in := func(id int64, force bool) repo.ResendInput {
		return repo.ResendInput{ID: id, Reason: "客户要求", Actor: "ops", Force: force, Now: at.Add(time.Hour)}
	}
	nothingOwed := map[int64]string{waived: "installment waived"}
	for _, id := range reminders {
		nothingOwed[id] = "installment paid"
	}
	for id, why := range nothingOwed {
		for _, force := range []bool{false, true} {
			_, err := s.Resend(ctx, in(id, force))
			if want := why + "; a reminder would ask for nothing owed"; !errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), want) {
				t.Errorf("resend (force %t) of reminder %d, %s: %v; want refused: %s", force, id, why, err, want)
			}
		}
	}
	if _, err := s.Resend(ctx, in(cancelled, false)); !errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), "plan cancelled") {
		t.Errorf("resend for cancelled plan: %v, want conflict", err)
	}
	for _, n := range supportAll(t, s, repo.NoticeFilter{}) {
		if n.ResendOf != nil {
			t.Errorf("refused resends queued %+v", n)
		}
	}
	if audit := supportAudits(t, s); len(audit) != 0 {
		t.Errorf("%d audit rows for refused resends", len(audit))
	}
	for _, force := range []bool{false, true} {
		if res, err := s.Resend(ctx, in(confirm[0].ID, force)); err != nil || res.Notification.Forced != force ||
			res.Notification.Kind != kinds.PaymentReceived {
			t.Errorf("resend (force %t) of a payment confirmation: %+v, %v", force, res.Notification, err)
		}
	}
	res, err := s.Resend(ctx, in(cancelled, true))
	if err != nil || !res.Notification.Forced || res.Notification.Status != "pending" {
		t.Fatalf("forced resend = %+v, %v", res.Notification, err)
	}
	claims := supportClaim(t, s, at.Add(time.Hour))
	var forced int
	for _, c := range claims {
		if c.Forced {
			forced++
		}
	}
	if len(claims) != 3 || forced != 2 {
		t.Errorf("claimed %d notices, %d forced; want the two confirmations (one forced) and the forced reminder", len(claims), forced)
	}
	audit := supportAudits(t, s)
	var detail map[string]any
	if len(audit) == 3 {
		_ = json.Unmarshal(audit[0].Detail, &detail)
	}
	if len(audit) != 3 || detail["force"] != true || detail["resend_id"] != float64(res.Notification.ID) {
		t.Errorf("audit = %+v, want three resends, the newest forced", audit)
	}
}

// supportTestResendEvents: the settled re-check follows the kinds registry.
// On a paid installment an autodebit_failed notice (asks for payment) is
// refused, even forced, a card_unbound notice (does not) goes again.
func supportTestResendEvents(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", []repo.Date{supportDue, repo.NewDate(2026, 12, 4)},
		func(p *repo.Plan) { p.RepayMethod, p.CardLast4 = "auto_debit", "6789" }) // so the unbind changes it
	for _, ev := range []repo.EventInput{
		{Ref: "ad-1", Kind: kinds.AutodebitFailed, Scope: repo.ScopePlan, PlanRef: "p1", InstallmentSeq: 1},
		{Ref: "cu-1", Kind: kinds.CardUnbound, Scope: repo.ScopePlan, PlanRef: "p1"},
	} {
		ev.OccurredAt, ev.Now, ev.Payload = Now, Now, repo.JSONObject(`{}`)
		if _, _, err := s.RecordEvent(ctx, ev); err != nil {
			t.Fatalf("event %s: %v", ev.Ref, err)
		}
	}
	if _, err := s.ProcessChannelEvents(ctx, Now, 100, []string{"sms"}); err != nil {
		t.Fatal(err)
	}
	claims := supportDispatch(t, s, Now.Add(time.Minute), "aliyun", repo.StatusFailed)
	byKind := map[string]int64{}
	for _, c := range claims {
		byKind[c.Kind] = c.ID
	}
	if len(byKind) != 2 || byKind[kinds.AutodebitFailed] == 0 || byKind[kinds.CardUnbound] == 0 {
		t.Fatalf("fixtures: %+v", byKind)
	}
	supportSettle(t, s, "p1", 1, Now.Add(time.Hour))
	supportSettle(t, s, "p1", 2, Now.Add(time.Hour))
	for kind, id := range byKind {
		_, err := s.Resend(ctx, repo.ResendInput{ID: id, Reason: "客户要求", Actor: "ops", Now: Now.Add(2 * time.Hour)})
		if slices.Contains(kinds.AsksPayment(), kind) {
			if !errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), "installment paid") {
				t.Errorf("%s (asks for payment) on a paid installment: %v, want conflict", kind, err)
			}
		} else if err != nil {
			t.Errorf("%s (does not ask for payment): %v, want it resent", kind, err)
		}
		// Forced: a notice that asks for payment would ask for ¥0.00.
		_, err = s.Resend(ctx, repo.ResendInput{ID: id, Reason: "客户要求", Actor: "ops", Force: true, Now: Now.Add(2 * time.Hour)})
		if slices.Contains(kinds.AsksPayment(), kind) {
			if !errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), "installment paid; a reminder would ask for nothing owed") {
				t.Errorf("%s (asks for payment) forced on a paid installment: %v, want conflict", kind, err)
			}
		} else if err != nil {
			t.Errorf("%s (does not ask for payment) forced: %v, want it resent", kind, err)
		}
	}
	// The bulk resend applies the same rule.
	res, err := s.ResendMatching(ctx, repo.BulkResendInput{Filter: repo.BulkFilter{Status: "failed", Since: Now, Until: Now.Add(time.Hour)},
		Reason: "outage", Actor: "ops", DryRun: true, Now: Now.Add(3 * time.Hour)})
	if err != nil || res.Matched != 2 || res.Skipped["installment paid"] != 1 || res.Skipped["already resent"] != 1 || res.Count != 0 {
		t.Errorf("bulk = %+v, %v; want autodebit_failed paid and card_unbound already resent", res, err)
	}
}

func supportTestIdempotency(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", []repo.Date{supportDue})
	supportScan(t, s, Now, "sms", "email")
	claims := supportDispatch(t, s, Now, "aliyun", repo.StatusFailed)
	if len(claims) != 2 {
		t.Fatalf("fixtures: %d notices", len(claims))
	}
	orig, other := claims[0].ID, claims[1].ID
	in := repo.ResendInput{ID: orig, Reason: "double click", Actor: "ops", IdempotencyKey: "k-1", Now: Now.Add(time.Hour)}

	// A double click: requests at once, one notice.
	var wg sync.WaitGroup
	results := make([]repo.ResendResult, 6)
	errs := make([]error, 6)
	for i := range results {
		wg.Go(func() { results[i], errs[i] = s.Resend(ctx, in) })
	}
	wg.Wait()
	replays := 0
	for i, res := range results {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if res.Notification.ID != results[0].Notification.ID || res.Notification.ResendOf == nil || *res.Notification.ResendOf != orig {
			t.Errorf("request %d got notice %+v, request 0 got %d", i, res.Notification, results[0].Notification.ID)
		}
		if res.Replayed {
			replays++
		}
	}
	if replays != len(results)-1 {
		t.Errorf("%d replays of %d requests, want all but one", replays, len(results))
	}
	d, err := s.GetNotificationDetail(ctx, orig)
	if err != nil || len(d.ResentAs) != 1 {
		t.Errorf("%d resends for one key (%v), want 1", len(d.ResentAs), err)
	}
	audit := supportAudits(t, s)
	var detail map[string]any
	if len(audit) == 1 {
		_ = json.Unmarshal(audit[0].Detail, &detail)
	}
	if len(audit) != 1 || detail["idempotency_key"] != "k-1" {
		t.Errorf("audit = %+v, want one row naming the key", audit)
	}
	// A replay returns the notice as it is now.
	supportDispatch(t, s, Now.Add(time.Hour), "aliyun", repo.StatusSent)
	if res, err := s.Resend(ctx, in); err != nil || !res.Replayed || res.Notification.Status != "sent" {
		t.Errorf("replay after sending = %+v, %v", res, err)
	}

	// The same key from another actor is another request.
	in2 := in
	in2.Actor = "bob"
	if res, err := s.Resend(ctx, in2); err != nil || res.Replayed || res.Notification.ID == results[0].Notification.ID {
		t.Errorf("bob with ops's key: %+v, %v", res, err)
	}
	// The same key for another notice is refused, not answered wrongly.
	in3 := in
	in3.ID = other
	if _, err := s.Resend(ctx, in3); !errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), "idempotency key") {
		t.Errorf("key reused for another notice: %v", err)
	}
	// Naming the notice's own channel is the same request as naming none
	// (the console always names one): a replay, not a conflict.
	own := in
	own.Channel = claims[0].Channel
	if res, err := s.Resend(ctx, own); err != nil || !res.Replayed || res.Notification.ID != results[0].Notification.ID {
		t.Errorf("the same request naming the notice's own channel %q: %+v, %v; want the replay", own.Channel, res, err)
	}
	// The same key with other parameters is another request: refused, and
	// nothing more is queued.
	before, err := s.GetNotificationDetail(ctx, orig)
	if err != nil {
		t.Fatal(err)
	}
	for _, edit := range []func(*repo.ResendInput){
		func(i *repo.ResendInput) {
			i.Channel = map[string]string{"sms": "email", "email": "sms"}[claims[0].Channel]
		},
		func(i *repo.ResendInput) { i.Force = true },
	} {
		in5 := in
		edit(&in5)
		if res, err := s.Resend(ctx, in5); !errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), "idempotency key") {
			t.Errorf("key reused with channel %q force %t: %+v, %v; want a conflict", in5.Channel, in5.Force, res, err)
		}
	}
	if d, err := s.GetNotificationDetail(ctx, orig); err != nil || len(d.ResentAs) != len(before.ResentAs) {
		t.Errorf("%d resends after the refused reuses (%v), want %d", len(d.ResentAs), err, len(before.ResentAs))
	}
	// A refused request does not use up its key.
	p1, err := s.GetPlan(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	p1.Status = repo.PlanCancelled
	if _, err := s.UpsertPlan(ctx, p1, Now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	in4 := in
	in4.IdempotencyKey = "k-2"
	if _, err := s.Resend(ctx, in4); !errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), "plan cancelled") {
		t.Fatalf("cancelled: %v", err)
	}
	in4.Force = true
	if res, err := s.Resend(ctx, in4); err != nil || res.Replayed || !res.Notification.Forced {
		t.Errorf("forced retry with the refused request's key: %+v, %v", res, err)
	}
}

// supportTestBulkOutage seeds a provider outage: SMS that failed at aliyun
// inside the window, around them SMS that failed before it, at another
// provider, email that failed in it, and SMS that went out. A dry run and
// the real run agree; settled installments, opted-out customers and an
// older notice about the same installment are skipped; one audit row
// records the action; a second run resends nothing.
func supportTestBulkOutage(t *testing.T, s Store) {
	ctx := context.Background()
	start := Now.Add(3 * 24 * time.Hour) // the due date, 08:00 in Shanghai
	end := start.Add(time.Hour)
	for _, ref := range []string{"c1", "c2", "early", "tc", "optout"} {
		Customer(t, s, ref)
		Plan(t, s, "p-"+ref, ref, []repo.Date{supportDue})
	}
	for i := range 12 {
		ref := fmt.Sprintf("o%02d", i)
		Customer(t, s, ref)
		Plan(t, s, "p-"+ref, ref, []repo.Date{supportDue, repo.NewDate(2026, 12, 4)})
	}
	// due_soon on both channels for everyone.
	supportScan(t, s, Now, "sms", "email")
	claims := supportClaim(t, s, Now)
	var want []int64
	var inWindow, early, tencent, sentEmail []repo.Claim
	for _, c := range claims {
		switch ref := c.Customer.Ref; {
		case c.Channel == "email" && ref == "c1":
			inWindow = append(inWindow, c) // failed in the window, but another channel
		case c.Channel == "email":
			sentEmail = append(sentEmail, c)
		case ref == "early":
			early = append(early, c)
		case ref == "tc":
			tencent = append(tencent, c)
		default:
			inWindow = append(inWindow, c)
			if len(ref) == 3 && ref[0] == 'o' { // o00 … o11
				want = append(want, c.ID)
			}
		}
	}
	supportFinish(t, s, Now.Add(time.Minute), "aliyun", repo.StatusSent, sentEmail...)
	supportFinish(t, s, start.Add(-time.Hour), "aliyun", repo.StatusFailed, early...)
	supportFinish(t, s, start.Add(10*time.Minute), "aliyun", repo.StatusFailed, inWindow...)
	supportFinish(t, s, start.Add(20*time.Minute), "tencent", repo.StatusFailed, tencent...)
	// On the due date, due_today by SMS: c1's fails in the window too (it
	// supersedes c1's due_soon SMS), the others go out.
	supportScan(t, s, start, "sms")
	for _, c := range supportClaim(t, s, start) {
		if c.Customer.Ref == "c1" {
			supportFinish(t, s, start.Add(30*time.Minute), "aliyun", repo.StatusFailed, c)
			want = append(want, c.ID)
		} else {
			supportFinish(t, s, start.Add(40*time.Minute), "aliyun", repo.StatusSent, c)
		}
	}
	// end exactly is outside the window.
	supportScan(t, s, start.Add(5*time.Minute), "email")
	if late := supportClaim(t, s, start.Add(5*time.Minute)); len(late) > 0 {
		supportFinish(t, s, end, "aliyun", repo.StatusFailed, late...)
	}
	// c2 has paid since; optout has opted out of SMS.
	supportSettle(t, s, "p-c2", 1, end)
	opt, err := s.GetCustomer(ctx, "optout")
	if err != nil {
		t.Fatal(err)
	}
	opt.SMSOptOut = true
	if _, err := s.UpsertCustomer(ctx, opt, end); err != nil {
		t.Fatal(err)
	}

	in := repo.BulkResendInput{
		Filter: repo.BulkFilter{Status: "failed", Channel: "sms", Provider: "aliyun", Since: start, Until: end},
		Reason: "阿里云短信故障 08:00-09:00", Actor: "ops", DryRun: true, Now: end.Add(time.Hour)}
	before := len(supportAll(t, s, repo.NoticeFilter{}))
	dry, err := s.ResendMatching(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	wantSkipped := map[string]int{"duplicate": 1, "installment paid": 1, "opted_out": 1}
	if !dry.DryRun || dry.Count != len(want) || dry.Matched != len(want)+3 || fmt.Sprint(dry.Skipped) != fmt.Sprint(wantSkipped) {
		t.Errorf("dry run = count %d matched %d skipped %v, want %d, %d, %v", dry.Count, dry.Matched, dry.Skipped,
			len(want), len(want)+3, wantSkipped)
	}
	sort.Slice(want, func(i, j int) bool { return want[i] > want[j] })
	if fmt.Sprint(supportIDs(dry.Sample)) != fmt.Sprint(want[:repo.BulkSampleSize]) {
		t.Errorf("sample = %v, want the newest ten %v", supportIDs(dry.Sample), want[:repo.BulkSampleSize])
	}
	if len(dry.Sample) > 0 && (dry.Sample[0].CustomerRef != "c1" || dry.Sample[0].Kind != kinds.DueToday || dry.Sample[0].Provider != "aliyun") {
		t.Errorf("sample[0] = %+v, want c1's due_today", dry.Sample[0])
	}
	if n := len(supportAll(t, s, repo.NoticeFilter{})); n != before {
		t.Errorf("dry run wrote %d notices", n-before)
	}
	if audit := supportAudits(t, s); len(audit) != 0 {
		t.Errorf("dry run wrote %d audit rows", len(audit))
	}

	in.DryRun = false
	real, err := s.ResendMatching(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if real.DryRun || real.Count != dry.Count || real.Matched != dry.Matched || fmt.Sprint(real.Skipped) != fmt.Sprint(dry.Skipped) ||
		fmt.Sprint(supportIDs(real.Sample)) != fmt.Sprint(supportIDs(dry.Sample)) {
		t.Errorf("real run = %+v, dry run said %+v", real, dry)
	}
	var resent []int64
	for _, n := range supportAll(t, s, repo.NoticeFilter{Status: "pending"}) {
		if n.ResendOf == nil || n.RequestedBy != "ops" || n.Channel != "sms" || !n.CreatedAt.Equal(in.Now) {
			t.Errorf("pending after the bulk resend: %+v", n)
			continue
		}
		resent = append(resent, *n.ResendOf)
		if got, err := s.GetNotification(ctx, n.ID); err != nil || got.DedupKey != nil || got.Forced ||
			got.ResendReason != in.Reason || !got.NextAttemptAt.Equal(in.Now) {
			t.Errorf("resend %d = %+v, %v", n.ID, got, err)
		}
	}
	sort.Slice(resent, func(i, j int) bool { return resent[i] > resent[j] })
	if fmt.Sprint(resent) != fmt.Sprint(want) {
		t.Errorf("resent originals %v, want %v", resent, want)
	}
	audit := supportAudits(t, s)
	var detail struct {
		Filter  map[string]any `json:"filter"`
		Reason  string         `json:"reason"`
		Matched int            `json:"matched"`
		Count   int            `json:"count"`
		Skipped map[string]int `json:"skipped"`
	}
	if len(audit) == 1 {
		_ = json.Unmarshal(audit[0].Detail, &detail)
	}
	if len(audit) != 1 || audit[0].Action != repo.ActionBulkResend || audit[0].Actor != "ops" || audit[0].Target != "notifications" ||
		!audit[0].At.Equal(in.Now) || detail.Count != len(want) || detail.Matched != len(want)+3 || detail.Reason != in.Reason ||
		detail.Filter["status"] != "failed" || detail.Filter["provider"] != "aliyun" || detail.Skipped["duplicate"] != 1 {
		t.Errorf("audit = %+v, detail %+v", audit, detail)
	}

	// Run again (a second click): everything is already resent.
	again, err := s.ResendMatching(ctx, in)
	if err != nil || again.Count != 0 || again.Skipped["already resent"] != len(want) || len(again.Sample) != 0 {
		t.Errorf("second run = %+v, %v; want nothing resent", again, err)
	}

	// The resends fail too, and the same bulk resend runs again over a
	// window that now holds them: they are the resends for this reason, not
	// new failures to resend (each run sent one copy more). Another reason
	// is a second try, and resends them.
	supportFinish(t, s, in.Now.Add(time.Minute), "aliyun", repo.StatusFailed, supportClaim(t, s, in.Now)...)
	later := in
	later.Filter.Until, later.Now = in.Now.Add(time.Hour), in.Now.Add(2*time.Hour)
	if rerun, err := s.ResendMatching(ctx, later); err != nil || rerun.Count != 0 {
		t.Errorf("the same bulk resend over its own resends = %+v, %v; want nothing resent", rerun, err)
	}
	later.Reason = "阿里云短信故障: second try"
	retry, err := s.ResendMatching(ctx, later)
	if err != nil || retry.Count != len(want) {
		t.Fatalf("a second try = %+v, %v; want the %d failed resends resent", retry, err, len(want))
	}
	for _, n := range supportAll(t, s, repo.NoticeFilter{Status: "pending"}) {
		if orig, err := s.GetNotification(ctx, *n.ResendOf); err != nil || orig.ResendReason != in.Reason {
			t.Errorf("second try resent %d (%+v, %v), want a resend of the first try", *n.ResendOf, orig, err)
		}
	}
}

// supportTestBulkBatches queues more resends in one action than the
// PostgreSQL store's batch.
func supportTestBulkBatches(t *testing.T, s Store) {
	ctx := context.Background()
	const n = 1100
	Customer(t, s, "c1")
	dues := make([]repo.Date, n)
	for i := range dues {
		dues[i] = supportDue
	}
	Plan(t, s, "big", "c1", dues)
	supportScan(t, s, Now, "sms")
	if got := len(supportDispatch(t, s, Now.Add(time.Minute), "aliyun", repo.StatusFailed)); got != n {
		t.Fatalf("fixtures: %d notices, want %d", got, n)
	}
	in := repo.BulkResendInput{Filter: repo.BulkFilter{Status: "failed", Since: Now, Until: Now.Add(time.Hour)},
		Reason: "outage", Actor: "ops", Now: Now.Add(time.Hour)}
	res, err := s.ResendMatching(ctx, in)
	if err != nil || res.Count != n || res.Matched != n || len(res.Sample) != repo.BulkSampleSize {
		t.Fatalf("bulk = count %d matched %d skipped %v, %v; want %d", res.Count, res.Matched, res.Skipped, err, n)
	}
	resends := supportAll(t, s, repo.NoticeFilter{Status: "pending"})
	originals := map[int64]bool{}
	for _, r := range resends {
		if r.ResendOf != nil {
			originals[*r.ResendOf] = true
		}
	}
	if len(resends) != n || len(originals) != n {
		t.Errorf("%d resends of %d originals, want %d", len(resends), len(originals), n)
	}
	if audit := supportAudits(t, s); len(audit) != 1 {
		t.Errorf("%d audit rows, want 1", len(audit))
	}
	in.DryRun = true
	if again, err := s.ResendMatching(ctx, in); err != nil || again.Skipped["already resent"] != n {
		t.Errorf("again = %+v, %v", again, err)
	}
}

func supportTestBulkInvalid(t *testing.T, s Store) {
	ctx := context.Background()
	Customer(t, s, "c1")
	Plan(t, s, "p1", "c1", []repo.Date{supportDue})
	supportScan(t, s, Now, "sms")
	supportDispatch(t, s, Now, "aliyun", repo.StatusFailed)
	ok := repo.BulkResendInput{Filter: repo.BulkFilter{Status: "failed", Since: Now, Until: Now.Add(time.Hour)},
		Reason: "outage", Actor: "ops", Now: Now.Add(time.Hour)}
	for name, mod := range map[string]func(*repo.BulkResendInput){
		"no status":      func(i *repo.BulkResendInput) { i.Filter.Status = "" },
		"pending":        func(i *repo.BulkResendInput) { i.Filter.Status = "pending" },
		"sending":        func(i *repo.BulkResendInput) { i.Filter.Status = "sending" },
		"unknown status": func(i *repo.BulkResendInput) { i.Filter.Status = "lost" },
		"bad channel":    func(i *repo.BulkResendInput) { i.Filter.Channel = "fax" },
		"no since":       func(i *repo.BulkResendInput) { i.Filter.Since = time.Time{} },
		"no until":       func(i *repo.BulkResendInput) { i.Filter.Until = time.Time{} },
		"empty window":   func(i *repo.BulkResendInput) { i.Filter.Until = i.Filter.Since },
		"no reason":      func(i *repo.BulkResendInput) { i.Reason = " " },
		"no actor":       func(i *repo.BulkResendInput) { i.Actor = "" },
	} {
		in := ok
		mod(&in)
		if _, err := s.ResendMatching(ctx, in); !errors.Is(err, repo.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if audit := supportAudits(t, s); len(audit) != 0 {
		t.Errorf("%d audit rows from refused bulk resends", len(audit))
	}
	if pending := supportAll(t, s, repo.NoticeFilter{Status: "pending"}); len(pending) != 0 {
		t.Errorf("refused bulk resends queued %d notices", len(pending))
	}
	// The window is on when the notice reached its status, not when it was created.
	in := ok
	in.Filter.Since, in.Filter.Until = Now.Add(-time.Hour), Now
	if res, err := s.ResendMatching(ctx, in); err != nil || res.Matched != 0 {
		t.Errorf("window before the failure: %+v, %v", res, err)
	}
}
