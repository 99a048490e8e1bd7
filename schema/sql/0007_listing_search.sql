-- The listing search index: one row per listing and read-model database, with the fields buyers
-- filter and sort on. Searches find and order listing ids here, through the indexes below, and
-- read the listings themselves from the read-model documents. The MongoDB read models cannot
-- serve a search on FerretDB v1, which filters beyond equality, sorts and counts in its own
-- process after fetching every matching document (docs/performance.md).
--
-- It is a read model like the others: projectors write it from the listing documents they
-- write, a rebuild fills it anew, and `version` (the listing's last applied event) keeps a
-- repeated or late write from moving a row back. `read_database` names the read-model database
-- the row belongs to, so a rebuild into a new database builds a search index of its own beside
-- the live one.
CREATE TABLE IF NOT EXISTS listing_search
(
    read_database text        NOT NULL,
    listing_id    text        NOT NULL,
    version       bigint      NOT NULL,
    status        text        NOT NULL,
    format        text        NOT NULL,
    brand         text        NOT NULL,
    model         text        NOT NULL,
    reference     text        NOT NULL,
    condition     text        NOT NULL,
    seller_id     text        NOT NULL,
    currency      text        NOT NULL,
    price_minor   bigint      NOT NULL,
    created_at    timestamptz NOT NULL,
    ends_at       timestamptz,
    PRIMARY KEY (read_database, listing_id)
);

-- One index per sort, led by the status most searches name, so a page is read in order and the
-- scan stops after it; the brand and seller indexes serve searches that name those instead.
CREATE INDEX IF NOT EXISTS listing_search_newest
    ON listing_search (read_database, status, created_at DESC, listing_id DESC);
CREATE INDEX IF NOT EXISTS listing_search_price
    ON listing_search (read_database, status, price_minor, listing_id);
CREATE INDEX IF NOT EXISTS listing_search_ending
    ON listing_search (read_database, status, ends_at, listing_id) WHERE format = 'auction';
CREATE INDEX IF NOT EXISTS listing_search_brand
    ON listing_search (read_database, brand, model, reference);
CREATE INDEX IF NOT EXISTS listing_search_seller
    ON listing_search (read_database, seller_id, created_at DESC);
