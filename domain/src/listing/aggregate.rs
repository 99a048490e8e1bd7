//! The listing aggregate: its state, the rules that guard its commands, and how events change it.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::commands::{
    Actor, AuctionTerms, BuyNowPolicy, ClosePolicy, ItemDetails, ListingCommand, ListingTerms,
};
use super::errors::ListingError;
use super::events::{AuctionOutcome, ListingEvent, PublicAuctionState, UnsoldReason};
use super::proxy::{BidderMaxima, Resolution};
use super::{LATE_PHASE, LATE_RETRACTION_WINDOW};
use crate::clock::Clock;
use crate::increment::price_plus_increment;
use crate::money::Money;
use crate::role::Role;

/// What the listing needs from outside: the time.
#[derive(Clone)]
pub struct ListingServices {
    /// The clock every time rule reads.
    pub clock: Arc<dyn Clock>,
}

/// Where a listing is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListingStatus {
    /// Not created yet.
    #[default]
    Draft,
    /// Open for buyers.
    Active,
    /// Taken down by the seller.
    Withdrawn,
    /// Sold (auction won, or bought now).
    Sold,
    /// Ended without a sale.
    Unsold,
}

/// One accepted bid, secret maximum included (write model and auditors only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bid {
    /// The bid's id.
    pub bid_id: Uuid,
    /// Who bid.
    pub bidder_id: Uuid,
    /// The bidder's maximum.
    pub max_amount: Money,
    /// When it was accepted.
    pub placed_at: DateTime<Utc>,
}

/// A listing: fixed price or auction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    id: Option<Uuid>,
    seller_id: Option<Uuid>,
    item: Option<ItemDetails>,
    terms: Option<ListingTerms>,
    status: ListingStatus,
    /// Asking price (fixed price) or current price (auction).
    price: Option<Money>,
    reserve: Option<Money>,
    ends_at: Option<DateTime<Utc>>,
    /// A persistent vector, shared between copies of the state: the command bus copies the state
    /// per command, and an auction's bids are by far its largest part. Adding a bid to a shared
    /// `Arc<Vec>` would copy the whole list, a cost growing with every bid; here it copies one
    /// chunk.
    bids: imbl::Vector<Bid>,
    /// Each live bidder's highest maximum, kept as bids arrive and leave.
    maxima: BidderMaxima,
    leader_id: Option<Uuid>,
    reserve_met: bool,
    buy_now_available: bool,
    outcome: Option<AuctionOutcome>,
    created_at: Option<DateTime<Utc>>,
}

impl Listing {
    /// The listing's id, once created.
    pub fn id(&self) -> Option<Uuid> {
        self.id
    }

    /// The seller, once created.
    pub fn seller_id(&self) -> Option<Uuid> {
        self.seller_id
    }

    /// What is sold.
    pub fn item(&self) -> Option<&ItemDetails> {
        self.item.as_ref()
    }

    /// How it is sold, secret reserve included.
    pub fn terms(&self) -> Option<&ListingTerms> {
        self.terms.as_ref()
    }

    /// Where it is in its life.
    pub fn status(&self) -> ListingStatus {
        self.status
    }

    /// The asking price (fixed price) or the current price (auction).
    pub fn price(&self) -> Option<&Money> {
        self.price.as_ref()
    }

    /// The current (secret) reserve.
    pub fn reserve(&self) -> Option<&Money> {
        self.reserve.as_ref()
    }

