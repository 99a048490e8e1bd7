//! The listing read models: a search-and-display document per listing, the public bid history,
//! and the price history. Only public facts reach them: no secret maximum, no reserve amount,
//! bidders pseudonymised per auction.

use bson::{doc, Bson, Document};
use chrono::{DateTime, Utc};
use gavel_domain::listing::{
    AuctionOutcome, Condition, ListingEvent, ListingTerms, PublicAuctionState, UnsoldReason,
};
use gavel_domain::Money;
use sha2::{Digest, Sha256};

use crate::apply::DocumentWrite;

/// What one event changes in the read models.
#[derive(Debug, Clone, PartialEq)]
pub struct ListingChange {
    /// For the creating event, the whole new listing document; otherwise the fields to set.
    pub listing: DocumentWrite,
    /// Documents to upsert by `_id` into the bid history.
    pub bids: Vec<Document>,
    /// `_id`s of bid-history documents to mark retracted.
    pub retracted_bids: Vec<String>,
    /// A point to upsert into the price history, if the price changed.
    pub price_point: Option<Document>,
}

/// The pseudonym a bidder shows under on one auction: stable for that auction, unrelated across
/// auctions.
pub fn pseudonym(listing_id: &str, bidder_id: &uuid::Uuid) -> String {
    let digest = Sha256::digest(format!("{listing_id}:{bidder_id}"));
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("bidder-{hex}")
}

fn time(at: &DateTime<Utc>) -> Bson {
    Bson::DateTime(bson::DateTime::from_chrono(*at))
}

fn condition_name(condition: Condition) -> &'static str {
    match condition {
        Condition::New => "new",
        Condition::Unworn => "unworn",
        Condition::VeryGood => "very_good",
        Condition::Good => "good",
        Condition::Fair => "fair",
        Condition::ForParts => "for_parts",
    }
}

fn price_point(
    listing_id: &str,
    sequence: i64,
    price: &Money,
    at: &DateTime<Utc>,
    cause: &str,
) -> Document {
    doc! {
        "_id": format!("{listing_id}:{sequence}"),
        "listing_id": listing_id,
        "sequence": sequence,
        "price_minor": price.minor,
        "currency": price.currency.code(),
        "changed_at": time(at),
        "cause": cause,
    }
}

fn auction_fields(listing_id: &str, state: &PublicAuctionState) -> Document {
    doc! {
        "price_minor": state.price.minor,
        "leader": state.leader_id.map(|id| pseudonym(listing_id, &id)),
        "reserve_met": state.reserve_met,
        "buy_now_available": state.buy_now_available,
        "bid_count": i64::from(state.bid_count),
    }
}

