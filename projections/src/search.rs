//! The listing search index: the fields buyers filter and sort on and a copy of the document, one
//! PostgreSQL row per listing, so that a search is one indexed query for its page and one count
//! instead of a scan of every matching document. FerretDB v1 cannot serve a search: it filters
//! beyond equality, sorts and counts in its own process after fetching every matching document,
//! and reads a page's documents one lookup at a time (`docs/performance.md`).
//!
//! Rows are derived from the listing documents ([`SearchRow::from_document`]) by whoever writes
//! those documents, from the same folded events: a row is the listing's state at its version, and
//! its `version` keeps a repeated or late write from moving it back. The remaining stock of a listing sold from a SKU moves with the SKU's
//! inventory events, not the listing's, so it lives in columns of its own
//! ([`SearchIndex::set_remaining_stock`]) and is laid over the copy when a search reads it. The
//! table (`schema/sql/0007_listing_search.sql`) keys rows by read-model database as well, so each
//! set of read models has an index of its own.

use bson::{Bson, Document};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

/// The fields of a listing document that follow its SKU's stock rather than its own events.
const STOCK_FIELDS: [&str; 2] = ["remaining_stock", "sold_out"];

/// One listing as the search index holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRow {
    /// The listing id.
    pub listing_id: String,
    /// The sequence of the last event the row reflects.
    pub version: i64,
    /// `active`, `withdrawn`, `sold` or `unsold`.
    pub status: String,
    /// `fixed_price` or `auction`.
    pub format: String,
    /// The item's brand.
    pub brand: String,
    /// The item's model.
    pub model: String,
    /// The item's reference number.
    pub reference: String,
    /// The item's condition, as stored in the listing document.
    pub condition: String,
    /// The seller.
    pub seller_id: String,
    /// The currency of the price.
    pub currency: String,
    /// The asking price or the auction's current price, in minor units.
    pub price_minor: i64,
    /// When the listing was published.
    pub created_at: DateTime<Utc>,
    /// When an auction ends; none for a fixed-price listing.
    pub ends_at: Option<DateTime<Utc>>,
    /// The seller's SKU a fixed-price listing sells from.
    pub sku: Option<String>,
    /// Units left on that SKU.
    pub remaining_stock: Option<i64>,
    /// Whether that SKU has none left.
    pub sold_out: Option<bool>,
    /// The listing document, without the stock fields.
    pub document: Document,
}

impl SearchRow {
    /// The row for a listing document, or none if the document lacks a field the index needs.
    pub fn from_document(document: &Document) -> Option<Self> {
        let text = |field: &str| document.get_str(field).ok().map(str::to_string);
        let time = |field: &str| match document.get(field) {
            Some(Bson::DateTime(at)) => Some(at.to_chrono()),
            _ => None,
        };
        let mut copy = document.clone();
        for field in STOCK_FIELDS {
            copy.remove(field);
        }
        Some(Self {
            listing_id: text("_id")?,
            version: document.get_i64("version").ok()?,
            status: text("status")?,
            format: text("format")?,
            brand: text("brand")?,
            model: text("model")?,
            reference: text("reference")?,
            condition: text("condition")?,
            seller_id: text("seller_id")?,
            currency: text("currency")?,
            price_minor: document.get_i64("price_minor").ok()?,
            created_at: time("created_at")?,
            ends_at: time("ends_at"),
            sku: text("sku"),
            remaining_stock: document.get_i64("remaining_stock").ok(),
            sold_out: document.get_bool("sold_out").ok(),
            document: copy,
        })
    }

    /// The listing document as a search shows it: the copy with the current stock laid over it.
    pub fn listing(mut self) -> Document {
        if let Some(remaining) = self.remaining_stock {
            self.document.insert("remaining_stock", remaining);
        }
        if let Some(sold_out) = self.sold_out {
            self.document.insert("sold_out", sold_out);
        }
        self.document
    }

