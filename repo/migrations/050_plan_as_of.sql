-- A plan push may say when the lender's data in it was read (as_of). The
-- as_of of the last push written is kept on the plan, so that a push read
-- earlier than it, or earlier than a payment or reversal duebell recorded
-- since, is refused as stale instead of undoing what came after it (a
-- chargeback's reopened bill settled again by a push built before it).
--
-- A nullable column without a default: metadata only, no rewrite of plans
-- and no lock beyond the moment of the ALTER. Plans pushed before it, and
-- pushes without as_of, leave it null.
ALTER TABLE plans ADD COLUMN as_of timestamptz;
