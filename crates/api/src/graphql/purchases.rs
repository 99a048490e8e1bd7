//! Stock and orders: sellers manage their SKUs' stock, buyers buy from fixed-price listings, and
//! both read their orders.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{
    ComplexObject, Context, Enum, Error, ErrorExtensions, InputObject, Object, Result,
    SimpleObject, ID,
};
use futures::TryStreamExt;
use gavel_domain::inventory::{
    inventory_id, InventoryCommand, InventoryError, InventoryEvent, Reservation,
};
use gavel_domain::listing::Actor;
use gavel_domain::order::{purchase_terms, OrderCommand, PlacedOrder};
use mongodb::bson::{doc, DateTime, Document};
use mongodb::options::FindOptions;
use serde::Deserialize;
use uuid::Uuid;

use super::money::Money;
use super::mutations::{actor, listing_uuid, run_command, unavailable};
use super::pagination::{decode_cursor, encode_cursor, page_size};
use super::queries::{load_fresh, ListingTotals};
use super::user_error::UserError;
use crate::auth::Viewer;
use crate::AppState;

fn rfc3339(at: DateTime) -> String {
    at.to_chrono()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One seller SKU's stock.
#[derive(Debug, Clone, SimpleObject, Deserialize)]
pub struct InventoryItem {
    /// The seller's SKU.
    pub sku: String,
    /// The last event applied to this view (compare with a mutation's `version`).
    pub version: i64,
    /// True when the query asked for a newer version than this view reached in time.
    #[serde(skip)]
    pub stale: bool,
    /// Units physically held.
    pub on_hand: i64,
    /// Units held for orders awaiting payment.
    pub reserved: i64,
    /// Units buyers can still take: on hand − reserved.
    pub available: i64,
    /// Available at or below this raises a low-stock alert.
    pub low_stock_threshold: Option<i64>,
    /// Whether available is at or below the threshold.
    pub low_stock: bool,
}

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Stock is held; waiting for payment.
    AwaitingPayment,
    /// Paid; shipping.
    Paid,
    /// Paid and shipped.
    Completed,
    /// Payment failed; the stock went back.
    Cancelled,
    /// No payment came in time; the stock went back.
    Expired,
}

/// One purchase, as its buyer and seller see it.
#[derive(Debug, Clone, SimpleObject, Deserialize)]
#[graphql(complex, name = "Order")]
pub struct OrderView {
    /// The order's id.
    #[serde(rename = "_id")]
    pub id: String,
    /// The last event applied to this view (compare with a mutation's `version`).
    pub version: i64,
    /// True when the query asked for a newer version than this view reached in time.
    #[serde(skip)]
    pub stale: bool,
    /// Where it is.
    pub status: OrderStatus,
    /// The buyer's id.
    pub buyer_id: String,
    /// The seller's id.
    pub seller_id: String,
    /// The listing bought from.
    pub listing_id: String,
    /// The seller's SKU.
    pub sku: String,
    /// Units bought.
    pub quantity: i64,
    /// The provider's payment id, once paid.
    pub payment_id: Option<String>,
    #[graphql(skip)]
    currency: String,
    #[graphql(skip)]
    unit_price_minor: i64,
    #[graphql(skip)]
    total_minor: i64,
    #[graphql(skip)]
    placed_at: DateTime,
    #[graphql(skip)]
    expires_at: DateTime,
    #[graphql(skip)]
    paid_at: Option<DateTime>,
}

#[ComplexObject]
impl OrderView {
    /// The price of one unit when the order was placed.
    async fn unit_price(&self) -> Money {
        Money::from_minor(self.unit_price_minor, &self.currency)
    }

    /// What the buyer pays.
    async fn total(&self) -> Money {
        Money::from_minor(self.total_minor, &self.currency)
    }

    /// When the stock was reserved (RFC 3339).
    async fn placed_at(&self) -> String {
        rfc3339(self.placed_at)
    }

    /// When the order expires unless paid (RFC 3339).
    async fn expires_at(&self) -> String {
        rfc3339(self.expires_at)
    }

    /// When it was paid (RFC 3339).
    async fn paid_at(&self) -> Option<String> {
        self.paid_at.map(rfc3339)
    }
}

/// What a stock mutation answers.
pub struct InventoryPayload {
    sku: Option<String>,
    seller_id: Option<Uuid>,
    version: Option<i64>,
    user_errors: Vec<UserError>,
}

