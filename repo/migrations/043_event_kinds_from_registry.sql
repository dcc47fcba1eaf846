-- duebell schema, version 43: event kinds come from the registry.
-- Migration 003 listed the event kinds in a CHECK on channel_events.kind, a
-- second copy of the list in package kinds that every new kind had to edit.
-- The API checks a reported kind against the registry (422 for an unknown
-- one), and the channel-event scan ignores a row of a kind it does not know
-- (marked processed, counted as ignored), so a lender writing the table
-- directly cannot make the scan act on a kind duebell has no rules for.
-- The scope, target and payload constraints stay: they are not per kind.

ALTER TABLE channel_events DROP CONSTRAINT IF EXISTS channel_events_kind;
