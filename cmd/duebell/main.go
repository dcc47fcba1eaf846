// Command duebell reminds installment borrowers to repay. See README.md.
package main

import (
	"context"
	"os"
	_ "time/tzdata" // time zones for customers, also on hosts without a zoneinfo database

	"duebell/cli"
	"duebell/internal/gctune"
)

func main() {
	gctune.Apply()
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
