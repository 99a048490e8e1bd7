//! The `Listing` aggregate: a fixed-price listing or an auction with secret-maximum ("proxy")
//! bidding. Every rule of the "Listings" and "Auctions" sections of the marketplace rules is
//! enforced in [`Listing::handle`](cqrs_es::Aggregate::handle); each has an error code in
//! [`ListingError`].

mod aggregate;
mod commands;
mod errors;
mod events;
pub mod proxy;

pub use aggregate::{Bid, Listing, ListingServices, ListingStatus};
pub use commands::{
    Actor, AuctionTerms, BuyNowPolicy, ClosePolicy, Condition, FixedPriceTerms, ItemDetails,
    ListingCommand, ListingTerms,
};
pub use errors::ListingError;
pub use events::{AuctionOutcome, ListingEvent, PublicAuctionState, UnsoldReason};

/// With more than this long left, an auction with bids may be withdrawn and a bidder may retract
/// all of their bids.
pub const LATE_PHASE: chrono::Duration = chrono::Duration::hours(12);

/// In the late phase, only a bid placed this recently may be retracted.
pub const LATE_RETRACTION_WINDOW: chrono::Duration = chrono::Duration::hours(1);

/// The default soft-close window: a bid this close to the end moves the end to this long after it.
pub const DEFAULT_SOFT_CLOSE_SECS: u32 = 120;