    fn read(row: &PgRow) -> Result<Self, sqlx::Error> {
        let bytes: Vec<u8> = row.try_get("document")?;
        let document =
            bson::from_slice(&bytes).map_err(|error| sqlx::Error::Decode(Box::new(error)))?;
        Ok(Self {
            listing_id: row.try_get("listing_id")?,
            version: row.try_get("version")?,
            status: row.try_get("status")?,
            format: row.try_get("format")?,
            brand: row.try_get("brand")?,
            model: row.try_get("model")?,
            reference: row.try_get("reference")?,
            condition: row.try_get("condition")?,
            seller_id: row.try_get("seller_id")?,
            currency: row.try_get("currency")?,
            price_minor: row.try_get("price_minor")?,
            created_at: row.try_get("created_at")?,
            ends_at: row.try_get("ends_at")?,
            sku: row.try_get("sku")?,
            remaining_stock: row.try_get("remaining_stock")?,
            sold_out: row.try_get("sold_out")?,
            document,
        })
    }
}

/// What a search matches: every given field must match. Values are as the listing documents
/// store them (`"active"`, `"very_good"`, `"auction"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilter {
    /// Exact brand.
    pub brand: Option<String>,
    /// Exact model.
    pub model: Option<String>,
    /// Exact reference number.
    pub reference: Option<String>,
    /// Condition.
    pub condition: Option<String>,
    /// Format.
    pub format: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Seller.
    pub seller_id: Option<String>,
    /// Currency of the price.
    pub currency: Option<String>,
    /// Lowest price in minor units, inclusive.
    pub min_price_minor: Option<i64>,
    /// Highest price in minor units, inclusive.
    pub max_price_minor: Option<i64>,
}

/// The order of search results; ties go to the listing id, so pages never overlap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SearchOrder {
    /// Most recently published first.
    #[default]
    Newest,
    /// Cheapest first.
    PriceAscending,
    /// Most expensive first.
    PriceDescending,
    /// Soonest-ending auctions first; fixed-price listings last.
    EndingSoonest,
}

impl SearchOrder {
    fn order_by(self) -> &'static str {
        match self {
            Self::Newest => " ORDER BY created_at DESC, listing_id DESC",
            Self::PriceAscending => " ORDER BY price_minor ASC, listing_id ASC",
            Self::PriceDescending => " ORDER BY price_minor DESC, listing_id DESC",
            Self::EndingSoonest => " ORDER BY ends_at ASC NULLS LAST, listing_id ASC",
        }
    }
}

/// One page of search results.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    /// The matching listings' documents on this page, in order.
    pub listings: Vec<Document>,
    /// How many listings match over all pages, counted up to the bound the search gave.
    pub total_count: u64,
    /// Whether that is every match (false: at least that many, more uncounted).
    pub counted_all: bool,
}

/// The search index of one read-model database.
#[derive(Debug, Clone)]
pub struct SearchIndex {
    pool: PgPool,
    read_database: String,
}

impl SearchIndex {
    /// The index of the read models in `read_database`, kept on `pool` (the event store's
    /// database, whose migrations create the table).
    pub fn new(pool: PgPool, read_database: impl Into<String>) -> Self {
        Self {
            pool,
            read_database: read_database.into(),
        }
    }

