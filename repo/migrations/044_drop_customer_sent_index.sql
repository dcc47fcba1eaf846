-- The per-customer sent counts (the SMS cap, the contact limits) read a
-- customer's notices through notifications_customer and compare
-- coalesce(sent_at): on statistics from before a morning's burst the planner
-- took the sent_at indexes for free and read every notice sent that day for
-- each claimed one. Nothing reads (customer_id, sent_at) now, and every
-- notice sent wrote an entry to it.
DROP INDEX IF EXISTS notifications_customer_sent;
