package bench

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"duebell/api"
	"duebell/bench/importgen"
	"duebell/repo/repotest"
)

// importPlans is how many plans (each with its customer and 12
// installments) BenchmarkImport loads (DUEBELL_BENCH_PLANS, default 100,000).
func importPlans(tb testing.TB) int {
	if v := os.Getenv("DUEBELL_BENCH_PLANS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			tb.Fatalf("DUEBELL_BENCH_PLANS=%q", v)
		}
		return n
	}
	return 100_000
}

// importWorkers is how many chunks BenchmarkImport applies at once
// (DUEBELL_BENCH_IMPORT_WORKERS, default api.DefaultImportWorkers).
func importWorkers(tb testing.TB) int {
	if v := os.Getenv("DUEBELL_BENCH_IMPORT_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			tb.Fatalf("DUEBELL_BENCH_IMPORT_WORKERS=%q", v)
		}
		return n
	}
	return api.DefaultImportWorkers
}

// BenchmarkImport loads a generated nightly book (customer and plan lines,
// 12 installments per plan, the past ones paid) into an empty schema with
// the importer behind POST /api/v1/import and `duebell import`, then loads
// the same file again, which must change nothing. Reports the first load's
// seconds and plans/s, the re-run's seconds and the Go heap in use after
// the load (it does not grow with the file: the importer streams).
func BenchmarkImport(b *testing.B) {
	n, workers := importPlans(b), importWorkers(b)
	path := filepath.Join(b.TempDir(), "book.ndjson")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := importgen.Write(f, importgen.Options{Plans: n, Installments: 12}); err != nil {
		b.Fatal(err)
	}
	f.Close()
	ctx := context.Background()
	load := func(im *api.Importer) (api.ImportReport, time.Duration) {
		b.Helper()
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		start := time.Now()
		rep, err := im.Import(ctx, f, api.ImportOptions{Workers: workers})
		if err != nil {
			b.Fatal(err)
		}
		return rep, time.Since(start)
	}
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := repotest.New(b)
		// The importer's connections, and no others, so the PostgreSQL
		// backends' CPU time can be read: with other work on the machine,
		// CPU seconds say more than wall time.
		backends := pinConns(b, r.DB().DB, workers)
		im, err := api.NewImporter(api.Config{Repo: r})
		if err != nil {
			b.Fatal(err)
		}
		pg0, go0 := procCPU(b, backends), selfCPU()
		b.StartTimer()
		rep, d := load(im)
		b.StopTimer()
		b.ReportMetric((procCPU(b, backends) - pg0).Seconds(), "pg-cpu-s")
		b.ReportMetric((selfCPU() - go0).Seconds(), "go-cpu-s")
		elapsed += d
		if rep.Created != 2*n || rep.Refused != 0 {
			b.Fatalf("first load: %+v", rep.ImportCounts)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse), "heap-inuse-bytes")
		pg0, go0 = procCPU(b, backends), selfCPU()
		again, d := load(im)
		b.ReportMetric((procCPU(b, backends) - pg0).Seconds(), "rerun-pg-cpu-s")
		b.ReportMetric((selfCPU() - go0).Seconds(), "rerun-go-cpu-s")
		if again.Unchanged != 2*n || again.Created+again.Updated+again.Refused != 0 {
			b.Fatalf("second load changed something: %+v", again.ImportCounts)
		}
		b.ReportMetric(d.Seconds(), "rerun-s")
	}
	b.ReportMetric(elapsed.Seconds()/float64(b.N), "load-s")
	b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "plans/s")
	b.ReportMetric(float64(n), "plans")
}

// pinConns limits db to n connections, opens them and returns their
// backends' process ids: the pool keeps and reuses exactly these.
func pinConns(tb testing.TB, db *sql.DB, n int) []int {
	tb.Helper()
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	ctx := context.Background()
	pids := make([]int, n)
	for i := range pids {
		c, err := db.Conn(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		defer c.Close()
		if err := c.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pids[i]); err != nil {
			tb.Fatal(err)
		}
	}
	return pids
}

// procCPU is the CPU time (user + system) processes pids have used, from
// /proc (PostgreSQL runs on this host in development and CI).
func procCPU(tb testing.TB, pids []int) time.Duration {
	var sum time.Duration
	for _, pid := range pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			tb.Logf("backend CPU: %v", err)
			return 0
		}
		// Fields after the ")" that ends the command name: utime and stime are
		// the 12th and 13th.
		f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		sum += time.Duration(utime+stime) * time.Second / 100 // USER_HZ
	}
	return sum
}

// selfCPU is this process's CPU time (user + system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
