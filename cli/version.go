package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Build stamps, set by `make build` and `make dist` with
// -ldflags "-X duebell/cli.Version=… -X duebell/cli.Commit=… -X duebell/cli.Date=…".
// Empty stamps fall back to what the Go toolchain recorded (debug.ReadBuildInfo).
var (
	Version = ""
	Commit  = ""
	Date    = ""
)

// buildStamp is the version, commit and build date of this binary.
func buildStamp() (version, commit, date string) {
	version, commit, date = Version, Commit, Date
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			version = cmp.Or(version, v)
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = cmp.Or(commit, s.Value)
			case "vcs.time":
				date = cmp.Or(date, s.Value)
			case "vcs.modified":
				if s.Value == "true" && Commit == "" && commit != "" {
					commit += "-dirty"
				}
			}
		}
	}
	return cmp.Or(version, "dev"), cmp.Or(commit, "unknown"), cmp.Or(date, "unknown")
}

func runVersion(_ context.Context, args []string, out io.Writer) error {
	// --config is taken as every command takes it (a wrapper script passes
	// it to all of them); the version needs no config and reads none.
	var flags commonFlags
	fs := newFlagSet("version", &flags)
	if err := parse(fs, args); err != nil {
		return err
	}
	v, c, d := buildStamp()
	fmt.Fprintf(out, "duebell %s\ncommit  %s\nbuilt   %s\ngo      %s %s/%s\n", v, c, d, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
