//! What a user or the scheduler can ask of a listing.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::Money;
use crate::role::Role;

/// Who is acting: the user and their roles, as the API authenticated them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The user's id.
    pub user_id: Uuid,
    /// What the user may do.
    pub roles: BTreeSet<Role>,
}

impl Actor {
    /// An actor with `roles`.
    pub fn new(user_id: Uuid, roles: impl IntoIterator<Item = Role>) -> Self {
        Self {
            user_id,
            roles: roles.into_iter().collect(),
        }
    }

    /// Whether the actor holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// The condition of the item, as buyers filter on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Never used, with factory stickers.
    New,
    /// Never worn, no stickers.
    Unworn,
    /// Light signs of use.
    VeryGood,
    /// Visible signs of use.
    Good,
    /// Heavy signs of use.
    Fair,
    /// Not working; for parts or repair.
    ForParts,
}

/// What is being sold: the fields buyers search and read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemDetails {
    /// Listing title.
    pub title: String,
    /// Brand, e.g. Rolex.
    pub brand: String,
    /// Model, e.g. Submariner.
    pub model: String,
    /// Reference number, e.g. 124060.
    pub reference: String,
    /// Condition.
    pub condition: Condition,
    /// Year of production, when known.
    pub year: Option<u16>,
    /// Whether the original box and papers come with it.
    pub box_and_papers: bool,
    /// Free text.
    pub description: String,
    /// Image URLs.
    pub image_urls: Vec<String>,
}

/// Terms of a fixed-price listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedPriceTerms {
    /// The asking price per item.
    pub price: Money,
    /// How many identical items are offered.
    pub quantity: u32,
    /// The seller's stock-keeping unit, when linked to inventory.
    pub sku: Option<String>,
}

/// When an auction's buy-it-now price stops being offered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuyNowPolicy {
    /// At the first bid (default).
    #[default]
    FirstBid,
    /// When the reserve is met.
    ReserveMet,
}

/// How an auction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosePolicy {
    /// A bid in the last `window_secs` moves the end to `window_secs` after that bid (default).
    SoftClose {
        /// The window in seconds.
        window_secs: u32,
    },
    /// The end never moves.
    HardClose,
}

impl Default for ClosePolicy {
    fn default() -> Self {
        Self::SoftClose {
            window_secs: super::DEFAULT_SOFT_CLOSE_SECS,
        }
    }
}

/// Terms of an auction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuctionTerms {
    /// The first bid must be at least this.
    pub start_price: Money,
    /// The secret least price the seller accepts, if any.
    pub reserve: Option<Money>,
    /// A price that ends the auction at once, if any.
    pub buy_now: Option<Money>,
    /// When buy-it-now disappears.
    pub buy_now_policy: BuyNowPolicy,
    /// How the auction ends.
    pub close_policy: ClosePolicy,
    /// When the auction ends (before any extension).
    pub ends_at: DateTime<Utc>,
}

/// A listing's format and its terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListingTerms {
    /// Identical items at an asking price.
    FixedPrice(FixedPriceTerms),
    /// One item to the highest bidder.
    Auction(AuctionTerms),
}

/// Everything that can be asked of a listing.
// A command lives for one request and is moved, never stored in bulk: boxing the large creation
// variant would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingCommand {
    /// Publish a new listing (verified sellers only).
    CreateListing {
        /// The new listing's id.
        listing_id: Uuid,
        /// The seller.
        seller: Actor,
        /// What is sold.
        item: ItemDetails,
        /// How it is sold.
        terms: ListingTerms,
    },
    /// Change a fixed-price listing's asking price (its seller only).
    Reprice {
        /// Who asks.
        actor: Actor,
        /// The new price.
        price: Money,
    },
    /// Take the listing down (its seller only).
    Withdraw {
        /// Who asks.
        actor: Actor,
    },
    /// Lower an auction's reserve (its seller only; never raise it).
    LowerReserve {
        /// Who asks.
        actor: Actor,
        /// The new, lower reserve.
        reserve: Money,
    },
    /// Bid on an auction with a secret maximum.
    PlaceBid {
        /// The new bid's id.
        bid_id: Uuid,
        /// Who bids.
        bidder: Actor,
        /// The most the bidder will pay.
        max_amount: Money,
    },
    /// Take back one's bids, within the retraction rules.
    RetractBid {
        /// Who retracts.
        bidder: Actor,
    },
    /// Buy an auction's item at its buy-it-now price, ending it.
    BuyNow {
        /// Who buys.
        buyer: Actor,
    },
    /// End an auction whose time is up (the scheduler's command; repeating it is harmless).
    CloseAuction,
}