    /// When the auction ends, extensions included.
    pub fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.ends_at
    }

    /// The live bids with their maximums, in acceptance order.
    pub fn bids(&self) -> &imbl::Vector<Bid> {
        &self.bids
    }

    /// The leading bidder.
    pub fn leader_id(&self) -> Option<Uuid> {
        self.leader_id
    }

    /// Whether the leader's maximum reaches the reserve.
    pub fn reserve_met(&self) -> bool {
        self.reserve_met
    }

    /// Whether buy-it-now is still offered.
    pub fn buy_now_available(&self) -> bool {
        self.buy_now_available
    }

    /// How the auction ended, once it has.
    pub fn outcome(&self) -> Option<&AuctionOutcome> {
        self.outcome.as_ref()
    }

    /// When it was created.
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        self.created_at
    }

    fn auction(&self) -> Result<&AuctionTerms, ListingError> {
        match &self.terms {
            Some(ListingTerms::Auction(terms)) => Ok(terms),
            Some(ListingTerms::FixedPrice(_)) => {
                Err(ListingError::WrongFormat("this applies to auctions only"))
            }
            None => Err(ListingError::NotFound),
        }
    }

    fn currency_of(&self, amount: &Money, field: &'static str) -> Result<(), ListingError> {
        match &self.price {
            Some(price) if price.currency != amount.currency => {
                Err(ListingError::CurrencyMismatch {
                    expected: price.currency.to_string(),
                    field,
                })
            }
            _ => Ok(()),
        }
    }

    fn require_active(&self) -> Result<(), ListingError> {
        match self.status {
            ListingStatus::Draft => Err(ListingError::NotFound),
            ListingStatus::Active => Ok(()),
            _ => Err(ListingError::NotActive),
        }
    }

    fn require_owner(&self, actor: &Actor) -> Result<(), ListingError> {
        if self.seller_id == Some(actor.user_id) {
            Ok(())
        } else {
            Err(ListingError::NotOwner)
        }
    }

    fn require_running(&self, now: DateTime<Utc>) -> Result<(), ListingError> {
        self.require_active()?;
        match self.ends_at {
            Some(ends_at) if now >= ends_at => Err(ListingError::AuctionEnded),
            _ => Ok(()),
        }
    }

    fn resolve_with(&self, maxima: &BidderMaxima, reserve: Option<&Money>) -> Resolution {
        let start = match &self.terms {
            Some(ListingTerms::Auction(terms)) => terms.start_price,
            _ => self.price.expect("auction created with a price"),
        };
        maxima.resolve(&start, reserve)
    }

    /// The public state of this auction with `bid_count` live bids whose maxima are `maxima`.
    fn public_state(
        &self,
        maxima: &BidderMaxima,
        bid_count: usize,
        reserve: Option<&Money>,
    ) -> PublicAuctionState {
        let resolution = self.resolve_with(maxima, reserve);
        let policy = self.auction().map(|t| t.buy_now_policy).unwrap_or_default();
        let buy_now_gone = match policy {
            BuyNowPolicy::FirstBid => bid_count > 0,
            BuyNowPolicy::ReserveMet => bid_count > 0 && resolution.reserve_met,
        };
        PublicAuctionState {
            price: resolution.price,
            leader_id: resolution.leader.map(|(id, _)| id),
            reserve_met: resolution.reserve_met,
            buy_now_available: self.buy_now_available && !buy_now_gone,
            bid_count: bid_count as u32,
        }
    }

    fn apply_public_state(&mut self, state: &PublicAuctionState) {
        self.price = Some(state.price);
        self.leader_id = state.leader_id;
        self.reserve_met = state.reserve_met;
        self.buy_now_available = state.buy_now_available;
    }

    fn create(
        &self,
        listing_id: Uuid,
        seller: Actor,
        item: ItemDetails,
        terms: ListingTerms,
        now: DateTime<Utc>,
    ) -> Result<ListingEvent, ListingError> {
        if self.status != ListingStatus::Draft {
            return Err(ListingError::AlreadyExists);
        }
        if !seller.has(Role::VerifiedSeller) {
            return Err(ListingError::SellerNotVerified);
        }
        validate_item(&item, now)?;
        validate_terms(&terms, now)?;
        Ok(ListingEvent::ListingCreated {
            listing_id,
            seller_id: seller.user_id,
            item,
            terms,
            created_at: now,
        })
    }

    fn place_bid(
        &self,
        bid_id: Uuid,
        bidder: &Actor,
        max_amount: Money,
        now: DateTime<Utc>,
    ) -> Result<Vec<ListingEvent>, ListingError> {
        let terms = self.auction()?;
        self.require_running(now)?;
        if self.seller_id == Some(bidder.user_id) {
            return Err(ListingError::SellerCannotBid);
        }
        self.currency_of(&max_amount, "maxAmount")?;
        let resolution = self.resolve_with(&self.maxima, self.reserve.as_ref());
        let minimum = match &resolution.leader {
            // The leader may raise their own maximum; it must go up.
            Some((leader, leader_max)) if *leader == bidder.user_id => {
                Money::from_minor(leader_max.minor + 1, leader_max.currency)
            }
            Some(_) => price_plus_increment(&resolution.price),
            None => terms.start_price,
        };
        if max_amount.minor < minimum.minor {
            return Err(ListingError::BidTooLow {
                minimum: minimum.to_string(),
            });
        }
        let mut maxima = self.maxima.clone();
        maxima.add(
            &Bid {
                bid_id,
                bidder_id: bidder.user_id,
                max_amount,
                placed_at: now,
            },
            self.bids.len(),
        );
        let state = self.public_state(&maxima, self.bids.len() + 1, self.reserve.as_ref());
        let mut events = vec![ListingEvent::BidPlaced {
            bid_id,
            bidder_id: bidder.user_id,
            max_amount,
            state,
            placed_at: now,
        }];
        if let (ClosePolicy::SoftClose { window_secs }, Some(ends_at)) =
            (terms.close_policy, self.ends_at)
        {
            let window = Duration::seconds(i64::from(window_secs));
            if ends_at - now < window {
                events.push(ListingEvent::AuctionExtended {
                    old_ends_at: ends_at,
                    new_ends_at: now + window,
                });
            }
        }
        Ok(events)
    }

    fn retract(&self, bidder: &Actor, now: DateTime<Utc>) -> Result<ListingEvent, ListingError> {
        self.auction()?;
        self.require_running(now)?;
        let own: Vec<&Bid> = self
            .bids
            .iter()
            .filter(|bid| bid.bidder_id == bidder.user_id)
            .collect();
        if own.is_empty() {
            return Err(ListingError::RetractionNotAllowed(
                "you have no bid on this auction",
            ));
        }
        let time_left = self.ends_at.map_or(Duration::MAX, |ends_at| ends_at - now);
        let retracted: Vec<Uuid> = if time_left > LATE_PHASE {
            own.iter().map(|bid| bid.bid_id).collect()
        } else {
            own.iter()
                .filter(|bid| now - bid.placed_at <= LATE_RETRACTION_WINDOW)
                .map(|bid| bid.bid_id)
                .collect()
        };
        if retracted.is_empty() {
            return Err(ListingError::RetractionNotAllowed(
                "with 12 hours or less left, only a bid placed within the last hour may be retracted",
            ));
        }
        let remaining: Vec<Bid> = self
            .bids
            .iter()
            .filter(|bid| !retracted.contains(&bid.bid_id))
            .cloned()
            .collect();
        Ok(ListingEvent::BidsRetracted {
            bidder_id: bidder.user_id,
            bid_ids: retracted,
            state: self.public_state(
                &BidderMaxima::from_bids(&remaining),
                remaining.len(),
                self.reserve.as_ref(),
            ),
            at: now,
        })
    }

    fn close(&self, now: DateTime<Utc>) -> Result<Option<ListingEvent>, ListingError> {
        self.auction()?;
        if self.status != ListingStatus::Active {
            // Closing is idempotent: an ended, sold or withdrawn auction stays as it is.
            return Ok(None);
        }
        if self.ends_at.is_some_and(|ends_at| now < ends_at) {
            return Err(ListingError::NotYetEnded);
        }
        let outcome = match (self.leader_id, &self.price) {
            (None, _) => AuctionOutcome::Unsold {
                reason: UnsoldReason::NoBids,
            },
            (Some(_), _) if !self.reserve_met => AuctionOutcome::Unsold {
                reason: UnsoldReason::ReserveNotMet,
            },
            (Some(winner_id), Some(price)) => AuctionOutcome::Sold {
                winner_id,
                price: *price,
            },
            (Some(_), None) => unreachable!("an auction always has a price"),
        };
        Ok(Some(ListingEvent::AuctionClosed { outcome, at: now }))
    }
}