#[Object]
impl InventoryPayload {
    /// The SKU acted on; null when refused.
    async fn sku(&self) -> Option<&str> {
        self.sku.as_deref()
    }

    /// The SKU's version after the mutation; null when refused.
    async fn version(&self) -> Option<i64> {
        self.version
    }

    /// Why the mutation was refused; empty on success.
    async fn user_errors(&self) -> &[UserError] {
        &self.user_errors
    }

    /// The SKU's stock once the read model has caught up with `version` (at most 2 s).
    async fn inventory(&self, ctx: &Context<'_>) -> Result<Option<InventoryItem>> {
        let (Some(seller), Some(sku)) = (self.seller_id, &self.sku) else {
            return Ok(None);
        };
        load_inventory(ctx.data::<AppState>()?, seller, sku, self.version).await
    }
}

impl InventoryPayload {
    fn refused(error: UserError) -> Self {
        Self {
            sku: None,
            seller_id: None,
            version: None,
            user_errors: vec![error],
        }
    }
}

/// What `buy` answers.
pub struct OrderPayload {
    order_id: Option<String>,
    version: Option<i64>,
    user_errors: Vec<UserError>,
}

#[Object]
impl OrderPayload {
    /// The new order; null when refused.
    async fn order_id(&self) -> Option<ID> {
        self.order_id.clone().map(ID)
    }

    /// The order's version; pass it to `order(minVersion:)` to read your write.
    async fn version(&self) -> Option<i64> {
        self.version
    }

    /// Why the purchase was refused (e.g. `SOLD_OUT`); empty on success.
    async fn user_errors(&self) -> &[UserError] {
        &self.user_errors
    }

    /// The order once the read model has caught up with `version` (at most 2 s).
    async fn order(&self, ctx: &Context<'_>) -> Result<Option<OrderView>> {
        let Some(id) = &self.order_id else {
            return Ok(None);
        };
        load_order(ctx.data::<AppState>()?, id, self.version).await
    }
}

impl OrderPayload {
    fn refused(error: UserError) -> Self {
        Self {
            order_id: None,
            version: None,
            user_errors: vec![error],
        }
    }
}

async fn load_inventory(
    state: &AppState,
    seller: Uuid,
    sku: &str,
    min_version: Option<i64>,
) -> Result<Option<InventoryItem>> {
    let id = inventory_id(seller, sku);
    Ok(
        load_fresh::<InventoryItem>(state, "inventory", &id, min_version)
            .await?
            .map(|(mut item, stale)| {
                item.stale = stale;
                item
            }),
    )
}

async fn load_order(
    state: &AppState,
    id: &str,
    min_version: Option<i64>,
) -> Result<Option<OrderView>> {
    Ok(load_fresh::<OrderView>(state, "orders", id, min_version)
        .await?
        .map(|(mut order, stale)| {
            order.stale = stale;
            order
        }))
}

fn stock_error(error: &InventoryError) -> UserError {
    UserError::new(
        error.code(),
        error.field().map(|f| format!("input.{f}")).as_deref(),
        error.to_string(),
    )
}

/// `receiveStock` input.
#[derive(Debug, InputObject)]
pub struct ReceiveStockInput {
    /// The seller's SKU (1 to 64 letters, digits, `-`, `_`, `.`); the first receipt opens it.
    pub sku: String,
    /// Units that arrived (at least 1).
    pub quantity: u32,
    /// Why, for the audit trail (e.g. a delivery note number).
    pub reason: String,
}

/// `countStock` input.
#[derive(Debug, InputObject)]
pub struct CountStockInput {
    /// The seller's SKU.
    pub sku: String,
    /// Units counted on hand; never below what is held for orders.
    pub on_hand: u32,
    /// Why the count differs, for the audit trail.
    pub reason: String,
}

/// `setLowStockThreshold` input.
#[derive(Debug, InputObject)]
pub struct LowStockThresholdInput {
    /// The seller's SKU.
    pub sku: String,
    /// Available at or below this raises a low-stock event; null turns alerts off.
    pub threshold: Option<u32>,
}

/// `buy` input.
#[derive(Debug, InputObject)]
pub struct BuyInput {
    /// A fixed-price listing linked to a SKU.
    pub listing_id: ID,
    /// Units to buy (1 to the listing's quantity).
    #[graphql(default = 1)]
    pub quantity: u32,
}

/// Stock and purchase mutations.
#[derive(Default)]
pub struct PurchaseMutations;

