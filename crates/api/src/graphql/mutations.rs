//! Listing mutations. Each runs one command as the signed-in user and answers with the listing's
//! new `version` and `userErrors` for business rejections; `listing` in the payload waits
//! (bounded) for the read model to reach that version.

use async_graphql::{Context, Enum, Error, ErrorExtensions, InputObject, Object, Result, ID};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use gavel_commands::{Accepted, CommandBus, CommandContext, CommandError};
use gavel_domain::listing::{
    Actor, AuctionTerms, BuyNowPolicy, ClosePolicy, Condition as DomainCondition, FixedPriceTerms,
    ItemDetails, ListingCommand, DEFAULT_SOFT_CLOSE_SECS,
};
use uuid::Uuid;

use super::listing::{Condition, Listing};
use super::money::MoneyInput;
use super::queries::load_listing;
use super::user_error::UserError;
use crate::auth::Viewer;
use crate::{AppState, IdempotencyKey};

/// What every listing mutation answers.
pub struct ListingPayload {
    listing_id: Option<String>,
    version: Option<i64>,
    user_errors: Vec<UserError>,
}

#[Object]
impl ListingPayload {
    /// The listing the mutation acted on; null when it was refused.
    async fn listing_id(&self) -> Option<ID> {
        self.listing_id.clone().map(ID)
    }

    /// The listing's version after the mutation; pass it to `listing(minVersion:)` to read your
    /// write. Null when the mutation was refused.
    async fn version(&self) -> Option<i64> {
        self.version
    }

    /// Why the mutation was refused; empty on success.
    async fn user_errors(&self) -> &[UserError] {
        &self.user_errors
    }

    /// The listing as the read model shows it once it has caught up with `version` (at most 2 s;
    /// past that it is marked `stale`).
    async fn listing(&self, ctx: &Context<'_>) -> Result<Option<Listing>> {
        let Some(id) = &self.listing_id else {
            return Ok(None);
        };
        load_listing(ctx.data::<AppState>()?, id, self.version).await
    }
}

impl ListingPayload {
    fn refused(error: UserError) -> Self {
        Self {
            listing_id: None,
            version: None,
            user_errors: vec![error],
        }
    }
}

/// Runs `command` on listing `id` for the caller and turns the outcome into a payload.
async fn execute(ctx: &Context<'_>, id: Uuid, command: ListingCommand) -> Result<ListingPayload> {
    let state = ctx.data::<AppState>()?;
    let outcome = run_command(
        ctx,
        &state.listings,
        &id.to_string(),
        command,
        |rejection| {
            UserError::new(
                rejection.code(),
                rejection.field().map(|f| format!("input.{f}")).as_deref(),
                rejection.to_string(),
            )
        },
    )
    .await?;
    Ok(match outcome {
        Ok(accepted) => ListingPayload {
            listing_id: Some(id.to_string()),
            version: Some(accepted.version as i64),
            user_errors: vec![],
        },
        Err(error) => ListingPayload::refused(error),
    })
}

/// Runs `command` on aggregate `id` through `bus` as the caller, with the request's idempotency
/// key. Answers what the aggregate accepted, or the user error `reject` makes of a business
/// rejection; contention and outages are top-level errors (`TOO_BUSY`, `UNAVAILABLE`).
pub(super) async fn run_command<A>(
    ctx: &Context<'_>,
    bus: &CommandBus<A>,
    id: &str,
    command: A::Command,
    reject: impl FnOnce(&A::Error) -> UserError,
) -> Result<std::result::Result<Accepted<A>, UserError>>
where
    A: Aggregate + Clone + 'static,
    A::Command: Clone + Send + Sync + 'static,
    A::Error: Send + Sync + 'static,
    A::Services: 'static,
{
    let state = ctx.data::<AppState>()?;
    let viewer = ctx.data_opt::<Viewer>();
    let mut context = CommandContext::new(viewer.map(|v| v.user_id), state.clock.now());
    context.idempotency_key = ctx.data_opt::<IdempotencyKey>().map(|key| key.0.clone());
    match bus.execute(id, command, &context).await {
        Ok(accepted) => Ok(Ok(accepted)),
        Err(CommandError::Rejected(rejection)) => Ok(Err(reject(&rejection))),
        Err(error @ CommandError::Contended { .. }) => {
            Err(Error::new(error.to_string()).extend_with(|_, e| e.set("code", "TOO_BUSY")))
        }
        Err(CommandError::Store(message)) => Err(unavailable(&message)),
    }
}

