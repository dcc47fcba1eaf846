// Command gen-import writes a nightly-sync NDJSON book for `duebell import`:
//
//	go run ./bench/gen-import -plans 100000 -installments 12 > book.ndjson
package main

import (
	"flag"
	"fmt"
	"os"

	"duebell/bench/importgen"
)

func main() {
	var o importgen.Options
	flag.IntVar(&o.Plans, "plans", 100_000, "plans to write, each with its own customer")
	flag.IntVar(&o.Installments, "installments", 12, "installments per plan")
	flag.StringVar(&o.Prefix, "prefix", "", "prefix for every ref")
	flag.Parse()
	if err := importgen.Write(os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "gen-import:", err)
		os.Exit(1)
	}
}
