-- notifications_customer_sent (040, every channel) serves the per-customer
-- SMS cap too, with the channel checked on the few rows of the last 24 hours:
-- one index fewer to write on every finished notice.
DROP INDEX IF EXISTS notifications_sms_sent;
