// Command pgcheck exits 0 when the PostgreSQL at the URL given as its
// argument answers within a few seconds, and says why not otherwise:
// `make test` runs it first, so a machine without PostgreSQL gets one clear
// line instead of a failure per test.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"

	_ "github.com/lib/pq"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: pgcheck POSTGRES_URL")
		os.Exit(2)
	}
	db, err := sql.Open("postgres", os.Args[1])
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
		db.Close()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "PostgreSQL not reachable: %v\n", err)
		os.Exit(1)
	}
}