/// The top-level error for an event-store outage; the details go to the log, not the client.
pub(super) fn unavailable(message: &str) -> Error {
    tracing::error!(%message, "event store failure");
    Error::new("the event store is unavailable; try again")
        .extend_with(|_, e| e.set("code", "UNAVAILABLE"))
}

/// The caller as a domain actor; mutations need a signed-in user.
pub(super) fn actor(ctx: &Context<'_>) -> Result<Actor> {
    let viewer = ctx.data_opt::<Viewer>().ok_or_else(|| {
        Error::new("sign in to do this").extend_with(|_, e| e.set("code", "UNAUTHENTICATED"))
    })?;
    Ok(Actor::new(viewer.user_id, viewer.roles.iter().copied()))
}

pub(super) fn listing_uuid(id: &ID) -> std::result::Result<Uuid, UserError> {
    Uuid::parse_str(id)
        .map_err(|_| UserError::new("INVALID_INPUT", Some("input.listingId"), "not a listing id"))
}

pub(super) fn money(
    input: &MoneyInput,
    field: &str,
) -> std::result::Result<gavel_domain::Money, UserError> {
    input.parse().map_err(|e| {
        UserError::new(
            "INVALID_INPUT",
            Some(&format!("input.{field}")),
            e.to_string(),
        )
    })
}

/// When an auction's buy-it-now price disappears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
pub enum BuyNowPolicyInput {
    /// At the first bid.
    #[default]
    FirstBid,
    /// When the reserve is met.
    ReserveMet,
}

/// How an auction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
pub enum ClosePolicyInput {
    /// A late bid extends the end by the soft-close window.
    #[default]
    SoftClose,
    /// The end never moves.
    HardClose,
}

/// Auction terms for `createListing`.
#[derive(Debug, InputObject)]
pub struct AuctionInput {
    /// The least first bid.
    pub start_price: MoneyInput,
    /// The secret reserve.
    pub reserve: Option<MoneyInput>,
    /// A price that ends the auction at once.
    pub buy_now: Option<MoneyInput>,
    /// When buy-it-now disappears (default at the first bid).
    pub buy_now_policy: Option<BuyNowPolicyInput>,
    /// Soft (default) or hard close.
    pub close_policy: Option<ClosePolicyInput>,
    /// Soft-close window in seconds (default 120).
    pub soft_close_seconds: Option<u32>,
    /// When it ends (RFC 3339).
    pub ends_at: String,
}

/// Fixed-price terms for `createListing`.
#[derive(Debug, InputObject)]
pub struct FixedPriceInput {
    /// The asking price per item.
    pub price: MoneyInput,
    /// How many identical items.
    pub quantity: u32,
    /// The seller's SKU.
    pub sku: Option<String>,
}

/// `createListing` input: the item, and exactly one of `auction` or `fixedPrice`.
#[derive(Debug, InputObject)]
pub struct CreateListingInput {
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
    pub year: Option<u16>,
    /// Whether box and papers come with it.
    #[graphql(default)]
    pub box_and_papers: bool,
    /// Description.
    #[graphql(default)]
    pub description: String,
    /// Image URLs.
    #[graphql(default)]
    pub image_urls: Vec<String>,
    /// Auction terms.
    pub auction: Option<AuctionInput>,
    /// Fixed-price terms.
    pub fixed_price: Option<FixedPriceInput>,
}