fn validate_item(item: &ItemDetails, now: DateTime<Utc>) -> Result<(), ListingError> {
    let required = [
        ("title", &item.title, 200),
        ("brand", &item.brand, 100),
        ("model", &item.model, 100),
        ("reference", &item.reference, 100),
    ];
    for (field, value, max) in required {
        if value.trim().is_empty() {
            return Err(ListingError::invalid(field, format!("{field} is required")));
        }
        if value.chars().count() > max {
            return Err(ListingError::invalid(
                field,
                format!("{field} is longer than {max} characters"),
            ));
        }
    }
    if item.description.chars().count() > 10_000 {
        return Err(ListingError::invalid(
            "description",
            "description is longer than 10000 characters",
        ));
    }
    let next_year = now
        .format("%Y")
        .to_string()
        .parse::<u16>()
        .unwrap_or(u16::MAX)
        + 1;
    if item
        .year
        .is_some_and(|year| !(1800..=next_year).contains(&year))
    {
        return Err(ListingError::invalid(
            "year",
            format!("year must be between 1800 and {next_year}"),
        ));
    }
    if item.image_urls.len() > 24 {
        return Err(ListingError::invalid("imageUrls", "at most 24 images"));
    }
    if let Some(bad) = item
        .image_urls
        .iter()
        .find(|url| !(url.starts_with("https://") || url.starts_with("http://")))
    {
        return Err(ListingError::invalid(
            "imageUrls",
            format!("'{bad}' is not an http(s) URL"),
        ));
    }
    Ok(())
}

