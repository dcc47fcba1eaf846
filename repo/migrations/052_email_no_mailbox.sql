-- Why duebell set a customer's email opt-out itself: the mail server said
-- the address has no mailbox (SMTP 5.1.1, 5.1.10). It stays while the
-- customer keeps that address, whatever a push says, and a push that
-- changes the address ends it, clearing the opt-out with the reason (a
-- lender-set opt-out has no reason and is left as the push says).
ALTER TABLE customers ADD COLUMN email_opt_out_reason text NOT NULL DEFAULT '';
