//! The `Listing` type, read from the listing read model, with its bid and price history.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{ComplexObject, Context, Enum, Result, SimpleObject};
use futures::TryStreamExt;
use mongodb::bson::{doc, DateTime, Document};
use mongodb::options::FindOptions;
use serde::Deserialize;

use super::money::Money;
use super::pagination::{decode_cursor, encode_cursor, page_size};
use crate::AppState;

/// Fixed price or auction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[serde(rename_all = "snake_case")]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum ListingFormat {
    /// Identical items at an asking price.
    FixedPrice,
    /// One item to the highest bidder.
    Auction,
}

/// Where a listing is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListingStatus {
    /// Open for buyers.
    Active,
    /// Taken down by the seller.
    Withdrawn,
    /// Sold.
    Sold,
    /// Ended without a sale.
    Unsold,
}

/// The item's condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Never used, with factory stickers.
    New,
    /// Never worn.
    Unworn,
    /// Light signs of use.
    VeryGood,
    /// Visible signs of use.
    Good,
    /// Heavy signs of use.
    Fair,
    /// For parts or repair.
    ForParts,
}

/// How an auction ended, as stored.
#[derive(Debug, Clone, Deserialize)]
pub struct OutcomeDoc {
    sold: bool,
    winner: Option<String>,
    price_minor: Option<i64>,
    reason: Option<String>,
}

/// How an auction ended.
#[derive(Debug, Clone, SimpleObject)]
pub struct AuctionResult {
    /// Whether the item sold.
    pub sold: bool,
    /// The winner's pseudonym.
    pub winner: Option<String>,
    /// What the winner pays.
    pub price: Option<Money>,
    /// Why it did not sell: `NO_BIDS` or `RESERVE_NOT_MET`.
    pub reason: Option<String>,
}

/// A listing as buyers see it. Secret maximums and the reserve amount never appear.
#[derive(Debug, Clone, SimpleObject, Deserialize)]
#[graphql(complex)]
pub struct Listing {
    /// The listing's id.
    #[serde(rename = "_id")]
    pub id: String,
    /// The last event applied to this view (compare with a mutation's `version`).
    pub version: i64,
    /// True when the query asked for a newer version than this view reached in time.
    #[serde(skip)]
    pub stale: bool,
    /// Fixed price or auction.
    pub format: ListingFormat,
    /// Where it is in its life.
    pub status: ListingStatus,
    /// The seller's id.
    pub seller_id: String,
    /// Title.
    pub title: String,
    /// Brand.
    pub brand: String,
    /// Model.
    pub model: String,
    /// Reference number.
    pub reference: String,
    /// Condition.
    pub condition: Condition,
    /// Year of production.
    pub year: Option<i32>,
    /// Whether box and papers come with it.
    pub box_and_papers: bool,
    /// Description.
    pub description: String,
    /// Image URLs.
    pub image_urls: Vec<String>,
    /// Number of identical items (fixed price); with a SKU, the most one order may take.
    pub quantity: Option<i64>,
    /// The seller's SKU the stock comes from (fixed price linked to inventory).
    pub sku: Option<String>,
    /// Units buyers can still buy, when the listing is linked to a SKU.
    pub remaining_stock: Option<i64>,
    /// Whether a listing linked to a SKU has no stock left.
    #[serde(default)]
    pub sold_out: bool,
    /// Live bids (auction).
    #[serde(default)]
    pub bid_count: i64,
    /// The leading bidder's pseudonym (auction).
    pub leader: Option<String>,
    /// Whether the auction has a reserve (its amount stays secret).
    #[serde(default)]
    pub has_reserve: bool,
    /// Whether the reserve is met.
    #[serde(default)]
    pub reserve_met: bool,
    #[graphql(skip)]
    currency: String,
    #[graphql(skip)]
    price_minor: i64,
    #[graphql(skip)]
    start_price_minor: Option<i64>,
    #[graphql(skip)]
    buy_now_minor: Option<i64>,
    #[graphql(skip)]
    #[serde(default)]
    buy_now_available: bool,
    #[graphql(skip)]
    ends_at: Option<DateTime>,
    #[graphql(skip)]
    created_at: DateTime,
    #[graphql(skip)]
    outcome: Option<OutcomeDoc>,
}

/// One bid in the public history.
#[derive(Debug, Clone, SimpleObject)]
pub struct PublicBid {
    /// The bidder's pseudonym on this auction.
    pub bidder: String,
    /// The auction's price right after this bid.
    pub price: Money,
    /// When it was placed (RFC 3339).
    pub placed_at: String,
    /// Whether the bidder later retracted it.
    pub retracted: bool,
}

