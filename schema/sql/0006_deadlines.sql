-- Deadlines: when each open auction ends and each unpaid order expires. A trigger keeps them in
-- the same transaction as the events that set, move or settle them, so the scheduler finds what
-- is due with one range scan of an index, however many auctions are open, and never waits for
-- the read models to catch up. (It used to ask the listing read model, which FerretDB answered by
-- decoding every open auction twice a second.)
CREATE TABLE IF NOT EXISTS deadlines
(
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    due_at         timestamptz NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);

CREATE INDEX IF NOT EXISTS deadlines_by_due_at ON deadlines (aggregate_type, due_at);

-- Whether an event sets, moves or settles a deadline. The trigger's condition and the backfill
-- below both use it, so the list lives in one place.
CREATE OR REPLACE FUNCTION touches_deadline(event_type text) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS
$$
SELECT event_type IN ('ListingCreated', 'AuctionExtended', 'AuctionClosed', 'BoughtNow',
                      'ListingWithdrawn', 'OrderPlaced', 'OrderPaid', 'OrderCancelled',
                      'OrderExpired', 'OrderCompleted')
$$;

-- An event's time as a deadline. Events carry nanoseconds and PostgreSQL keeps microseconds, rounding
-- to the nearest; cutting the extra digits instead rounds down, so a deadline never comes after the
-- time it stands for (the aggregate refuses one that comes a fraction of a microsecond early).
CREATE OR REPLACE FUNCTION deadline_time(event_time text) RETURNS timestamptz
    LANGUAGE sql STABLE AS
$$
SELECT regexp_replace(event_time, '(\.[0-9]{6})[0-9]+', '\1')::timestamptz
$$;

-- Applies one event to its aggregate's deadline: an auction's creation and each extension set
-- its end, an order's placement sets its expiry, and anything that ends the auction or the wait
-- for payment removes it. A fixed-price listing has no end and gets none.
CREATE OR REPLACE FUNCTION record_deadline(kind text, id text, event_type text, payload json)
    RETURNS void
    LANGUAGE plpgsql AS
$$
DECLARE
    due timestamptz;
BEGIN
    CASE event_type
        WHEN 'ListingCreated' THEN
            due := deadline_time(payload -> 'ListingCreated' -> 'terms' -> 'auction' ->> 'ends_at');
        WHEN 'AuctionExtended' THEN
            due := deadline_time(payload -> 'AuctionExtended' ->> 'new_ends_at');
        WHEN 'OrderPlaced' THEN
            due := deadline_time(payload -> 'OrderPlaced' ->> 'expires_at');
        ELSE
            DELETE FROM deadlines WHERE aggregate_type = kind AND aggregate_id = id;
            RETURN;
    END CASE;
    IF due IS NOT NULL THEN
        INSERT INTO deadlines (aggregate_type, aggregate_id, due_at)
        VALUES (kind, id, due)
        ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET due_at = EXCLUDED.due_at;
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION track_deadline() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM record_deadline(NEW.aggregate_type, NEW.aggregate_id, NEW.event_type, NEW.payload);
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS events_to_deadlines ON events;
CREATE TRIGGER events_to_deadlines
    AFTER INSERT ON events
    FOR EACH ROW
    WHEN (touches_deadline(NEW.event_type))
EXECUTE FUNCTION track_deadline();

-- A store that already holds events gets the deadlines they set, replayed in append order.
DO
$$
DECLARE
    event record;
BEGIN
    FOR event IN SELECT aggregate_type, aggregate_id, event_type, payload
                 FROM events
                 WHERE touches_deadline(event_type)
                 ORDER BY global_position
        LOOP
            PERFORM record_deadline(event.aggregate_type, event.aggregate_id, event.event_type,
                                    event.payload);
        END LOOP;
END;
$$;
