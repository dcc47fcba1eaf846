-- Why duebell set a customer's email opt-out itself: the mail server said
-- the address has no mailbox (PostgreSQL: migration 052).
ALTER TABLE customers ADD COLUMN email_opt_out_reason TEXT NOT NULL DEFAULT '';
