//! Property tests over random bid sequences: the auction invariants hold whatever the bids.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Duration;
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use gavel_domain::clock::ManualClock;
use gavel_domain::increment::increment;
use gavel_domain::listing::{
    AuctionOutcome, Listing, ListingCommand, ListingEvent, ListingServices,
};
use gavel_domain::Money;
use proptest::prelude::*;
use support::*;

/// One step a random bidder takes.
#[derive(Debug, Clone)]
enum Step {
    Bid { bidder: u128, max_cents: i64 },
    Retract { bidder: u128 },
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        8 => (1u128..=6, 10_000i64..=300_000).prop_map(|(bidder, max_cents)| Step::Bid { bidder, max_cents }),
        1 => (1u128..=6).prop_map(|bidder| Step::Retract { bidder }),
    ];
    proptest::collection::vec(step, 1..40)
}

/// Runs `command` on `listing` the way the command bus does, returning the new events (or none
/// when refused) and leaving `listing` as handling left it.
fn handle(
    listing: &mut Listing,
    command: ListingCommand,
    services: &ListingServices,
) -> Vec<ListingEvent> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut attempt = listing.clone();
        let sink = EventSink::default();
        match attempt.handle(command, services, &sink).await {
            Ok(()) => {
                *listing = attempt;
                sink.collect().await
            }
            Err(_) => vec![],
        }
    })
}

/// The price by the second-price rule, from the set of each bidder's best maximum alone.
fn oracle_price(start: i64, reserve: Option<i64>, maxima: &[i64]) -> i64 {
    let mut sorted = maxima.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let mut price = match sorted.as_slice() {
        [] | [_] => start,
        [top, second, ..] => {
            let second_money = usd("0.00");
            let step = increment(&Money::from_minor(*second, second_money.currency)).minor;
            (*top).min(second + step)
        }
    };
    if let (Some(reserve), Some(top)) = (reserve, sorted.first()) {
        if *top >= reserve {
            price = price.max(reserve);
        }
    }
    price
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn auction_invariants_hold_for_any_bid_sequence(steps in steps(), reserve in proptest::option::of(10_000i64..=200_000)) {
        let mut terms = auction_terms("100.00");
        terms.reserve = reserve.map(|cents| Money::from_minor(cents, usd("0").currency));
        let mut events = vec![auction_created(terms)];
        let mut listing = state(&events);
        let clock = Arc::new(ManualClock::new(t0()));
        let services = ListingServices { clock: clock.clone() };

        for step in steps {
            clock.advance(Duration::minutes(1));
            let command = match step {
                Step::Bid { bidder: n, max_cents } => ListingCommand::PlaceBid {
                    bid_id: uuid::Uuid::now_v7(),
                    bidder: bidder(n),
                    max_amount: Money::from_minor(max_cents, usd("0").currency),
                },
                Step::Retract { bidder: n } => ListingCommand::RetractBid { bidder: bidder(n) },
            };
            events.extend(handle(&mut listing, command, &services));

            // Replaying the events gives the same state as handling them did.
            prop_assert_eq!(&state(&events), &listing);

            let mut best: BTreeMap<uuid::Uuid, (i64, usize)> = BTreeMap::new();
            for (order, bid) in listing.bids().iter().enumerate() {
                let entry = best.entry(bid.bidder_id).or_insert((bid.max_amount.minor, order));
                if bid.max_amount.minor > entry.0 {
                    *entry = (bid.max_amount.minor, order);
                }
            }
            match listing.leader_id() {
                None => prop_assert!(best.is_empty()),
                Some(leader) => {
                    let (leader_max, leader_order) = best[&leader];
                    // The leader holds the highest maximum, the earliest on ties.
                    for (bidder, (max, order)) in &best {
                        prop_assert!(*max < leader_max || (*max == leader_max && *order >= leader_order),
                            "{bidder} with {max} beats leader {leader} with {leader_max}");
                    }
                    // The price never exceeds the leader's maximum.
                    prop_assert!(listing.price().unwrap().minor <= leader_max);
                }
            }
        }

        clock.set(t0() + Duration::days(8));
        let closing = handle(&mut listing, ListingCommand::CloseAuction, &services);
        let maxima: Vec<i64> = {
            let mut per_bidder: BTreeMap<uuid::Uuid, i64> = BTreeMap::new();
            for bid in listing.bids() {
                let max = per_bidder.entry(bid.bidder_id).or_insert(0);
                *max = (*max).max(bid.max_amount.minor);
            }
            per_bidder.into_values().collect()
        };
        match closing.as_slice() {
            [ListingEvent::AuctionClosed { outcome: AuctionOutcome::Sold { price, .. }, .. }] => {
                prop_assert_eq!(price.minor, oracle_price(10_000, reserve, &maxima));
            }
            [ListingEvent::AuctionClosed { outcome: AuctionOutcome::Unsold { .. }, .. }] => {
                let top = maxima.iter().max().copied();
                prop_assert!(top.is_none() || reserve.is_some_and(|r| top.unwrap() < r));
            }
            other => prop_assert!(false, "unexpected closing {:?}", other),
        }
    }
}
