-- Indexes that let FerretDB v1 answer equality filters without scanning a whole collection.
--
-- FerretDB v1 (PostgreSQL backend) pushes a filter such as {_id: "x"} or {listing_id: "x"} down
-- as `_jsonb -> '_id' @> '"x"'`: a containment test, which the btree indexes FerretDB builds
-- (its unique `_id` index and those created by createIndexes) cannot serve. Every point lookup
-- was a sequential scan of its collection. A GIN index on the same expression serves the test, so
-- this file, applied to FerretDB's database by `infra/stack.sh`, gives
--   - every FerretDB table a GIN index on `_jsonb -> '_id'`, and
--   - every btree index FerretDB creates a GIN twin on its first field,
-- when FerretDB creates them (an event trigger) and for the tables that already exist.
-- It only adds indexes: what FerretDB stores and answers does not change. Idempotent.

CREATE OR REPLACE FUNCTION gavel_containment_index(target regclass, field text) RETURNS void
    LANGUAGE plpgsql AS
$$
BEGIN
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s USING gin ((_jsonb -> %L) jsonb_path_ops)',
                   'gavel_gin_' || left(md5(target::text || '/' || field), 20), target, field);
END;
$$;

-- The field a FerretDB btree index starts with, or NULL for any other index.
CREATE OR REPLACE FUNCTION gavel_indexed_field(index_oid oid) RETURNS text
    LANGUAGE sql STABLE AS
$$
SELECT substring(pg_get_indexdef(index_oid, 1, true) FROM '^\(?_jsonb -> ''([^'']+)''::text\)?$')
FROM pg_class c
         JOIN pg_am am ON am.oid = c.relam
WHERE c.oid = index_oid
  AND am.amname = 'btree';
$$;

CREATE OR REPLACE FUNCTION gavel_ferretdb_lookup_indexes() RETURNS event_trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    command record;
    field   text;
BEGIN
    FOR command IN SELECT * FROM pg_event_trigger_ddl_commands()
        LOOP
            IF command.command_tag = 'CREATE TABLE' AND command.object_type = 'table' THEN
                IF EXISTS (SELECT 1
                           FROM pg_attribute
                           WHERE attrelid = command.objid
                             AND attname = '_jsonb'
                             AND NOT attisdropped) THEN
                    PERFORM gavel_containment_index(command.objid::regclass, '_id');
                END IF;
            ELSIF command.command_tag = 'CREATE INDEX' THEN
                field := gavel_indexed_field(command.objid);
                IF field IS NOT NULL AND field <> '_id' THEN
                    PERFORM gavel_containment_index(
                            (SELECT indrelid FROM pg_index WHERE indexrelid = command.objid)::regclass, field);
                END IF;
            END IF;
        END LOOP;
END;
$$;

DROP EVENT TRIGGER IF EXISTS gavel_ferretdb_lookup_indexes;
CREATE EVENT TRIGGER gavel_ferretdb_lookup_indexes
    ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'CREATE INDEX')
EXECUTE FUNCTION gavel_ferretdb_lookup_indexes();

-- Tables and indexes FerretDB created before the trigger existed.
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
                PERFORM gavel_containment_index(existing.target, '_id');
            END LOOP;
        FOR existing IN SELECT i.indrelid::regclass AS target, gavel_indexed_field(i.indexrelid) AS field
                        FROM pg_index i
                                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attname = '_jsonb'
            LOOP
                IF existing.field IS NOT NULL AND existing.field <> '_id' THEN
                    PERFORM gavel_containment_index(existing.target, existing.field);
                END IF;
            END LOOP;
    END;
$$;
