-- duebell schema, version 6: delivery safety.

-- A try whose worker stopped before recording it (crash, lease lost, a send
-- still running when shutdown's grace ran out) is logged with the outcome
-- 'unknown': the message may or may not have reached the provider.
ALTER TABLE delivery_attempts DROP CONSTRAINT delivery_attempts_outcome_check;
ALTER TABLE delivery_attempts ADD CONSTRAINT delivery_attempts_outcome_check
    CHECK (outcome IN ('sent', 'transient', 'permanent', 'unknown'));

-- A reversal (chargeback, bank return) is a payment with a negative amount
-- and a reason; who asked for it is kept with it.
ALTER TABLE payments DROP CONSTRAINT payments_amount_check;
ALTER TABLE payments ADD CONSTRAINT payments_amount_check CHECK (amount <> 0);
ALTER TABLE payments ADD COLUMN reason text NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN actor text NOT NULL DEFAULT '';
