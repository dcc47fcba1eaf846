-- The dedup key (installment:stage:channel), the status and the recipient
-- are only ever compared for equality (statuses are ASCII words, so their
-- order is the same in "C"): the scans insert every due stage with ON
-- CONFLICT (dedup_key) DO NOTHING, so each queued notice costs one descent
-- of the unique index (a re-scan one more for each notice already queued);
-- the claim and the finish each write a new entry for the notice in the
-- dedup key's and the (status, updated_at) indexes, and a send adds the
-- recipient to its index. Under the database's default
-- collation each comparison on the way down is a locale comparison (ICU or
-- libc strcoll); "C" compares bytes, which gives the same equality (and a
-- comparison with a value in the default collation takes "C"). Measured on
-- 300k keys: a unique insert 3.3 s under an en-US ICU collation and 2.5 s
-- under C.UTF-8, against 2.2 s in "C"; the re-insert that finds every key
-- 1.7 and 1.2 s against 1.1 s.
--
-- The table is not rewritten; the indexes on these columns (and those whose
-- predicate names the status) are rebuilt and the status check is
-- validated again, which blocks writes to notifications for some seconds
-- per million notices.
ALTER TABLE notifications ALTER COLUMN dedup_key TYPE text COLLATE "C",
                          ALTER COLUMN status TYPE text COLLATE "C",
                          ALTER COLUMN recipient TYPE text COLLATE "C";
