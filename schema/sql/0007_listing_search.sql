-- The listing search index: one row per listing and read-model database, with the fields buyers
-- filter and sort on and a copy of the listing's document, so that a search is one indexed
-- query for its page and one count. The MongoDB read models cannot serve a search on FerretDB
-- v1, which filters beyond equality, sorts and counts in its own process after fetching every
-- matching document, and reads a page's documents one lookup at a time (docs/performance.md).
--
-- It is a read model like the others: projectors write it from the listing documents they
-- write, a rebuild fills it anew, and `version` (the listing's last applied event) keeps a
-- repeated or late write from moving a row back. The remaining stock of a listing sold from a
-- SKU follows the SKU's inventory events instead, as in the listing documents, so it has columns
-- of its own that only the inventory projection moves after the row is created. `read_database`
-- names the read-model database the row belongs to, so a rebuild into a new database builds a
-- search index of its own beside the live one.
CREATE TABLE IF NOT EXISTS listing_search
(
    read_database   text        NOT NULL,
    listing_id      text        NOT NULL,
    version         bigint      NOT NULL,
    status          text        NOT NULL,
    format          text        NOT NULL,
    brand           text        NOT NULL,
    model           text        NOT NULL,
    reference       text        NOT NULL,
    condition       text        NOT NULL,
    seller_id       text        NOT NULL,
    currency        text        NOT NULL,
    price_minor     bigint      NOT NULL,
    created_at      timestamptz NOT NULL,
    ends_at         timestamptz,
    sku             text,
    remaining_stock bigint,
    sold_out        boolean,
    PRIMARY KEY (read_database, listing_id)
);

-- The copy of each listing's document (BSON), in a table of its own so that the rows above stay
-- narrow: a count, or a scan for a filter no index leads with, reads the searched fields and not
-- every document, and only a page's documents are fetched. The projector writes a row and its
-- document in one statement.
CREATE TABLE IF NOT EXISTS listing_search_documents
(
    read_database text  NOT NULL,
    listing_id    text  NOT NULL,
    document      bytea NOT NULL,
    PRIMARY KEY (read_database, listing_id)
);

-- One index per sort, led by the status most searches name, so a page is read in order and the
-- scan stops after it; the brand and seller indexes serve searches that name those instead.
-- Fixed-price listings have no end and sort after every auction, so the ending-soonest scan
-- meets auctions first without an index of their own (a partial index would be passed over for
-- the prepared statement's format parameter).
CREATE INDEX IF NOT EXISTS listing_search_newest
    ON listing_search (read_database, status, created_at DESC, listing_id DESC);
CREATE INDEX IF NOT EXISTS listing_search_price
    ON listing_search (read_database, status, price_minor, listing_id);
CREATE INDEX IF NOT EXISTS listing_search_ending
    ON listing_search (read_database, status, ends_at, listing_id);
CREATE INDEX IF NOT EXISTS listing_search_brand
    ON listing_search (read_database, brand, model, reference);
CREATE INDEX IF NOT EXISTS listing_search_seller
    ON listing_search (read_database, seller_id, created_at DESC);
CREATE INDEX IF NOT EXISTS listing_search_sku
    ON listing_search (read_database, seller_id, sku) WHERE sku IS NOT NULL;
