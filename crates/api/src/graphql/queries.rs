//! Listing queries: one listing (optionally waiting for a version) and the search.

use std::time::{Duration, Instant};

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, Enum, InputObject, Result, SimpleObject, ID};
use futures::TryStreamExt;
use gavel_store::projected::FALLBACK_POLL;
use mongodb::bson::{doc, Document};
use mongodb::options::FindOptions;
use serde::de::DeserializeOwned;

use super::listing::{Condition, Listing, ListingFormat, ListingStatus};
use super::money::MoneyInput;
use super::pagination::{decode_cursor, encode_cursor, page_size};
use crate::AppState;

/// How long a query waits for the read model to reach the version it asked for.
pub const READ_YOUR_WRITES_BOUND: Duration = Duration::from_secs(2);

/// Reads listing `id`; with `min_version`, waits (bounded) until the view has reached it, and
/// marks it stale if it has not.
pub async fn load_listing(
    state: &AppState,
    id: &str,
    min_version: Option<i64>,
) -> Result<Option<Listing>> {
    Ok(load_fresh::<Listing>(state, "listings", id, min_version)
        .await?
        .map(|(mut listing, stale)| {
            listing.stale = stale;
            listing
        }))
}

/// Reads document `id` of `collection` as a `T`. With `min_version`, reads again each time a
/// projector announces it wrote `id` (and at least every [`FALLBACK_POLL`]) until the document's
/// `version` reaches it or [`READ_YOUR_WRITES_BOUND`] passes; the flag says whether it fell short
/// (stale).
pub async fn load_fresh<T: DeserializeOwned>(
    state: &AppState,
    collection: &str,
    id: &str,
    min_version: Option<i64>,
) -> Result<Option<(T, bool)>> {
    let collection = state
        .read_store
        .database()
        .collection::<Document>(collection);
    let deadline = Instant::now() + READ_YOUR_WRITES_BOUND;
    let changes = min_version.map(|_| state.projections.changes_of(id));
    loop {
        // Registered before the read, so that an announcement between the read and the wait
        // still wakes it.
        let changed = changes.as_ref().map(|changes| {
            let mut changed = Box::pin(changes.notified());
            changed.as_mut().enable();
            changed
        });
        let found = collection.find_one(doc! { "_id": id }).await?;
        let version = found.as_ref().and_then(|d| d.get_i64("version").ok());
        let reached = match (version, min_version) {
            (_, None) => true,
            (Some(version), Some(wanted)) => version >= wanted,
            (None, Some(_)) => false,
        };
        let now = Instant::now();
        if reached || now >= deadline {
            return Ok(found
                .map(mongodb::bson::from_document::<T>)
                .transpose()?
                .map(|view| (view, !reached)));
        }
        let wait = (deadline - now).min(FALLBACK_POLL);
        if let Some(changed) = changed {
            let _ = tokio::time::timeout(wait, changed).await;
        }
    }
}

/// What to search for; every given field must match.
#[derive(Debug, Default, InputObject)]
pub struct ListingFilter {
    /// Exact brand.
    pub brand: Option<String>,
    /// Exact model.
    pub model: Option<String>,
    /// Exact reference number.
    pub reference: Option<String>,
    /// Condition.
    pub condition: Option<Condition>,
    /// Format.
    pub format: Option<ListingFormat>,
    /// Status (all statuses when omitted).
    pub status: Option<ListingStatus>,
    /// Seller id.
    pub seller_id: Option<ID>,
    /// Lowest price (inclusive); its currency also filters.
    pub min_price: Option<MoneyInput>,
    /// Highest price (inclusive); its currency also filters.
    pub max_price: Option<MoneyInput>,
}

/// Search order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Enum)]
pub enum ListingSort {
    /// Most recently published first.
    #[default]
    Newest,
    /// Cheapest first.
    PriceAscending,
    /// Most expensive first.
    PriceDescending,
    /// Auctions ending soonest first (fixed-price listings are left out).
    EndingSoonest,
}

/// Search totals.
#[derive(Debug, SimpleObject)]
pub struct ListingTotals {
    /// How many listings match the filter, over all pages.
    pub total_count: u64,
}

fn snake(value: impl std::fmt::Debug) -> String {
    let name = format!("{value:?}");
    let mut out = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

fn filter_document(filter: &ListingFilter, sort: ListingSort) -> Result<Document> {
    let mut query = Document::new();
    for (field, value) in [
        ("brand", &filter.brand),
        ("model", &filter.model),
        ("reference", &filter.reference),
    ] {
        if let Some(value) = value {
            query.insert(field, value.clone());
        }
    }
    if let Some(condition) = filter.condition {
        query.insert("condition", snake(condition));
    }
    if let Some(format) = filter.format {
        query.insert("format", snake(format));
    }
    if let Some(status) = filter.status {
        query.insert("status", snake(status));
    }
    if let Some(seller) = &filter.seller_id {
        query.insert("seller_id", seller.to_string());
    }
    let mut range = Document::new();
    for (operator, bound) in [("$gte", &filter.min_price), ("$lte", &filter.max_price)] {
        if let Some(bound) = bound {
            let money = bound
                .parse()
                .map_err(|e| async_graphql::Error::new(e.to_string()))?;
            query.insert("currency", money.currency.code());
            range.insert(operator, money.minor);
        }
    }
    if !range.is_empty() {
        query.insert("price_minor", range);
    }
    if sort == ListingSort::EndingSoonest {
        query.insert("format", "auction");
    }
    Ok(query)
}

/// `listings(filter, sort, first, after)`.
pub async fn search(
    ctx: &Context<'_>,
    filter: Option<ListingFilter>,
    sort: Option<ListingSort>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<String, Listing, ListingTotals, EmptyFields>> {
    let state = ctx.data::<AppState>()?;
    let limit = page_size(first)?;
    let offset = after
        .as_deref()
        .map(decode_cursor)
        .transpose()?
        .unwrap_or(0);
    let sort = sort.unwrap_or_default();
    let query = filter_document(&filter.unwrap_or_default(), sort)?;
    let order = match sort {
        ListingSort::Newest => doc! { "created_at": -1, "_id": -1 },
        ListingSort::PriceAscending => doc! { "price_minor": 1, "_id": 1 },
        ListingSort::PriceDescending => doc! { "price_minor": -1, "_id": 1 },
        ListingSort::EndingSoonest => doc! { "ends_at": 1, "_id": 1 },
    };
    let collection = state
        .read_store
        .database()
        .collection::<Document>("listings");
    let total_count = collection.count_documents(query.clone()).await?;
    let documents: Vec<Document> = collection
        .find(query)
        .with_options(
            FindOptions::builder()
                .sort(order)
                .skip(offset as u64)
                .limit(limit as i64 + 1)
                .build(),
        )
        .await?
        .try_collect()
        .await?;
    let has_next = documents.len() > limit;
    let mut connection =
        Connection::with_additional_fields(offset > 0, has_next, ListingTotals { total_count });
    for (index, document) in documents.into_iter().take(limit).enumerate() {
        let listing: Listing = mongodb::bson::from_document(document)?;
        connection
            .edges
            .push(Edge::new(encode_cursor(offset + index + 1), listing));
    }
    Ok(connection)
}
