package cli_test

import (
	"strings"
	"testing"
)

// TestListingTimesInTimezone: listings print times in Shanghai unless --tz
// names another zone; a zone that does not exist is a usage error.
func TestListingTimesInTimezone(t *testing.T) {
	t.Parallel()
	b := cliSetup(t)
	// The notices were created at 02:00 UTC, 10:00 in Shanghai.
	code, out, errw := b.run("notifications", "list")
	if code != 0 || !strings.Contains(out, "2026-11-10T10:00:00+08:00") {
		t.Errorf("list (default zone) = %d\n%s%s", code, out, errw)
	}
	code, out, _ = b.run("notifications", "list", "--tz", "UTC")
	if code != 0 || !strings.Contains(out, "2026-11-10T02:00:00Z") {
		t.Errorf("list --tz UTC = %d\n%s", code, out)
	}
	code, out, _ = b.run("notifications", "show", "--tz", "Europe/Berlin", "1")
	if code != 0 || !strings.Contains(out, "2026-11-10T03:00:00+01:00") {
		t.Errorf("show --tz Europe/Berlin = %d\n%s", code, out)
	}
	// Names the zone database resolves but the API refuses (the host's zone,
	// aliases of files) are refused here too.
	for _, tz := range []string{"Mars/Olympus", "Local", "localtime", "Factory", "posix/Asia/Shanghai"} {
		if code, _, errw = b.run("notifications", "list", "--tz", tz); code != 2 || !strings.Contains(errw, "--tz") {
			t.Errorf("list --tz %s = %d %s", tz, code, errw)
		}
	}
}
