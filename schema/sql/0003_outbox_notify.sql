-- Wake the relay as soon as events are committed, instead of making it poll.
-- One notification per statement is enough: the relay reads the whole outbox when woken.
CREATE OR REPLACE FUNCTION notify_outbox() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('gavel_outbox', '');
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS outbox_notify ON outbox;
CREATE TRIGGER outbox_notify
    AFTER INSERT ON outbox
    FOR EACH STATEMENT
EXECUTE FUNCTION notify_outbox();
