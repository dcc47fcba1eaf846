-- A plan push may say when the lender's data in it was read (as_of); the
-- as_of of the last push written is kept on the plan, so that a stale push
-- is refused (PostgreSQL: migration 050). Null for plans pushed before it
-- and for pushes without as_of.
ALTER TABLE plans ADD COLUMN as_of TIMESTAMP;
