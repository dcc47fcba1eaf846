package repotest

import (
	"net"
	"os"
	"os/exec"
	"testing"

	"duebell/repo"
)

// NewStallable is New reached through a relay whose way from the repo can
// go silent: stall makes the kernel hold every packet the repo's
// connections send to the relay, so nothing is answered, refused or reset,
// as when a failover moves the address away or a network drops packets;
// resume lets them through again. params are added to the repo's database
// URL (tcp_user_timeout, say). Stalling shapes the loopback device with tc
// (an htb class of 8 bit/s with a one-packet queue that the relay's port
// is filtered into; other traffic is not classified and passes as before),
// so the test needs root and tc, and is skipped without them.
func NewStallable(t testing.TB, params ...string) (r *repo.Repo, stall, resume func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("stalling a connection needs root (tc on the loopback device)")
	}
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("stalling a connection needs tc (apt-get install iproute2)")
	}
	rl, r, _ := newRelayed(t, params...)
	_, port, _ := net.SplitHostPort(rl.ln.Addr().String())
	tc := func(args ...string) error {
		out, err := exec.Command("tc", args...).CombinedOutput()
		if err != nil {
			t.Logf("tc %v: %v: %s", args, err, out)
		}
		return err
	}
	stalled := false
	resume = func() {
		if stalled {
			stalled = false
			_ = tc("qdisc", "del", "dev", "lo", "root")
		}
	}
	stall = func() {
		t.Helper()
		stalled = true
		if tc("qdisc", "replace", "dev", "lo", "root", "handle", "1:", "htb") != nil ||
			tc("class", "replace", "dev", "lo", "parent", "1:", "classid", "1:20", "htb", "rate", "8bit", "ceil", "8bit",
				"burst", "1", "cburst", "1") != nil ||
			tc("qdisc", "add", "dev", "lo", "parent", "1:20", "handle", "20:", "pfifo", "limit", "1") != nil ||
			tc("filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
				"match", "ip", "dport", port, "0xffff", "flowid", "1:20") != nil {
			resume()
			t.Skip("tc cannot shape the loopback device here (no htb, pfifo or u32 in this kernel?)")
		}
		// The class lets its first packet through on the tokens it starts
		// with; a datagram to the port (nobody reads it) spends them.
		if c, err := net.Dial("udp", rl.ln.Addr().String()); err == nil {
			_, _ = c.Write([]byte{0})
			_ = c.Close()
		}
	}
	t.Cleanup(resume)
	return r, stall, resume
}
