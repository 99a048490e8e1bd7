-- Indexes that let FerretDB v1 find a document by `_id` without scanning its collection.
--
-- FerretDB v1 (PostgreSQL backend) pushes a filter such as {_id: "x"} down as
-- `_jsonb -> '_id' @> '"x"'`: a containment test, which the btree index FerretDB builds on `_id`
-- cannot serve, so every lookup by `_id` (the projector's read before each write, the API's
-- `listing(id:)`) was a sequential scan of its collection: 8 ms at 20,000 listings and growing.
-- A GIN index on the same expression serves the test in microseconds. This file, applied to
-- FerretDB's database by `infra/stack.sh`, gives every FerretDB table one, when FerretDB creates
-- the table (an event trigger) and for the tables that already exist. It only adds indexes: what
-- FerretDB stores and answers does not change. Idempotent.
--
-- The index is built with fastupdate off. With it on, new entries wait in GIN's pending list (up
-- to 4 MB) until a vacuum merges them, and every lookup scans that list: on a read model whose
-- documents are updated all the time, the projector's lookup before each update took 0.9 ms
-- instead of 0.2 ms under load (docs/performance.md).
--
-- Other fields get none: each GIN index is written on every update of a document, and on the
-- benchmark's read models GIN twins of every declared index cost the projector a fifth of its
-- throughput (docs/performance.md).

CREATE OR REPLACE FUNCTION gavel_id_lookup_index(target regclass) RETURNS void
    LANGUAGE plpgsql AS
$$
DECLARE
    index_name  text := 'gavel_id_gin_' || left(md5(target::text), 16);
    schema_name text := (SELECT n.nspname
                         FROM pg_class c
                                  JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE c.oid = target);
BEGIN
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s USING gin ((_jsonb -> ''_id'') jsonb_path_ops)'
                       || ' WITH (fastupdate = off)', index_name, target);
    -- An index created before fastupdate was turned off keeps it on until told otherwise.
    EXECUTE format('ALTER INDEX %I.%I SET (fastupdate = off)', schema_name, index_name);
END;
$$;

CREATE OR REPLACE FUNCTION gavel_ferretdb_id_lookups() RETURNS event_trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    command record;
BEGIN
    FOR command IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE object_type = 'table'
        LOOP
            IF EXISTS (SELECT 1
                       FROM pg_attribute
                       WHERE attrelid = command.objid
                         AND attname = '_jsonb'
                         AND NOT attisdropped) THEN
                PERFORM gavel_id_lookup_index(command.objid::regclass);
            END IF;
        END LOOP;
END;
$$;

DROP EVENT TRIGGER IF EXISTS gavel_ferretdb_lookup_indexes;
DROP EVENT TRIGGER IF EXISTS gavel_ferretdb_id_lookups;
CREATE EVENT TRIGGER gavel_ferretdb_id_lookups
    ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE')
EXECUTE FUNCTION gavel_ferretdb_id_lookups();

-- Tables FerretDB created before the trigger existed.
DO
$$
    DECLARE
        existing record;
    BEGIN
        FOR existing IN SELECT a.attrelid::regclass AS target
                        FROM pg_attribute a
                                 JOIN pg_class c ON c.oid = a.attrelid
                                 JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE a.attname = '_jsonb'
                          AND NOT a.attisdropped
                          AND c.relkind = 'r'
                          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            LOOP
                PERFORM gavel_id_lookup_index(existing.target);
            END LOOP;
    END;
$$;
