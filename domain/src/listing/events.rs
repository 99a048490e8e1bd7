//! What happened to a listing. Events are facts: never edited, only upcast when their shape
//! changes (each has a version). Auction events carry the public state they led to, so that read
//! models never need the secret maximums.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::commands::{ItemDetails, ListingTerms};
use crate::money::Money;

/// The public face of an auction after an event: what anyone may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAuctionState {
    /// The current price.
    pub price: Money,
    /// The leading bidder, if any (pseudonymised before it is shown).
    pub leader_id: Option<Uuid>,
    /// Whether the leader's maximum reaches the reserve (true when there is no reserve and at
    /// least one bid).
    pub reserve_met: bool,
    /// Whether buy-it-now is still offered.
    pub buy_now_available: bool,
    /// How many live bids there are.
    pub bid_count: u32,
}

/// Why an auction ended without a sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnsoldReason {
    /// Nobody bid.
    NoBids,
    /// The highest maximum stayed below the reserve.
    ReserveNotMet,
}

/// How an auction ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuctionOutcome {
    /// The winner pays the price.
    Sold {
        /// Who won.
        winner_id: Uuid,
        /// What they pay.
        price: Money,
    },
    /// Nobody won.
    Unsold {
        /// Why.
        reason: UnsoldReason,
    },
}

/// Everything that can happen to a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ListingEvent {
    /// A verified seller published a listing.
    ListingCreated {
        /// The listing's id.
        listing_id: Uuid,
        /// Its seller.
        seller_id: Uuid,
        /// What is sold.
        item: ItemDetails,
        /// How it is sold (secret reserve included).
        terms: ListingTerms,
        /// When.
        created_at: DateTime<Utc>,
    },
    /// The seller changed a fixed-price listing's asking price.
    ListingRepriced {
        /// The price before.
        old_price: Money,
        /// The price now.
        new_price: Money,
        /// When.
        at: DateTime<Utc>,
    },
    /// The seller withdrew the listing.
    ListingWithdrawn {
        /// When.
        at: DateTime<Utc>,
    },
    /// The seller lowered the reserve.
    ReserveLowered {
        /// The new reserve (secret).
        reserve: Money,
        /// The public state after it.
        state: PublicAuctionState,
        /// When.
        at: DateTime<Utc>,
    },
    /// A bid was accepted.
    BidPlaced {
        /// The bid's id.
        bid_id: Uuid,
        /// Who bid.
        bidder_id: Uuid,
        /// The bidder's secret maximum.
        max_amount: Money,
        /// The public state after it.
        state: PublicAuctionState,
        /// When.
        placed_at: DateTime<Utc>,
    },
    /// A late bid moved the end of a soft-close auction.
    AuctionExtended {
        /// The end before.
        old_ends_at: DateTime<Utc>,
        /// The end now.
        new_ends_at: DateTime<Utc>,
    },
    /// A bidder retracted bids; the auction was recomputed from the rest.
    BidsRetracted {
        /// Who retracted.
        bidder_id: Uuid,
        /// The bids removed.
        bid_ids: Vec<Uuid>,
        /// The public state after it.
        state: PublicAuctionState,
        /// When.
        at: DateTime<Utc>,
    },
    /// A buyer took the buy-it-now price, ending the auction.
    BoughtNow {
        /// Who bought.
        buyer_id: Uuid,
        /// What they pay.
        price: Money,
        /// When.
        at: DateTime<Utc>,
    },
    /// The auction's time was up and it was closed.
    AuctionClosed {
        /// Sold or not.
        outcome: AuctionOutcome,
        /// When it was closed.
        at: DateTime<Utc>,
    },
}

impl ListingEvent {
    /// The event's type name, as stored and published.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ListingCreated { .. } => "ListingCreated",
            Self::ListingRepriced { .. } => "ListingRepriced",
            Self::ListingWithdrawn { .. } => "ListingWithdrawn",
            Self::ReserveLowered { .. } => "ReserveLowered",
            Self::BidPlaced { .. } => "BidPlaced",
            Self::AuctionExtended { .. } => "AuctionExtended",
            Self::BidsRetracted { .. } => "BidsRetracted",
            Self::BoughtNow { .. } => "BoughtNow",
            Self::AuctionClosed { .. } => "AuctionClosed",
        }
    }
}

impl DomainEvent for ListingEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}