/// One point in a listing's price history.
#[derive(Debug, Clone, SimpleObject)]
pub struct PricePoint {
    /// The price from then on.
    pub price: Money,
    /// When it changed (RFC 3339).
    pub changed_at: String,
    /// Why: `LISTED`, `REPRICED`, `BID`, `RETRACTION`, `RESERVE_LOWERED` or `BOUGHT_NOW`.
    pub cause: String,
}

fn rfc3339(at: DateTime) -> String {
    at.to_chrono()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[ComplexObject]
impl Listing {
    /// The asking price (fixed price) or the current price (auction).
    async fn price(&self) -> Money {
        Money::from_minor(self.price_minor, &self.currency)
    }

    /// The auction's start price.
    async fn start_price(&self) -> Option<Money> {
        self.start_price_minor
            .map(|minor| Money::from_minor(minor, &self.currency))
    }

    /// The buy-it-now price, while it is offered.
    async fn buy_now_price(&self) -> Option<Money> {
        self.buy_now_minor
            .filter(|_| self.buy_now_available && self.status == ListingStatus::Active)
            .map(|minor| Money::from_minor(minor, &self.currency))
    }

    /// When the auction ends (RFC 3339), extensions included.
    async fn ends_at(&self) -> Option<String> {
        self.ends_at.map(rfc3339)
    }

    /// When the listing was published (RFC 3339).
    async fn created_at(&self) -> String {
        rfc3339(self.created_at)
    }

    /// How the auction ended, once it has.
    async fn result(&self) -> Option<AuctionResult> {
        self.outcome.as_ref().map(|outcome| AuctionResult {
            sold: outcome.sold,
            winner: outcome.winner.clone(),
            price: outcome
                .price_minor
                .map(|minor| Money::from_minor(minor, &self.currency)),
            reason: outcome.reason.as_ref().map(|r| r.to_uppercase()),
        })
    }

    /// The public bid history, oldest first, bidders pseudonymised.
    async fn bids(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, PublicBid, EmptyFields, EmptyFields>> {
        let state = ctx.data::<AppState>()?;
        let limit = page_size(first)?;
        let offset = after
            .as_deref()
            .map(decode_cursor)
            .transpose()?
            .unwrap_or(0);
        let documents: Vec<Document> = state
            .read_store
            .database()
            .collection::<Document>("bid_history")
            .find(doc! { "listing_id": &self.id })
            .with_options(
                FindOptions::builder()
                    .sort(doc! { "sequence": 1 })
                    .skip(offset as u64)
                    .limit(limit as i64 + 1)
                    .build(),
            )
            .await?
            .try_collect()
            .await?;
        let has_next = documents.len() > limit;
        let mut connection = Connection::new(offset > 0, has_next);
        for (index, document) in documents.into_iter().take(limit).enumerate() {
            let bid = PublicBid {
                bidder: document.get_str("bidder").unwrap_or_default().to_string(),
                price: Money::from_minor(
                    document.get_i64("price_minor").unwrap_or_default(),
                    document.get_str("currency").unwrap_or_default(),
                ),
                placed_at: document
                    .get_datetime("placed_at")
                    .map(|d| rfc3339(*d))
                    .unwrap_or_default(),
                retracted: document.get_bool("retracted").unwrap_or_default(),
            };
            connection
                .edges
                .push(Edge::new(encode_cursor(offset + index + 1), bid));
        }
        Ok(connection)
    }

    /// Every change of the price, oldest first.
    async fn price_history(&self, ctx: &Context<'_>) -> Result<Vec<PricePoint>> {
        let state = ctx.data::<AppState>()?;
        let documents: Vec<Document> = state
            .read_store
            .database()
            .collection::<Document>("price_history")
            .find(doc! { "listing_id": &self.id })
            .sort(doc! { "sequence": 1 })
            .await?
            .try_collect()
            .await?;
        Ok(documents
            .into_iter()
            .map(|document| PricePoint {
                price: Money::from_minor(
                    document.get_i64("price_minor").unwrap_or_default(),
                    document.get_str("currency").unwrap_or_default(),
                ),
                changed_at: document
                    .get_datetime("changed_at")
                    .map(|d| rfc3339(*d))
                    .unwrap_or_default(),
                cause: document.get_str("cause").unwrap_or_default().to_uppercase(),
            })
            .collect())
    }
}
