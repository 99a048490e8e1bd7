-- The relay is now woken by a notification sent after the commit (see gavel-store's outbox
-- module), not by one inside the appending transaction: PostgreSQL serialises the commits of
-- transactions that notify, holding that lock while each commit record is flushed, which cost
-- the event store four fifths of its commit rate under concurrent commands.
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
DROP FUNCTION IF EXISTS notify_outbox();
