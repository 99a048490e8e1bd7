//! Listing commands as tests send them straight to a command bus.

use chrono::{DateTime, Utc};
use gavel_domain::listing::{
    Actor, AuctionTerms, BuyNowPolicy, ClosePolicy, Condition, ItemDetails, ListingCommand,
    ListingTerms,
};
use gavel_domain::{Currency, Money};
use uuid::Uuid;

/// An amount in US dollars, from cents.
pub fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::new("USD").expect("USD is a currency"))
}

/// Creates auction `listing_id` of a watch by `seller`, starting at 100.00 with no reserve, ending
/// hard at `ends_at`.
pub fn create_auction(listing_id: Uuid, seller: Actor, ends_at: DateTime<Utc>) -> ListingCommand {
    create_listing(
        listing_id,
        seller,
        ListingTerms::Auction(plain_auction(ends_at)),
    )
}

/// Creates listing `listing_id` of a watch by `seller` on `terms`.
pub fn create_listing(listing_id: Uuid, seller: Actor, terms: ListingTerms) -> ListingCommand {
    ListingCommand::CreateListing {
        listing_id,
        seller,
        item: ItemDetails {
            title: "Omega Speedmaster".into(),
            brand: "Omega".into(),
            model: "Speedmaster".into(),
            reference: "311.30.42.30.01.005".into(),
            condition: Condition::Good,
            year: None,
            box_and_papers: false,
            description: String::new(),
            image_urls: vec![],
        },
        terms,
    }
}

/// Auction terms starting at 100.00 USD with no reserve and no buy-now price, ending hard at
/// `ends_at`.
pub fn plain_auction(ends_at: DateTime<Utc>) -> AuctionTerms {
    AuctionTerms {
        start_price: usd(10_000),
        reserve: None,
        buy_now: None,
        buy_now_policy: BuyNowPolicy::FirstBid,
        close_policy: ClosePolicy::HardClose,
        ends_at,
    }
}