/// What `event`, at `sequence` in listing `listing_id`'s stream, changes. `previous_price_minor`
/// is the listing's price before the event, so that unchanged prices add no history point.
pub fn change_for(
    listing_id: &str,
    sequence: i64,
    event: &ListingEvent,
    previous_price_minor: Option<i64>,
) -> ListingChange {
    let mut change = ListingChange {
        listing: DocumentWrite::Set(Document::new()),
        bids: vec![],
        retracted_bids: vec![],
        price_point: None,
    };
    let price_moved =
        |price: &Money, at: &DateTime<Utc>, cause: &str, change: &mut ListingChange| {
            if previous_price_minor != Some(price.minor) {
                change.price_point = Some(price_point(listing_id, sequence, price, at, cause));
            }
        };
    match event {
        ListingEvent::ListingCreated {
            seller_id,
            item,
            terms,
            created_at,
            ..
        } => {
            let mut document = doc! {
                "_id": listing_id,
                "version": sequence,
                "seller_id": seller_id.to_string(),
                "status": "active",
                "title": &item.title,
                "brand": &item.brand,
                "model": &item.model,
                "reference": &item.reference,
                "condition": condition_name(item.condition),
                "year": item.year.map(i32::from),
                "box_and_papers": item.box_and_papers,
                "description": &item.description,
                "image_urls": &item.image_urls,
                "created_at": time(created_at),
                "updated_at": time(created_at),
            };
            let price = match terms {
                ListingTerms::FixedPrice(fixed) => {
                    document.extend(doc! {
                        "format": "fixed_price",
                        "quantity": i64::from(fixed.quantity),
                        "sku": fixed.sku.clone(),
                        "ends_at": Bson::Null,
                    });
                    &fixed.price
                }
                ListingTerms::Auction(auction) => {
                    document.extend(doc! {
                        "format": "auction",
                        "start_price_minor": auction.start_price.minor,
                        "has_reserve": auction.reserve.is_some(),
                        "reserve_met": false,
                        "buy_now_minor": auction.buy_now.as_ref().map(|m| m.minor),
                        "buy_now_available": auction.buy_now.is_some(),
                        "ends_at": time(&auction.ends_at),
                        "bid_count": 0_i64,
                        "leader": Bson::Null,
                    });
                    &auction.start_price
                }
            };
            document.extend(doc! {
                "currency": price.currency.code(),
                "price_minor": price.minor,
            });
            change.listing = DocumentWrite::Insert(document);
            change.price_point = Some(price_point(
                listing_id, sequence, price, created_at, "listed",
            ));
        }
        ListingEvent::ListingRepriced { new_price, at, .. } => {
            change.listing =
                DocumentWrite::Set(doc! { "price_minor": new_price.minor, "updated_at": time(at) });
            price_moved(new_price, at, "repriced", &mut change);
        }
        ListingEvent::ListingWithdrawn { at } => {
            change.listing =
                DocumentWrite::Set(doc! { "status": "withdrawn", "updated_at": time(at) });
        }
        ListingEvent::ReserveLowered { state, at, .. } => {
            let mut set = auction_fields(listing_id, state);
            set.insert("updated_at", time(at));
            change.listing = DocumentWrite::Set(set);
            price_moved(&state.price, at, "reserve_lowered", &mut change);
        }
        ListingEvent::BidPlaced {
            bid_id,
            bidder_id,
            state,
            placed_at,
            ..
        } => {
            let mut set = auction_fields(listing_id, state);
            set.insert("updated_at", time(placed_at));
            change.listing = DocumentWrite::Set(set);
            change.bids.push(doc! {
                "_id": bid_id.to_string(),
                "listing_id": listing_id,
                "sequence": sequence,
                "bidder": pseudonym(listing_id, bidder_id),
                "price_minor": state.price.minor,
                "currency": state.price.currency.code(),
                "placed_at": time(placed_at),
                "retracted": false,
            });
            price_moved(&state.price, placed_at, "bid", &mut change);
        }
        ListingEvent::AuctionExtended { new_ends_at, .. } => {
            change.listing = DocumentWrite::Set(doc! { "ends_at": time(new_ends_at) });
        }
        ListingEvent::BidsRetracted {
            bid_ids, state, at, ..
        } => {
            let mut set = auction_fields(listing_id, state);
            set.insert("updated_at", time(at));
            change.listing = DocumentWrite::Set(set);
            change.retracted_bids = bid_ids.iter().map(ToString::to_string).collect();
            price_moved(&state.price, at, "retraction", &mut change);
        }
        ListingEvent::BoughtNow {
            buyer_id,
            price,
            at,
        } => {
            change.listing = DocumentWrite::Set(doc! {
                "status": "sold",
                "price_minor": price.minor,
                "buy_now_available": false,
                "outcome": { "sold": true, "winner": pseudonym(listing_id, buyer_id), "price_minor": price.minor, "reason": Bson::Null },
                "updated_at": time(at),
            });
            price_moved(price, at, "bought_now", &mut change);
        }
        ListingEvent::AuctionClosed { outcome, at } => {
            let (status, outcome) = match outcome {
                AuctionOutcome::Sold { winner_id, price } => (
                    "sold",
                    doc! { "sold": true, "winner": pseudonym(listing_id, winner_id), "price_minor": price.minor, "reason": Bson::Null },
                ),
                AuctionOutcome::Unsold { reason } => (
                    "unsold",
                    doc! { "sold": false, "winner": Bson::Null, "price_minor": Bson::Null, "reason": match reason {
                        UnsoldReason::NoBids => "no_bids",
                        UnsoldReason::ReserveNotMet => "reserve_not_met",
                    } },
                ),
            };
            change.listing = DocumentWrite::Set(
                doc! { "status": status, "outcome": outcome, "updated_at": time(at) },
            );
        }
    }
    change
}

#[cfg(test)]
mod tests {
    use super::*;
    use gavel_domain::Currency;
    use uuid::Uuid;

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::new("USD").unwrap())
    }

    #[test]
    fn a_bid_shows_its_public_outcome_and_never_the_maximum() {
        let bidder = Uuid::now_v7();
        let event = ListingEvent::BidPlaced {
            bid_id: Uuid::now_v7(),
            bidder_id: bidder,
            max_amount: usd(25_000),
            state: PublicAuctionState {
                price: usd(18_250),
                leader_id: Some(bidder),
                reserve_met: true,
                buy_now_available: false,
                bid_count: 2,
            },
            placed_at: Utc::now(),
        };
        let change = change_for("l1", 3, &event, Some(10_000));
        let rendered = format!("{change:?}");
        assert!(
            !rendered.contains("25000"),
            "the secret maximum leaked: {rendered}"
        );
        assert!(
            !rendered.contains(&bidder.to_string()),
            "the bidder id leaked"
        );
        let DocumentWrite::Set(set) = change.listing else {
            panic!("expected a set")
        };
        assert_eq!(set.get_i64("price_minor").unwrap(), 18_250);
        assert_eq!(set.get_str("leader").unwrap(), pseudonym("l1", &bidder));
        assert_eq!(change.price_point.unwrap().get_str("cause").unwrap(), "bid");
    }

    #[test]
    fn pseudonyms_are_stable_per_auction_and_differ_across_auctions() {
        let bidder = Uuid::now_v7();
        assert_eq!(pseudonym("a", &bidder), pseudonym("a", &bidder));
        assert_ne!(pseudonym("a", &bidder), pseudonym("b", &bidder));
    }

    #[test]
    fn an_unchanged_price_adds_no_history_point() {
        let bidder = Uuid::now_v7();
        let event = ListingEvent::BidPlaced {
            bid_id: Uuid::now_v7(),
            bidder_id: bidder,
            max_amount: usd(50_000),
            state: PublicAuctionState {
                price: usd(10_000),
                leader_id: Some(bidder),
                reserve_met: true,
                buy_now_available: false,
                bid_count: 2,
            },
            placed_at: Utc::now(),
        };
        assert!(change_for("l1", 4, &event, Some(10_000))
            .price_point
            .is_none());
    }
}
