//go:build !linux

package repo

import (
	"syscall"
	"time"
)

// setUserTimeout does nothing where TCP_USER_TIMEOUT is not a socket
// option: a silent connection waits for the kernel to give up.
func setUserTimeout(time.Duration) func(network, address string, c syscall.RawConn) error {
	return nil
}