impl PurchaseMutations {
    async fn stock(
        ctx: &Context<'_>,
        sku: String,
        command: impl FnOnce(Actor, String) -> InventoryCommand,
    ) -> Result<InventoryPayload> {
        let seller = actor(ctx)?;
        let seller_id = seller.user_id;
        let state = ctx.data::<AppState>()?;
        let id = inventory_id(seller_id, &sku);
        let outcome = run_command(
            ctx,
            &state.inventory,
            &id,
            command(seller, sku.clone()),
            stock_error,
        )
        .await?;
        Ok(match outcome {
            Ok(accepted) => InventoryPayload {
                sku: Some(sku),
                seller_id: Some(seller_id),
                version: Some(accepted.version as i64),
                user_errors: vec![],
            },
            Err(error) => InventoryPayload::refused(error),
        })
    }
}

#[Object]
impl PurchaseMutations {
    /// Records units arriving for one of the caller's SKUs (sellers only).
    async fn receive_stock(
        &self,
        ctx: &Context<'_>,
        input: ReceiveStockInput,
    ) -> Result<InventoryPayload> {
        Self::stock(ctx, input.sku, |actor, sku| InventoryCommand::Receive {
            actor,
            sku,
            quantity: input.quantity,
            reason: input.reason,
        })
        .await
    }

    /// Records a stock count for one of the caller's SKUs (sellers only).
    async fn count_stock(
        &self,
        ctx: &Context<'_>,
        input: CountStockInput,
    ) -> Result<InventoryPayload> {
        Self::stock(ctx, input.sku, |actor, sku| InventoryCommand::Count {
            actor,
            sku,
            on_hand: input.on_hand,
            reason: input.reason,
        })
        .await
    }

    /// Sets or clears the low-stock threshold of one of the caller's SKUs (sellers only).
    async fn set_low_stock_threshold(
        &self,
        ctx: &Context<'_>,
        input: LowStockThresholdInput,
    ) -> Result<InventoryPayload> {
        Self::stock(ctx, input.sku, |actor, sku| {
            InventoryCommand::SetLowStockThreshold {
                actor,
                sku,
                threshold: input.threshold,
            }
        })
        .await
    }

    /// Buys units of a fixed-price listing (buyers only): the stock is reserved at once and the
    /// order awaits payment; unpaid, it expires and the stock goes back. `SOLD_OUT` when fewer
    /// units are available than asked for.
    async fn buy(&self, ctx: &Context<'_>, input: BuyInput) -> Result<OrderPayload> {
        let buyer = actor(ctx)?;
        let state = ctx.data::<AppState>()?;
        let listing_id = match listing_uuid(&input.listing_id) {
            Ok(id) => id,
            Err(error) => return Ok(OrderPayload::refused(error)),
        };
        let (listing, _) = state
            .listings
            .current(&listing_id.to_string())
            .await
            .map_err(|e| unavailable(&e.to_string()))?;
        let terms = match purchase_terms(&listing, &buyer, input.quantity) {
            Ok(terms) => terms,
            Err(error) => {
                return Ok(OrderPayload::refused(UserError::new(
                    error.code(),
                    error.field().map(|f| format!("input.{f}")).as_deref(),
                    error.to_string(),
                )))
            }
        };
        let order_id = Uuid::now_v7();
        let reservation = Reservation {
            order_id,
            buyer_id: buyer.user_id,
            listing_id,
            quantity: input.quantity,
            unit_price: terms.unit_price,
        };
        let reserved = run_command(
            ctx,
            &state.inventory,
            &inventory_id(terms.seller_id, &terms.sku),
            InventoryCommand::Reserve(reservation),
            |error| match error {
                // A SKU never stocked has nothing to sell: to the buyer, that is sold out.
                InventoryError::NotFound => {
                    UserError::new("SOLD_OUT", Some("input.quantity"), "sold out")
                }
                other => stock_error(other),
            },
        )
        .await?;
        let accepted = match reserved {
            Ok(accepted) => accepted,
            Err(error) => return Ok(OrderPayload::refused(error)),
        };
        let order = accepted
            .events
            .iter()
            .find(|event| matches!(event, InventoryEvent::StockReserved { .. }))
            .and_then(|event| {
                PlacedOrder::for_reservation(
                    event,
                    terms.seller_id,
                    &terms.sku,
                    state.payment_timeout,
                )
            })
            .ok_or_else(|| Error::new("the reservation produced no order"))?;
        // If this fails after the reservation, the purchase process places the same order from
        // the StockReserved event.
        let placed = run_command(
            ctx,
            &state.orders,
            &order_id.to_string(),
            OrderCommand::Place(order),
            |error| UserError::new(error.code(), None, error.to_string()),
        )
        .await?;
        Ok(match placed {
            Ok(accepted) => OrderPayload {
                order_id: Some(order_id.to_string()),
                version: Some(accepted.version as i64),
                user_errors: vec![],
            },
            Err(error) => OrderPayload::refused(error),
        })
    }
}

