-- The digest grouping updates, in the scan's own transaction, every notice
-- that scan just inserted (digest_of, and the members' status). PostgreSQL
-- checks a foreign key again on such an update even when the key did not
-- change, because the row was inserted by the same transaction: each
-- grouped notice paid four foreign-key checks at its insert and four more
-- at its grouping. Checked at commit instead, the insert's check of a row
-- the transaction has since updated is skipped (that version is gone) and
-- only the final row is checked, once per key.
--
-- Measured with BenchmarkDueScanDigest at 50k installments (100k notices,
-- all grouped): 8.1-8.5 s -> 7.0-7.1 s; the plain scan and dispatch are
-- unchanged (their updates touch rows of other transactions, which the
-- keys' checks skip). A notice whose customer, plan, installment or digest
-- leader is gone is still refused, at commit, with the same error.
--
-- Metadata only: no table scan, no rewrite.
ALTER TABLE notifications ALTER CONSTRAINT notifications_customer_id_fkey DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE notifications ALTER CONSTRAINT notifications_plan_id_fkey DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE notifications ALTER CONSTRAINT notifications_installment_id_fkey DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE notifications ALTER CONSTRAINT notifications_digest_of_fkey DEFERRABLE INITIALLY DEFERRED;
