package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"duebell/api"
	"duebell/notify"
	"duebell/repo"
	"duebell/repo/repotest"
	"duebell/repo/sqlite"

	"github.com/jmoiron/sqlx"
)

// t0 is the fake clock's time: 2025-03-10 10:00 in Shanghai.
var t0 = time.Date(2025, 3, 10, 2, 0, 0, 0, time.UTC)

const (
	ingestToken   = "ingest-secret-0123456789"
	viewerToken   = "viewer-secret-0123456789"
	operatorToken = "operator-secret-012345678"
	maxBody       = 64 << 10
)

type bundle struct {
	r    testStore
	h    http.Handler
	logs *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testStore is the store behind the API under test, as the tests read it back.
type testStore interface {
	api.Store
	notify.Store
	DB() *sqlx.DB
	GetNotification(ctx context.Context, id int64) (repo.Notification, error)
	ListReceipts(ctx context.Context, notificationID int64) ([]repo.Receipt, error)
	QueueDueReminders(ctx context.Context, now time.Time, stages []repo.Stage) (repo.ScanResult, error)
}

// newTestStore is an empty, migrated store: "postgres" (a schema of its
// own) or "sqlite" (a file of its own).
func newTestStore(t *testing.T, store string) testStore {
	t.Helper()
	if store == "postgres" {
		return repotest.New(t)
	}
	s, err := sqlite.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "duebell.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func setup(t *testing.T, mod func(*api.Config)) bundle { return setupOn(t, "postgres", mod) }

// setupOn is setup on store ("postgres" or "sqlite").
func setupOn(t *testing.T, store string, mod func(*api.Config)) bundle {
	t.Helper()
	return setupWith(t, newTestStore(t, store), mod)
}

// setupWith is setup on the store st.
func setupWith(t *testing.T, st testStore, mod func(*api.Config)) bundle {
	t.Helper()
	b := bundle{r: st, logs: &lockedBuffer{}}
	cfg := api.Config{
		Tokens: []api.Token{
			{Name: "lender", Token: ingestToken, Role: api.RoleIngest},
			{Name: "support", Token: viewerToken, Role: api.RoleViewer},
			{Name: "ops", Token: operatorToken, Role: api.RoleOperator},
		},
		Repo:                   b.r,
		Logger:                 slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:                    func() time.Time { return t0 },
		PaymentConfirmChannels: []string{"sms", "email"},
		MaxBodyBytes:           maxBody,
	}
	if mod != nil {
		mod(&cfg)
	}
	h, err := api.New(cfg)
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	b.h = h
	return b
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (b bundle) do(t *testing.T, method, path, token, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	res := response{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q, want JSON (body %q)", method, path, ct, res.raw)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res.body); err != nil {
		t.Errorf("%s %s: body is not a JSON object: %q", method, path, res.raw)
	}
	return res
}

// mustDo is do that fails the test unless the status is want.
func (b bundle) mustDo(t *testing.T, want int, method, path, token, body string) map[string]any {
	t.Helper()
	res := b.do(t, method, path, token, body)
	if res.status != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, res.status, res.raw, want)
	}
	return res.body
}

// errorOf returns the error code and message of a response.
func (r response) errorOf() (code, message string) {
	e, _ := r.body["error"].(map[string]any)
	code, _ = e["code"].(string)
	message, _ = e["message"].(string)
	return code, message
}

var countedTables = []string{"customers", "plans", "installments", "payments", "notifications", "audit_log"}

// snapshot is every row of the ingestion tables, as text, so a test can tell
// that a refused request changed nothing at all.
func (b bundle) snapshot(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, table := range countedTables {
		out[table] = b.rowsOf(t, table)
	}
	return out
}

// rowsOf is every row of table, each as text, in a stable order; it reads
// the same way on either store.
func (b bundle) rowsOf(t *testing.T, table string) []string {
	t.Helper()
	rows, err := b.r.DB().QueryxContext(context.Background(), `SELECT * FROM `+table)
	if err != nil {
		t.Fatalf("rows of %s: %v", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		cols, err := rows.SliceScan()
		if err != nil {
			t.Fatalf("rows of %s: %v", table, err)
		}
		for i, c := range cols {
			if b, ok := c.([]byte); ok {
				cols[i] = string(b)
			}
		}
		out = append(out, fmt.Sprint(cols...))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("rows of %s: %v", table, err)
	}
	slices.Sort(out)
	return out
}

func (b bundle) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := b.r.DB().GetContext(context.Background(), &n, `SELECT count(*) FROM `+table); err != nil {
		t.Fatal(err)
	}
	return n
}

const customerJSON = `{"name":"李雷","phone":"+86 138-1234-5678","email":"Li.Lei@Example.com","sms_opt_out":false}`

func planJSON(customerRef string, periods int) string {
	var inst []string
	for i := 1; i <= periods; i++ {
		inst = append(inst, `{"seq":`+itoa(i)+`,"due_date":"2025-0`+itoa(3+i)+`-15","amount":10000}`)
	}
	return `{"customer_ref":"` + customerRef + `","merchant":"Shop","title":"Phone","total":` + itoa(periods*10000) +
		`,"periods":` + itoa(periods) + `,"installments":[` + strings.Join(inst, ",") + `]}`
}

func itoa(i int) string { return strconv.Itoa(i) }

// seed creates customers c1, c2 and plan p1 (three installments) for c1.
func (b bundle) seed(t *testing.T) {
	t.Helper()
	b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/customers/c1", ingestToken, customerJSON)
	b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/customers/c2", ingestToken, `{"email":"han@example.com"}`)
	b.mustDo(t, http.StatusCreated, "PUT", "/api/v1/plans/p1", ingestToken, planJSON("c1", 3))
}

func newRecorder(b bundle, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	return rec
}