/// Whose side of an order to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Enum)]
pub enum OrderSide {
    /// Orders the caller placed.
    #[default]
    Buyer,
    /// Orders placed with the caller.
    Seller,
}

fn viewer<'a>(ctx: &'a Context<'_>) -> Result<&'a Viewer> {
    ctx.data_opt::<Viewer>().ok_or_else(|| {
        Error::new("sign in to do this").extend_with(|_, e| e.set("code", "UNAUTHENTICATED"))
    })
}

/// Reads one page of `collection` matching `filter` in `order`, as a connection with a total.
async fn page<T: serde::de::DeserializeOwned + async_graphql::OutputType>(
    state: &AppState,
    collection: &str,
    filter: Document,
    order: Document,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<String, T, ListingTotals, EmptyFields>> {
    let limit = page_size(first)?;
    let offset = after
        .as_deref()
        .map(decode_cursor)
        .transpose()?
        .unwrap_or(0);
    let collection = state
        .read_store
        .database()
        .collection::<Document>(collection);
    let total_count = collection.count_documents(filter.clone()).await?;
    let documents: Vec<Document> = collection
        .find(filter)
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
        Connection::with_additional_fields(offset > 0, has_next, ListingTotals::exact(total_count));
    for (index, document) in documents.into_iter().take(limit).enumerate() {
        let node: T = mongodb::bson::from_document(document)?;
        connection
            .edges
            .push(Edge::new(encode_cursor(offset + index + 1), node));
    }
    Ok(connection)
}

/// Stock and order queries; each answers only about the caller's own SKUs and orders.
#[derive(Default)]
pub struct PurchaseQueries;

#[Object]
impl PurchaseQueries {
    /// One of the caller's SKUs. With `minVersion`, waits up to 2 s for the read model to reach
    /// it.
    async fn inventory(
        &self,
        ctx: &Context<'_>,
        sku: String,
        min_version: Option<i64>,
    ) -> Result<Option<InventoryItem>> {
        let seller = viewer(ctx)?.user_id;
        load_inventory(ctx.data::<AppState>()?, seller, &sku, min_version).await
    }

    /// The caller's SKUs, by SKU; `first` is at most 100.
    async fn my_inventory(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, InventoryItem, ListingTotals, EmptyFields>> {
        let seller = viewer(ctx)?.user_id.to_string();
        page(
            ctx.data::<AppState>()?,
            "inventory",
            doc! { "seller_id": seller },
            doc! { "sku": 1 },
            first,
            after,
        )
        .await
    }

    /// One order, if the caller is its buyer or seller. With `minVersion`, waits up to 2 s for the
    /// read model to reach it.
    async fn order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        min_version: Option<i64>,
    ) -> Result<Option<OrderView>> {
        let caller = viewer(ctx)?.user_id.to_string();
        let order = load_order(ctx.data::<AppState>()?, &id, min_version).await?;
        Ok(order.filter(|order| order.buyer_id == caller || order.seller_id == caller))
    }

    /// The caller's orders as buyer (default) or seller, newest first, optionally of one status.
    async fn my_orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] side: OrderSide,
        status: Option<OrderStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, OrderView, ListingTotals, EmptyFields>> {
        let caller = viewer(ctx)?.user_id.to_string();
        let mut filter = match side {
            OrderSide::Buyer => doc! { "buyer_id": caller },
            OrderSide::Seller => doc! { "seller_id": caller },
        };
        if let Some(status) = status {
            filter.insert("status", status_name(status));
        }
        page(
            ctx.data::<AppState>()?,
            "orders",
            filter,
            doc! { "placed_at": -1, "_id": -1 },
            first,
            after,
        )
        .await
    }
}

/// An order status as the read model spells it.
fn status_name(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::AwaitingPayment => "awaiting_payment",
        OrderStatus::Paid => "paid",
        OrderStatus::Completed => "completed",
        OrderStatus::Cancelled => "cancelled",
        OrderStatus::Expired => "expired",
    }
}