fn validate_terms(terms: &ListingTerms, now: DateTime<Utc>) -> Result<(), ListingError> {
    match terms {
        ListingTerms::FixedPrice(fixed) => {
            if !fixed.price.is_positive() {
                return Err(ListingError::invalid(
                    "price",
                    "the price must be above zero",
                ));
            }
            if !(1..=1_000_000).contains(&fixed.quantity) {
                return Err(ListingError::invalid(
                    "quantity",
                    "quantity must be between 1 and 1000000",
                ));
            }
        }
        ListingTerms::Auction(auction) => {
            let start = &auction.start_price;
            if !start.is_positive() {
                return Err(ListingError::invalid(
                    "startPrice",
                    "the start price must be above zero",
                ));
            }
            for (field, amount) in [("reserve", &auction.reserve), ("buyNow", &auction.buy_now)] {
                if let Some(amount) = amount {
                    start
                        .same_currency(amount)
                        .map_err(|e| ListingError::from_money(field, e))?;
                }
            }
            if auction
                .reserve
                .as_ref()
                .is_some_and(|r| r.minor < start.minor)
            {
                return Err(ListingError::invalid(
                    "reserve",
                    "the reserve cannot be below the start price",
                ));
            }
            let floor = auction.reserve.as_ref().unwrap_or(start);
            if auction
                .buy_now
                .as_ref()
                .is_some_and(|b| b.minor <= floor.minor)
            {
                return Err(ListingError::invalid(
                    "buyNow",
                    "buy it now must be above the start price and the reserve",
                ));
            }
            if auction.ends_at <= now + Duration::minutes(1) {
                return Err(ListingError::invalid(
                    "endsAt",
                    "the auction must end at least a minute from now",
                ));
            }
            if auction.ends_at > now + Duration::days(31) {
                return Err(ListingError::invalid(
                    "endsAt",
                    "an auction runs for at most 31 days",
                ));
            }
            if let ClosePolicy::SoftClose { window_secs } = auction.close_policy {
                if !(1..=3600).contains(&window_secs) {
                    return Err(ListingError::invalid(
                        "softCloseSeconds",
                        "the soft-close window is between 1 and 3600 seconds",
                    ));
                }
            }
        }
    }
    Ok(())
}

impl Aggregate for Listing {
    const TYPE: &'static str = "Listing";
    type Command = ListingCommand;
    type Event = ListingEvent;
    type Error = ListingError;
    type Services = ListingServices;

