package sqlite

import "time"

// SetLockWait shortens how long s's writers wait for its write lock.
func SetLockWait(s *Store, d time.Duration) { s.write.wait = d }