fn domain_condition(condition: Condition) -> DomainCondition {
    match condition {
        Condition::New => DomainCondition::New,
        Condition::Unworn => DomainCondition::Unworn,
        Condition::VeryGood => DomainCondition::VeryGood,
        Condition::Good => DomainCondition::Good,
        Condition::Fair => DomainCondition::Fair,
        Condition::ForParts => DomainCondition::ForParts,
    }
}

fn listing_terms(
    input: &CreateListingInput,
) -> std::result::Result<gavel_domain::listing::ListingTerms, UserError> {
    use gavel_domain::listing::ListingTerms;
    match (&input.auction, &input.fixed_price) {
        (Some(auction), None) => {
            let ends_at: DateTime<Utc> = DateTime::parse_from_rfc3339(&auction.ends_at)
                .map_err(|e| {
                    UserError::new(
                        "INVALID_INPUT",
                        Some("input.auction.endsAt"),
                        format!("not an RFC 3339 time: {e}"),
                    )
                })?
                .with_timezone(&Utc);
            let optional = |value: &Option<MoneyInput>, field: &str| {
                value.as_ref().map(|m| money(m, field)).transpose()
            };
            Ok(ListingTerms::Auction(AuctionTerms {
                start_price: money(&auction.start_price, "auction.startPrice")?,
                reserve: optional(&auction.reserve, "auction.reserve")?,
                buy_now: optional(&auction.buy_now, "auction.buyNow")?,
                buy_now_policy: match auction.buy_now_policy.unwrap_or_default() {
                    BuyNowPolicyInput::FirstBid => BuyNowPolicy::FirstBid,
                    BuyNowPolicyInput::ReserveMet => BuyNowPolicy::ReserveMet,
                },
                close_policy: match auction.close_policy.unwrap_or_default() {
                    ClosePolicyInput::SoftClose => ClosePolicy::SoftClose {
                        window_secs: auction
                            .soft_close_seconds
                            .unwrap_or(DEFAULT_SOFT_CLOSE_SECS),
                    },
                    ClosePolicyInput::HardClose => ClosePolicy::HardClose,
                },
                ends_at,
            }))
        }
        (None, Some(fixed)) => Ok(ListingTerms::FixedPrice(FixedPriceTerms {
            price: money(&fixed.price, "fixedPrice.price")?,
            quantity: fixed.quantity,
            sku: fixed.sku.clone(),
        })),
        _ => Err(UserError::new(
            "INVALID_INPUT",
            Some("input"),
            "give exactly one of auction or fixedPrice",
        )),
    }
}

/// A listing id plus an amount.
#[derive(Debug, InputObject)]
pub struct ListingAmountInput {
    /// The listing.
    pub listing_id: ID,
    /// The amount.
    pub amount: MoneyInput,
}

/// A listing id.
#[derive(Debug, InputObject)]
pub struct ListingIdInput {
    /// The listing.
    pub listing_id: ID,
}

/// Listing mutations.
#[derive(Default)]
pub struct ListingMutations;

#[Object]
impl ListingMutations {
    /// Publishes a listing (verified sellers only).
    async fn create_listing(
        &self,
        ctx: &Context<'_>,
        input: CreateListingInput,
    ) -> Result<ListingPayload> {
        let seller = actor(ctx)?;
        let terms = match listing_terms(&input) {
            Ok(terms) => terms,
            Err(error) => return Ok(ListingPayload::refused(error)),
        };
        let id = Uuid::now_v7();
        let item = ItemDetails {
            title: input.title,
            brand: input.brand,
            model: input.model,
            reference: input.reference,
            condition: domain_condition(input.condition),
            year: input.year,
            box_and_papers: input.box_and_papers,
            description: input.description,
            image_urls: input.image_urls,
        };
        execute(
            ctx,
            id,
            ListingCommand::CreateListing {
                listing_id: id,
                seller,
                item,
                terms,
            },
        )
        .await
    }

