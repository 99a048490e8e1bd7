-- The outbox: every event appended to the store is copied here in the same transaction, by a
-- trigger, so postgres-es stays unchanged and no committed event can miss Kafka. The relay
-- publishes rows in id order and deletes them only after the broker acknowledged them.
CREATE TABLE IF NOT EXISTS outbox
(
    id             bigserial PRIMARY KEY,
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    sequence       bigint      NOT NULL,
    event_type     text        NOT NULL,
    event_version  text        NOT NULL,
    payload        json        NOT NULL,
    metadata       json        NOT NULL,
    recorded_at    timestamptz NOT NULL,
    UNIQUE (aggregate_type, aggregate_id, sequence)
);

CREATE OR REPLACE FUNCTION copy_event_to_outbox() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    INSERT INTO outbox (aggregate_type, aggregate_id, sequence, event_type, event_version,
                        payload, metadata, recorded_at)
    VALUES (NEW.aggregate_type, NEW.aggregate_id, NEW.sequence, NEW.event_type,
            NEW.event_version, NEW.payload, NEW.metadata, NEW.recorded_at);
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS events_to_outbox ON events;
CREATE TRIGGER events_to_outbox
    AFTER INSERT ON events
    FOR EACH ROW
EXECUTE FUNCTION copy_event_to_outbox();