    async fn handle(
        &mut self,
        command: ListingCommand,
        services: &ListingServices,
        sink: &EventSink<Self>,
    ) -> Result<(), ListingError> {
        let now = services.clock.now();
        let events = match command {
            ListingCommand::CreateListing {
                listing_id,
                seller,
                item,
                terms,
            } => vec![self.create(listing_id, seller, item, terms, now)?],
            ListingCommand::Reprice { actor, price } => {
                self.require_active()?;
                self.require_owner(&actor)?;
                let Some(ListingTerms::FixedPrice(_)) = &self.terms else {
                    return Err(ListingError::WrongFormat(
                        "only fixed-price listings can be repriced",
                    ));
                };
                self.currency_of(&price, "price")?;
                if !price.is_positive() {
                    return Err(ListingError::invalid(
                        "price",
                        "the price must be above zero",
                    ));
                }
                let old_price = self.price.expect("created with a price");
                if old_price == price {
                    vec![]
                } else {
                    vec![ListingEvent::ListingRepriced {
                        old_price,
                        new_price: price,
                        at: now,
                    }]
                }
            }
            ListingCommand::Withdraw { actor } => {
                self.require_active()?;
                self.require_owner(&actor)?;
                if let (Some(ListingTerms::Auction(_)), Some(ends_at)) = (&self.terms, self.ends_at)
                {
                    if !self.bids.is_empty() && ends_at - now <= LATE_PHASE {
                        return Err(ListingError::WithdrawTooLate);
                    }
                }
                vec![ListingEvent::ListingWithdrawn { at: now }]
            }
            ListingCommand::LowerReserve { actor, reserve } => {
                let terms = self.auction()?;
                self.require_owner(&actor)?;
                self.require_running(now)?;
                self.currency_of(&reserve, "reserve")?;
                let Some(current) = &self.reserve else {
                    return Err(ListingError::NoReserve);
                };
                if reserve.minor >= current.minor {
                    return Err(ListingError::ReserveCanOnlyBeLowered);
                }
                if reserve.minor < terms.start_price.minor {
                    return Err(ListingError::invalid(
                        "reserve",
                        "the reserve cannot be below the start price",
                    ));
                }
                vec![ListingEvent::ReserveLowered {
                    state: self.public_state(&self.maxima, self.bids.len(), Some(&reserve)),
                    reserve,
                    at: now,
                }]
            }
            ListingCommand::PlaceBid {
                bid_id,
                bidder,
                max_amount,
            } => self.place_bid(bid_id, &bidder, max_amount, now)?,
            ListingCommand::RetractBid { bidder } => vec![self.retract(&bidder, now)?],
            ListingCommand::BuyNow { buyer } => {
                let terms = self.auction()?;
                self.require_running(now)?;
                if self.seller_id == Some(buyer.user_id) {
                    return Err(ListingError::SellerCannotBid);
                }
                match (&terms.buy_now, self.buy_now_available) {
                    (Some(price), true) => vec![ListingEvent::BoughtNow {
                        buyer_id: buyer.user_id,
                        price: *price,
                        at: now,
                    }],
                    _ => return Err(ListingError::BuyNowUnavailable),
                }
            }
            ListingCommand::CloseAuction => self.close(now)?.into_iter().collect(),
        };
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: ListingEvent) {
        match event {
            ListingEvent::ListingCreated {
                listing_id,
                seller_id,
                item,
                terms,
                created_at,
            } => {
                self.id = Some(listing_id);
                self.seller_id = Some(seller_id);
                self.item = Some(item);
                self.status = ListingStatus::Active;
                self.created_at = Some(created_at);
                match &terms {
                    ListingTerms::FixedPrice(fixed) => self.price = Some(fixed.price),
                    ListingTerms::Auction(auction) => {
                        self.price = Some(auction.start_price);
                        self.reserve = auction.reserve;
                        self.ends_at = Some(auction.ends_at);
                        self.buy_now_available = auction.buy_now.is_some();
                    }
                }
                self.terms = Some(terms);
            }
            ListingEvent::ListingRepriced { new_price, .. } => self.price = Some(new_price),
            ListingEvent::ListingWithdrawn { .. } => self.status = ListingStatus::Withdrawn,
            ListingEvent::ReserveLowered { reserve, state, .. } => {
                self.reserve = Some(reserve);
                self.apply_public_state(&state);
            }
            ListingEvent::BidPlaced {
                bid_id,
                bidder_id,
                max_amount,
                state,
                placed_at,
            } => {
                let bid = Bid {
                    bid_id,
                    bidder_id,
                    max_amount,
                    placed_at,
                };
                self.maxima.add(&bid, self.bids.len());
                self.bids.push_back(bid);
                self.apply_public_state(&state);
            }
            ListingEvent::AuctionExtended { new_ends_at, .. } => self.ends_at = Some(new_ends_at),
            ListingEvent::BidsRetracted { bid_ids, state, .. } => {
                self.bids.retain(|bid| !bid_ids.contains(&bid.bid_id));
                self.maxima = BidderMaxima::from_bids(&self.bids);
                self.apply_public_state(&state);
            }
            ListingEvent::BoughtNow {
                buyer_id, price, ..
            } => {
                self.status = ListingStatus::Sold;
                self.buy_now_available = false;
                self.price = Some(price);
                self.outcome = Some(AuctionOutcome::Sold {
                    winner_id: buyer_id,
                    price,
                });
            }
            ListingEvent::AuctionClosed { outcome, .. } => {
                self.status = match outcome {
                    AuctionOutcome::Sold { .. } => ListingStatus::Sold,
                    AuctionOutcome::Unsold { .. } => ListingStatus::Unsold,
                };
                self.outcome = Some(outcome);
            }
        }
    }
}