    /// Writes `rows` in one statement, each only over an older version of itself; an existing
    /// row keeps its stock columns, which [`set_remaining_stock`](Self::set_remaining_stock)
    /// moves. A listing may appear once in `rows`.
    pub async fn upsert(&self, rows: &[SearchRow]) -> Result<(), sqlx::Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut documents = Vec::with_capacity(rows.len());
        for row in rows {
            documents.push(
                bson::to_vec(&row.document)
                    .map_err(|error| sqlx::Error::Encode(Box::new(error)))?,
            );
        }
        let column =
            |field: fn(&SearchRow) -> &str| -> Vec<&str> { rows.iter().map(field).collect() };
        // One statement, so a row and its document move together: the document follows only
        // the rows whose version moved.
        sqlx::query(
            "WITH input AS (SELECT * FROM UNNEST($2::text[], $3::bigint[], $4::text[], \
             $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], \
             $11::text[], $12::bigint[], $13::timestamptz[], $14::timestamptz[], $15::text[], \
             $16::bigint[], $17::boolean[], $18::bytea[]) AS i(listing_id, version, status, \
             format, brand, model, reference, condition, seller_id, currency, price_minor, \
             created_at, ends_at, sku, remaining_stock, sold_out, document)), \
             moved AS (INSERT INTO listing_search (read_database, listing_id, version, status, \
             format, brand, model, reference, condition, seller_id, currency, price_minor, \
             created_at, ends_at, sku, remaining_stock, sold_out) \
             SELECT $1, listing_id, version, status, format, brand, model, reference, \
             condition, seller_id, currency, price_minor, created_at, ends_at, sku, \
             remaining_stock, sold_out FROM input \
             ON CONFLICT (read_database, listing_id) DO UPDATE SET version = EXCLUDED.version, \
             status = EXCLUDED.status, format = EXCLUDED.format, brand = EXCLUDED.brand, \
             model = EXCLUDED.model, reference = EXCLUDED.reference, \
             condition = EXCLUDED.condition, seller_id = EXCLUDED.seller_id, \
             currency = EXCLUDED.currency, price_minor = EXCLUDED.price_minor, \
             created_at = EXCLUDED.created_at, ends_at = EXCLUDED.ends_at, sku = EXCLUDED.sku \
             WHERE listing_search.version < EXCLUDED.version \
             RETURNING listing_id) \
             INSERT INTO listing_search_documents (read_database, listing_id, document) \
             SELECT $1, listing_id, input.document FROM input JOIN moved USING (listing_id) \
             ON CONFLICT (read_database, listing_id) DO UPDATE SET document = EXCLUDED.document",
        )
        .bind(&self.read_database)
        .bind(column(|r| &r.listing_id))
        .bind(rows.iter().map(|r| r.version).collect::<Vec<_>>())
        .bind(column(|r| &r.status))
        .bind(column(|r| &r.format))
        .bind(column(|r| &r.brand))
        .bind(column(|r| &r.model))
        .bind(column(|r| &r.reference))
        .bind(column(|r| &r.condition))
        .bind(column(|r| &r.seller_id))
        .bind(column(|r| &r.currency))
        .bind(rows.iter().map(|r| r.price_minor).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.ends_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.sku.as_deref()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.remaining_stock).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.sold_out).collect::<Vec<_>>())
        .bind(documents)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sets the remaining stock of the fixed-price listings `seller_id` sells from `sku`, as the
    /// SKU's latest inventory event left it.
    pub async fn set_remaining_stock(
        &self,
        seller_id: &str,
        sku: &str,
        available: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE listing_search SET remaining_stock = $4, sold_out = ($4 = 0) \
             WHERE read_database = $1 AND seller_id = $2 AND sku = $3 AND format = 'fixed_price'",
        )
        .bind(&self.read_database)
        .bind(seller_id)
        .bind(sku)
        .bind(available)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The page of listings matching `filter` in `order`, after skipping `offset` of them, with
    /// at most `limit` listings, and how many match, counted up to `count_up_to`: an exact count
    /// reads an index entry or a row per match, which over a broad search of a large catalogue
    /// costs far more than the page.
    pub async fn search(
        &self,
        filter: &SearchFilter,
        order: SearchOrder,
        offset: u64,
        limit: u64,
        count_up_to: u64,
    ) -> Result<SearchPage, sqlx::Error> {
        let mut page = QueryBuilder::new(format!("SELECT {COLUMNS} FROM {WITH_DOCUMENTS}"));
        self.push_filter(&mut page, filter);
        page.push(order.order_by())
            .push(" LIMIT ")
            .push_bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .push(" OFFSET ")
            .push_bind(i64::try_from(offset).unwrap_or(i64::MAX));
        let mut count = QueryBuilder::new("SELECT count(*) FROM (SELECT 1 FROM listing_search");
        self.push_filter(&mut count, filter);
        count
            .push(" LIMIT ")
            .push_bind(i64::try_from(count_up_to.saturating_add(1)).unwrap_or(i64::MAX))
            .push(") AS matches");
        let (rows, counted) = tokio::try_join!(
            page.build().fetch_all(&self.pool),
            count.build_query_scalar::<i64>().fetch_one(&self.pool),
        )?;
        let mut listings = Vec::with_capacity(rows.len());
        for row in &rows {
            listings.push(SearchRow::read(row)?.listing());
        }
        let counted = u64::try_from(counted).unwrap_or(0);
        Ok(SearchPage {
            listings,
            total_count: counted.min(count_up_to),
            counted_all: counted <= count_up_to,
        })
    }

    /// Every row of this read-model database, by listing id: for comparing two indexes.
    pub async fn rows(&self) -> Result<Vec<SearchRow>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM {WITH_DOCUMENTS} WHERE read_database = $1 ORDER BY listing_id"
        ))
        .bind(&self.read_database)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(SearchRow::read).collect()
    }

    /// Refreshes PostgreSQL's statistics of the index after a bulk load, so that searches are
    /// planned on what is there before autovacuum gets to it (without them, a search by brand and
    /// model over 100,000 fresh rows was planned to read all of them: 122 ms instead of 26).
    pub async fn analyze(&self) -> Result<(), sqlx::Error> {
        sqlx::query("ANALYZE listing_search, listing_search_documents")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether this read-model database has no rows yet.
    pub async fn is_empty(&self) -> Result<bool, sqlx::Error> {
        let any: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM listing_search WHERE read_database = $1)",
        )
        .bind(&self.read_database)
        .fetch_one(&self.pool)
        .await?;
        Ok(!any)
    }

    fn push_filter<'a>(&'a self, sql: &mut QueryBuilder<'a, Postgres>, filter: &'a SearchFilter) {
        sql.push(" WHERE read_database = ")
            .push_bind(&self.read_database);
        for (column, value) in [
            ("status", &filter.status),
            ("format", &filter.format),
            ("brand", &filter.brand),
            ("model", &filter.model),
            ("reference", &filter.reference),
            ("condition", &filter.condition),
            ("seller_id", &filter.seller_id),
            ("currency", &filter.currency),
        ] {
            if let Some(value) = value {
                sql.push(format_args!(" AND {column} = ")).push_bind(value);
            }
        }
        if let Some(min) = filter.min_price_minor {
            sql.push(" AND price_minor >= ").push_bind(min);
        }
        if let Some(max) = filter.max_price_minor {
            sql.push(" AND price_minor <= ").push_bind(max);
        }
    }
}

