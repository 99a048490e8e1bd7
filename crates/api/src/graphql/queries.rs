//! Listing queries: one listing (optionally waiting for a version) and the search.

use std::time::{Duration, Instant};

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, Enum, InputObject, Result, SimpleObject, ID};

use gavel_projections::{SearchFilter, SearchOrder};
use gavel_store::projected::FALLBACK_POLL;
use mongodb::bson::{doc, Document};
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
    /// Lowest price (inclusive); its currency also filters, and must be `maxPrice`'s.
    pub min_price: Option<MoneyInput>,
    /// Highest price (inclusive); its currency also filters, and must be `minPrice`'s.
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

/// The most matches a search counts: past it, `totalCount` says "at least".
pub const SEARCH_COUNT_BOUND: u64 = 10_000;

/// Whether a count is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum CountPrecision {
    /// Every match was counted.
    Exact,
    /// At least this many match; the count stopped at its bound.
    AtLeast,
}

/// The totals of a connection.
#[derive(Debug, SimpleObject)]
pub struct ListingTotals {
    /// How many items match over all pages; a listing search counts up to 10,000.
    pub total_count: u64,
    /// `EXACT`, or `AT_LEAST` when a listing search found more than 10,000 and `totalCount`
    /// stopped there.
    pub total_count_precision: CountPrecision,
}

impl ListingTotals {
    /// Totals counted to the last match.
    pub fn exact(total_count: u64) -> Self {
        Self {
            total_count,
            total_count_precision: CountPrecision::Exact,
        }
    }
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

/// The search index's filter for `filter`; a price bound that is not money, or bounds in two
/// currencies, are refused.
fn search_filter(filter: ListingFilter, sort: ListingSort) -> Result<SearchFilter> {
    let bound = |bound: Option<MoneyInput>, name: &str| {
        bound
            .map(|money| {
                money
                    .parse()
                    .map_err(|e| async_graphql::Error::new(format!("{name}: {e}")))
            })
            .transpose()
    };
    let min_price = bound(filter.min_price, "minPrice")?;
    let max_price = bound(filter.max_price, "maxPrice")?;
    let currency = match (&min_price, &max_price) {
        (Some(min), Some(max)) if min.currency != max.currency => {
            return Err(async_graphql::Error::new(format!(
                "minPrice is in {} and maxPrice in {}: give both in one currency",
                min.currency.code(),
                max.currency.code()
            )))
        }
        (Some(bound), _) | (_, Some(bound)) => Some(bound.currency.code().to_string()),
        (None, None) => None,
    };
    let format = match sort {
        ListingSort::EndingSoonest => Some(ListingFormat::Auction),
        _ => filter.format,
    };
    Ok(SearchFilter {
        brand: filter.brand,
        model: filter.model,
        reference: filter.reference,
        condition: filter.condition.map(snake),
        format: format.map(snake),
        status: filter.status.map(snake),
        seller_id: filter.seller_id.map(|id| id.to_string()),
        currency,
        min_price_minor: min_price.map(|money| money.minor),
        max_price_minor: max_price.map(|money| money.minor),
    })
}

/// `listings(filter, sort, first, after)`: the search index finds, orders and counts the
/// listings, and holds the page's documents.
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
    let filter = search_filter(filter.unwrap_or_default(), sort)?;
    let order = match sort {
        ListingSort::Newest => SearchOrder::Newest,
        ListingSort::PriceAscending => SearchOrder::PriceAscending,
        ListingSort::PriceDescending => SearchOrder::PriceDescending,
        ListingSort::EndingSoonest => SearchOrder::EndingSoonest,
    };
    let page = state
        .read_store
        .search()
        .search(
            &filter,
            order,
            offset as u64,
            limit as u64 + 1,
            SEARCH_COUNT_BOUND,
        )
        .await?;
    let has_next = page.listings.len() > limit;
    let mut connection = Connection::with_additional_fields(
        offset > 0,
        has_next,
        ListingTotals {
            total_count: page.total_count,
            total_count_precision: if page.counted_all {
                CountPrecision::Exact
            } else {
                CountPrecision::AtLeast
            },
        },
    );
    for (index, document) in page.listings.into_iter().take(limit).enumerate() {
        let listing: Listing = mongodb::bson::from_document(document)?;
        connection
            .edges
            .push(Edge::new(encode_cursor(offset + index + 1), listing));
    }
    Ok(connection)
}
