-- duebell schema: one notice for bills due together (policy.digest). The
-- notices of one customer, stage, channel and local day keep their own rows
-- and dedup keys (so each installment:stage:channel is still covered once);
-- all of them point at the one that goes out, the leader, which points at
-- itself. The others are skipped with the reason 'in digest #<leader>'.
ALTER TABLE notifications ADD COLUMN digest_of bigint REFERENCES notifications (id);
CREATE INDEX IF NOT EXISTS notifications_digest_of ON notifications (digest_of) WHERE digest_of IS NOT NULL;