/// The rows with their documents, which are kept in a table of their own so that the rows stay
/// narrow: a count, or a scan for a filter no index leads with, reads the searched fields only.
const WITH_DOCUMENTS: &str = "listing_search JOIN listing_search_documents \
                              USING (read_database, listing_id)";

/// Every column of a row, in the order [`SearchRow::read`] names them.
const COLUMNS: &str = "listing_id, version, status, format, brand, model, reference, condition, \
                       seller_id, currency, price_minor, created_at, ends_at, sku, \
                       remaining_stock, sold_out, document";

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn auction_document() -> Document {
        let created = Utc::now();
        doc! {
            "_id": "l1", "version": 4_i64, "status": "active", "format": "auction",
            "brand": "Rolex", "model": "Submariner", "reference": "124060",
            "condition": "very_good", "seller_id": "s1", "currency": "USD",
            "price_minor": 18_250_i64, "title": "not indexed",
            "created_at": bson::DateTime::from_chrono(created),
            "ends_at": bson::DateTime::from_chrono(created + chrono::Duration::days(7)),
        }
    }

    #[test]
    fn a_listing_document_gives_its_searchable_fields() {
        let row = SearchRow::from_document(&auction_document()).expect("a row");
        assert_eq!(row.listing_id, "l1");
        assert_eq!(row.version, 4);
        assert_eq!(row.price_minor, 18_250);
        assert_eq!(row.condition, "very_good");
        assert!(row.ends_at.expect("an end") > row.created_at);
    }

    #[test]
    fn stock_lives_in_columns_and_is_laid_over_the_copy() {
        let mut fixed = auction_document();
        fixed.insert("format", "fixed_price");
        fixed.insert("sku", "SKU-1");
        fixed.insert("remaining_stock", 3_i64);
        fixed.insert("sold_out", false);
        let mut row = SearchRow::from_document(&fixed).unwrap();
        assert_eq!(row.sku.as_deref(), Some("SKU-1"));
        assert_eq!(row.remaining_stock, Some(3));
        assert!(!row.document.contains_key("remaining_stock"));
        row.remaining_stock = Some(0);
        row.sold_out = Some(true);
        let shown = row.listing();
        assert_eq!(shown.get_i64("remaining_stock"), Ok(0));
        assert_eq!(shown.get_bool("sold_out"), Ok(true));
        assert_eq!(shown.get_str("title"), Ok("not indexed"));
    }

    #[test]
    fn a_fixed_price_listing_has_no_end_and_a_document_without_a_price_has_no_row() {
        let mut fixed = auction_document();
        fixed.insert("format", "fixed_price");
        fixed.insert("ends_at", Bson::Null);
        assert_eq!(SearchRow::from_document(&fixed).unwrap().ends_at, None);
        fixed.remove("price_minor");
        assert_eq!(SearchRow::from_document(&fixed), None);
    }
}
