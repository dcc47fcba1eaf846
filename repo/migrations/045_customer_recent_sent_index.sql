-- The per-customer sent counts (the SMS cap at every SMS claim, the contact
-- limits for overdue notices) read each claimed customer's notices sent in
-- the last day or week. Through notifications_customer they read every
-- notice the customer ever had, from the heap, so claims slowed as the log
-- grew (a year of history, 40 notices a customer: 90-140 ms a claim of 300
-- SMS, against 2-3 ms through this index). The index is on
-- coalesce(sent_at), the expression the counts compare: statistics from
-- before a morning's burst (every sent_at NULL) make a plain sent_at range
-- look empty, and the planner then read every notice sent that day through
-- notifications_sent_at for each claimed customer (see 044); no plain
-- sent_at index matches this expression. It is written once a notice is
-- sent, never for pending ones. Building it blocks writes to the table for
-- a few seconds per million notices.
CREATE INDEX IF NOT EXISTS notifications_customer_recent ON notifications (customer_id, coalesce(sent_at, '-infinity'))
    WHERE sent_at IS NOT NULL;