    /// Changes a fixed-price listing's asking price (its seller only).
    async fn reprice_listing(
        &self,
        ctx: &Context<'_>,
        input: ListingAmountInput,
    ) -> Result<ListingPayload> {
        let actor = actor(ctx)?;
        let (id, price) = match (
            listing_uuid(&input.listing_id),
            money(&input.amount, "amount"),
        ) {
            (Ok(id), Ok(price)) => (id, price),
            (Err(e), _) | (_, Err(e)) => return Ok(ListingPayload::refused(e)),
        };
        execute(ctx, id, ListingCommand::Reprice { actor, price }).await
    }

    /// Withdraws a listing (its seller only; auctions with bids only more than 12 h before the end).
    async fn withdraw_listing(
        &self,
        ctx: &Context<'_>,
        input: ListingIdInput,
    ) -> Result<ListingPayload> {
        let actor = actor(ctx)?;
        match listing_uuid(&input.listing_id) {
            Ok(id) => execute(ctx, id, ListingCommand::Withdraw { actor }).await,
            Err(e) => Ok(ListingPayload::refused(e)),
        }
    }

    /// Lowers an auction's reserve (its seller only; never raises it).
    async fn lower_reserve(
        &self,
        ctx: &Context<'_>,
        input: ListingAmountInput,
    ) -> Result<ListingPayload> {
        let actor = actor(ctx)?;
        let (id, reserve) = match (
            listing_uuid(&input.listing_id),
            money(&input.amount, "amount"),
        ) {
            (Ok(id), Ok(reserve)) => (id, reserve),
            (Err(e), _) | (_, Err(e)) => return Ok(ListingPayload::refused(e)),
        };
        execute(ctx, id, ListingCommand::LowerReserve { actor, reserve }).await
    }

    /// Bids on an auction with a secret maximum (`amount`).
    async fn place_bid(
        &self,
        ctx: &Context<'_>,
        input: ListingAmountInput,
    ) -> Result<ListingPayload> {
        let bidder = actor(ctx)?;
        let (id, max_amount) = match (
            listing_uuid(&input.listing_id),
            money(&input.amount, "amount"),
        ) {
            (Ok(id), Ok(max)) => (id, max),
            (Err(e), _) | (_, Err(e)) => return Ok(ListingPayload::refused(e)),
        };
        let payload = execute(
            ctx,
            id,
            ListingCommand::PlaceBid {
                bid_id: Uuid::now_v7(),
                bidder,
                max_amount,
            },
        )
        .await?;
        Ok(rename_field(payload, "input.maxAmount", "input.amount"))
    }

    /// Retracts the caller's bids, within the retraction rules.
    async fn retract_bid(
        &self,
        ctx: &Context<'_>,
        input: ListingIdInput,
    ) -> Result<ListingPayload> {
        let bidder = actor(ctx)?;
        match listing_uuid(&input.listing_id) {
            Ok(id) => execute(ctx, id, ListingCommand::RetractBid { bidder }).await,
            Err(e) => Ok(ListingPayload::refused(e)),
        }
    }

    /// Buys an auction's item at its buy-it-now price, ending the auction.
    async fn buy_now(&self, ctx: &Context<'_>, input: ListingIdInput) -> Result<ListingPayload> {
        let buyer = actor(ctx)?;
        match listing_uuid(&input.listing_id) {
            Ok(id) => execute(ctx, id, ListingCommand::BuyNow { buyer }).await,
            Err(e) => Ok(ListingPayload::refused(e)),
        }
    }
}

fn rename_field(mut payload: ListingPayload, from: &str, to: &str) -> ListingPayload {
    let from: Vec<String> = from.split('.').map(String::from).collect();
    for error in &mut payload.user_errors {
        if error.field.as_ref() == Some(&from) {
            error.field = Some(to.split('.').map(String::from).collect());
        }
    }
    payload
}
