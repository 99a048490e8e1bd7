//! Given/when/then tests of every listing and auction rule, named after the rule they check.

mod support;

use chrono::Duration;
use gavel_domain::listing::{
    AuctionOutcome, BuyNowPolicy, ClosePolicy, ListingCommand, ListingError, ListingEvent,
    ListingStatus, ListingTerms, PublicAuctionState, UnsoldReason,
};
use gavel_domain::Role;
use support::*;

#[test]
fn worked_example_from_the_rules() {
    // Start 100.00. A bids max 250.00: price 100.00, A leads.
    let events = run(
        vec![auction_created(auction_terms("100.00"))],
        t0(),
        vec![bid(1, "250.00")],
    );
    assert_eq!(state(&events).price(), Some(&usd("100.00")));
    assert_eq!(state(&events).leader_id(), Some(bidder(1).user_id));
    // B bids max 180.00: price min(250.00, 180.00 + 2.50) = 182.50, A leads.
    let events = run(events, t0(), vec![bid(2, "180.00")]);
    assert_eq!(state(&events).price(), Some(&usd("182.50")));
    assert_eq!(state(&events).leader_id(), Some(bidder(1).user_id));
    // C bids max 250.00: tie with A, A was first: price 250.00, A still leads.
    let events = run(events, t0(), vec![bid(3, "250.00")]);
    assert_eq!(state(&events).price(), Some(&usd("250.00")));
    assert_eq!(state(&events).leader_id(), Some(bidder(1).user_id));
    // A's win at the close costs A 250.00.
    let end = t0() + Duration::days(7);
    at(end)
        .given(events)
        .when(ListingCommand::CloseAuction)
        .then_expect_events(vec![ListingEvent::AuctionClosed {
            outcome: AuctionOutcome::Sold {
                winner_id: bidder(1).user_id,
                price: usd("250.00"),
            },
            at: end,
        }]);
}

#[test]
fn only_verified_sellers_publish() {
    let mut unverified = seller();
    unverified.roles.remove(&Role::VerifiedSeller);
    at(t0())
        .given_no_previous_events()
        .when(ListingCommand::CreateListing {
            listing_id: listing_id(),
            seller: unverified,
            item: item(),
            terms: ListingTerms::Auction(auction_terms("100.00")),
        })
        .then_expect_error(ListingError::SellerNotVerified);
}

#[test]
fn a_verified_seller_publishes_a_listing() {
    at(t0())
        .given_no_previous_events()
        .when(ListingCommand::CreateListing {
            listing_id: listing_id(),
            seller: seller(),
            item: item(),
            terms: ListingTerms::Auction(auction_terms("100.00")),
        })
        .then_expect_events(vec![auction_created(auction_terms("100.00"))]);
}

#[test]
fn a_listing_cannot_be_created_twice() {
    at(t0())
        .given(vec![fixed_created("500.00")])
        .when(ListingCommand::CreateListing {
            listing_id: listing_id(),
            seller: seller(),
            item: item(),
            terms: ListingTerms::Auction(auction_terms("100.00")),
        })
        .then_expect_error(ListingError::AlreadyExists);
}

#[test]
fn bad_listing_input_is_a_clear_error() {
    let mut no_title = item();
    no_title.title = "  ".into();
    let result = at(t0())
        .given_no_previous_events()
        .when(ListingCommand::CreateListing {
            listing_id: listing_id(),
            seller: seller(),
            item: no_title,
            terms: ListingTerms::Auction(auction_terms("100.00")),
        })
        .inspect_result();
    assert_eq!(result.unwrap_err().field(), Some("title"));

    let mut reserve_below_start = auction_terms("100.00");
    reserve_below_start.reserve = Some(usd("50.00"));
    let mut ended = auction_terms("100.00");
    ended.ends_at = t0();
    for (terms, field) in [(reserve_below_start, "reserve"), (ended, "endsAt")] {
        let error = at(t0())
            .given_no_previous_events()
            .when(ListingCommand::CreateListing {
                listing_id: listing_id(),
                seller: seller(),
                item: item(),
                terms: ListingTerms::Auction(terms),
            })
            .inspect_result()
            .unwrap_err();
        assert_eq!(
            (error.code(), error.field()),
            ("INVALID_INPUT", Some(field))
        );
    }
}

#[test]
fn a_fixed_price_listing_is_repriced_and_every_change_is_an_event() {
    at(t0() + Duration::hours(1))
        .given(vec![fixed_created("500.00")])
        .when(ListingCommand::Reprice {
            actor: seller(),
            price: usd("450.00"),
        })
        .then_expect_events(vec![ListingEvent::ListingRepriced {
            old_price: usd("500.00"),
            new_price: usd("450.00"),
            at: t0() + Duration::hours(1),
        }]);
}

#[test]
fn only_the_seller_reprices() {
    at(t0())
        .given(vec![fixed_created("500.00")])
        .when(ListingCommand::Reprice {
            actor: bidder(1),
            price: usd("1.00"),
        })
        .then_expect_error(ListingError::NotOwner);
}

#[test]
fn auctions_are_not_repriced() {
    let error = at(t0())
        .given(vec![auction_created(auction_terms("100.00"))])
        .when(ListingCommand::Reprice {
            actor: seller(),
            price: usd("90.00"),
        })
        .inspect_result()
        .unwrap_err();
    assert_eq!(error.code(), "WRONG_FORMAT");
}

#[test]
fn a_fixed_price_listing_is_withdrawn_at_any_time() {
    at(t0())
        .given(vec![fixed_created("500.00")])
        .when(ListingCommand::Withdraw { actor: seller() })
        .then_expect_events(vec![ListingEvent::ListingWithdrawn { at: t0() }]);
}

#[test]
fn an_auction_without_bids_is_withdrawn_even_at_the_last_minute() {
    let late = t0() + Duration::days(7) - Duration::minutes(1);
    at(late)
        .given(vec![auction_created(auction_terms("100.00"))])
        .when(ListingCommand::Withdraw { actor: seller() })
        .then_expect_events(vec![ListingEvent::ListingWithdrawn { at: late }]);
}

#[test]
fn an_auction_with_bids_is_withdrawn_only_more_than_12_hours_before_it_ends() {
    let events = run(
        vec![auction_created(auction_terms("100.00"))],
        t0(),
        vec![bid(1, "150.00")],
    );
    let end = t0() + Duration::days(7);
    at(end - Duration::hours(12))
        .given(events.clone())
        .when(ListingCommand::Withdraw { actor: seller() })
        .then_expect_error(ListingError::WithdrawTooLate);
    let early = end - Duration::hours(13);
    at(early)
        .given(events)
        .when(ListingCommand::Withdraw { actor: seller() })
        .then_expect_events(vec![ListingEvent::ListingWithdrawn { at: early }]);
}

#[test]
fn the_seller_cannot_bid() {
    at(t0())
        .given(vec![auction_created(auction_terms("100.00"))])
        .when(ListingCommand::PlaceBid {
            bid_id: uuid::Uuid::from_u128(9),
            bidder: seller(),
            max_amount: usd("500.00"),
        })
        .then_expect_error(ListingError::SellerCannotBid);
}

#[test]
fn the_first_bid_must_reach_the_start_price() {
    let error = at(t0())
        .given(vec![auction_created(auction_terms("100.00"))])
        .when(bid(1, "99.99"))
        .inspect_result()
        .unwrap_err();
    assert_eq!(
        error,
        ListingError::BidTooLow {
            minimum: "100.00 USD".into()
        }
    );
}

#[test]
fn a_new_bid_must_reach_price_plus_increment() {
    let events = run(
        vec![auction_created(auction_terms("100.00"))],
        t0(),
        vec![bid(1, "250.00"), bid(2, "180.00")],
    );
    // Price 182.50; the increment at 182.50 is 2.50.
    let error = at(t0())
        .given(events.clone())
        .when(bid(3, "184.99"))
        .inspect_result()
        .unwrap_err();
    assert_eq!(
        error,
        ListingError::BidTooLow {
            minimum: "185.00 USD".into()
        }
    );
    assert!(at(t0())
        .given(events)
        .when(bid(3, "185.00"))
        .inspect_result()
        .is_ok());
}

#[test]
fn a_single_bidder_pays_the_start_price() {
    let events = run(
        vec![auction_created(auction_terms("100.00"))],
        t0(),
        vec![bid(1, "900.00")],
    );
    assert_eq!(state(&events).price(), Some(&usd("100.00")));
}

#[test]
fn the_leader_raises_their_maximum_without_moving_the_price() {
    let events = run(
        vec![auction_created(auction_terms("100.00"))],
        t0(),
        vec![bid(1, "200.00"), bid(2, "150.00"), bid(1, "400.00")],
    );
    let listing = state(&events);
    assert_eq!(listing.price(), Some(&usd("152.50")));
    assert_eq!(listing.leader_id(), Some(bidder(1).user_id));
}

#[test]
fn the_leader_must_raise_not_lower_their_maximum() {
    let events = run(
        vec![auction_created(auction_terms("100.00"))],
        t0(),
        vec![bid(1, "200.00")],
    );
    let error = at(t0())
        .given(events)
        .when(bid(1, "150.00"))
        .inspect_result()
        .unwrap_err();
    assert_eq!(error.code(), "BID_TOO_LOW");
}

#[test]
fn ties_go_to_the_earlier_bid() {
    let events = run(
        vec![auction_created(auction_terms("100.00"))],
        t0(),
        vec![bid(1, "300.00"), bid(2, "300.00")],
    );
    let listing = state(&events);
    assert_eq!(listing.leader_id(), Some(bidder(1).user_id));
    assert_eq!(listing.price(), Some(&usd("300.00")));
}

#[test]
fn a_higher_challenger_takes_the_lead_at_one_increment_over_the_old_leader() {
    let events = run(
        vec![auction_created(auction_terms("100.00"))],
        t0(),
        vec![bid(1, "200.00"), bid(2, "500.00")],
    );
    let listing = state(&events);
    assert_eq!(listing.leader_id(), Some(bidder(2).user_id));
    assert_eq!(listing.price(), Some(&usd("202.50")));
}

fn with_reserve(reserve: &str) -> ListingEvent {
    let mut terms = auction_terms("100.00");
    terms.reserve = Some(usd(reserve));
    auction_created(terms)
}

#[test]
fn the_price_jumps_to_the_reserve_once_the_leader_reaches_it() {
    let events = run(vec![with_reserve("300.00")], t0(), vec![bid(1, "250.00")]);
    assert!(!state(&events).reserve_met());
    assert_eq!(state(&events).price(), Some(&usd("100.00")));
    let events = run(events, t0(), vec![bid(1, "350.00")]);
    assert!(state(&events).reserve_met());
    assert_eq!(state(&events).price(), Some(&usd("300.00")));
}

#[test]
fn below_the_reserve_the_auction_ends_unsold() {
    let events = run(vec![with_reserve("300.00")], t0(), vec![bid(1, "250.00")]);
    let end = t0() + Duration::days(7);
    at(end)
        .given(events)
        .when(ListingCommand::CloseAuction)
        .then_expect_events(vec![ListingEvent::AuctionClosed {
            outcome: AuctionOutcome::Unsold {
                reason: UnsoldReason::ReserveNotMet,
            },
            at: end,
        }]);
}

#[test]
fn the_reserve_may_be_lowered_and_the_price_follows() {
    let events = run(vec![with_reserve("300.00")], t0(), vec![bid(1, "250.00")]);
    at(t0())
        .given(events)
        .when(ListingCommand::LowerReserve {
            actor: seller(),
            reserve: usd("200.00"),
        })
        .then_expect_events(vec![ListingEvent::ReserveLowered {
            reserve: usd("200.00"),
            state: PublicAuctionState {
                price: usd("200.00"),
                leader_id: Some(bidder(1).user_id),
                reserve_met: true,
                buy_now_available: false,
                bid_count: 1,
            },
            at: t0(),
        }]);
}

#[test]
fn the_reserve_is_never_raised() {
    at(t0())
        .given(vec![with_reserve("300.00")])
        .when(ListingCommand::LowerReserve {
            actor: seller(),
            reserve: usd("300.00"),
        })
        .then_expect_error(ListingError::ReserveCanOnlyBeLowered);
}

fn with_buy_now(policy: BuyNowPolicy, reserve: Option<&str>) -> ListingEvent {
    let mut terms = auction_terms("100.00");
    terms.buy_now = Some(usd("1000.00"));
    terms.buy_now_policy = policy;
    terms.reserve = reserve.map(usd);
    auction_created(terms)
}

#[test]
fn buy_it_now_disappears_at_the_first_bid_by_default() {
    let events = run(
        vec![with_buy_now(BuyNowPolicy::FirstBid, None)],
        t0(),
        vec![bid(1, "150.00")],
    );
    at(t0())
        .given(events)
        .when(ListingCommand::BuyNow { buyer: bidder(2) })
        .then_expect_error(ListingError::BuyNowUnavailable);
}

#[test]
fn buy_it_now_may_stay_until_the_reserve_is_met() {
    let start = vec![with_buy_now(BuyNowPolicy::ReserveMet, Some("500.00"))];
    let below = run(start, t0(), vec![bid(1, "300.00")]);
    assert!(state(&below).buy_now_available());
    let met = run(below, t0(), vec![bid(2, "600.00")]);
    assert!(!state(&met).buy_now_available());
}

#[test]
fn buying_now_ends_the_auction_at_once_with_that_buyer() {
    at(t0())
        .given(vec![with_buy_now(BuyNowPolicy::FirstBid, None)])
        .when(ListingCommand::BuyNow { buyer: bidder(7) })
        .then_expect_events(vec![ListingEvent::BoughtNow {
            buyer_id: bidder(7).user_id,
            price: usd("1000.00"),
            at: t0(),
        }]);
    let events = run(
        vec![with_buy_now(BuyNowPolicy::FirstBid, None)],
        t0(),
        vec![ListingCommand::BuyNow { buyer: bidder(7) }],
    );
    assert_eq!(state(&events).status(), ListingStatus::Sold);
    at(t0())
        .given(events)
        .when(bid(1, "2000.00"))
        .then_expect_error(ListingError::NotActive);
}

#[test]
fn early_retraction_removes_all_of_the_bidders_bids_and_the_runner_up_counts_again() {
    let events = run(
        vec![auction_created(auction_terms("100.00"))],
        t0(),
        vec![bid(1, "200.00"), bid(3, "150.00"), bid(2, "300.00")],
    );
    assert_eq!(state(&events).leader_id(), Some(bidder(2).user_id));
    let events = run(
        events,
        t0() + Duration::days(1),
        vec![ListingCommand::RetractBid { bidder: bidder(2) }],
    );
    let listing = state(&events);
    assert_eq!(listing.leader_id(), Some(bidder(1).user_id));
    assert_eq!(listing.price(), Some(&usd("152.50")));
    assert!(listing
        .bids()
        .iter()
        .all(|b| b.bidder_id != bidder(2).user_id));
}

#[test]
fn late_retraction_only_takes_back_a_bid_from_the_last_hour() {
    let end = t0() + Duration::days(7);
    let events = run(
        vec![auction_created(auction_terms("100.00"))],
        end - Duration::hours(5),
        vec![bid(1, "200.00")],
    );
    at(end - Duration::hours(3))
        .given(events.clone())
        .when(ListingCommand::RetractBid { bidder: bidder(1) })
        .then_expect_error(ListingError::RetractionNotAllowed(
            "with 12 hours or less left, only a bid placed within the last hour may be retracted",
        ));
    let recent = run(events, end - Duration::hours(2), vec![bid(1, "250.00")]);
    let after = run(
        recent,
        end - Duration::hours(2) + Duration::minutes(30),
        vec![ListingCommand::RetractBid { bidder: bidder(1) }],
    );
    let listing = state(&after);
    assert_eq!(listing.bids().len(), 1, "the older bid stays");
    assert_eq!(listing.bids()[0].max_amount, usd("200.00"));
}

#[test]
fn a_bid_in_the_last_two_minutes_extends_a_soft_close_auction() {
    let end = t0() + Duration::days(7);
    let late = end - Duration::seconds(30);
    let result = at(late)
        .given(vec![auction_created(auction_terms("100.00"))])
        .when(bid(1, "150.00"))
        .inspect_result()
        .unwrap();
    assert_eq!(
        result.last(),
        Some(&ListingEvent::AuctionExtended {
            old_ends_at: end,
            new_ends_at: late + Duration::minutes(2),
        })
    );
}

#[test]
fn a_hard_close_auction_never_extends() {
    let mut terms = auction_terms("100.00");
    terms.close_policy = ClosePolicy::HardClose;
    let late = terms.ends_at - Duration::seconds(30);
    let events = at(late)
        .given(vec![auction_created(terms)])
        .when(bid(1, "150.00"))
        .inspect_result()
        .unwrap();
    assert_eq!(events.len(), 1);
}

#[test]
fn bids_after_the_end_are_refused() {
    at(t0() + Duration::days(7))
        .given(vec![auction_created(auction_terms("100.00"))])
        .when(bid(1, "150.00"))
        .then_expect_error(ListingError::AuctionEnded);
}

#[test]
fn closing_rechecks_the_end_which_soft_close_may_have_moved() {
    let end = t0() + Duration::days(7);
    let events = run(
        vec![auction_created(auction_terms("100.00"))],
        end - Duration::seconds(30),
        vec![bid(1, "150.00")],
    );
    at(end)
        .given(events)
        .when(ListingCommand::CloseAuction)
        .then_expect_error(ListingError::NotYetEnded);
}

#[test]
fn closing_twice_changes_nothing() {
    let end = t0() + Duration::days(7);
    let events = run(
        vec![auction_created(auction_terms("100.00"))],
        end,
        vec![ListingCommand::CloseAuction],
    );
    assert_eq!(state(&events).status(), ListingStatus::Unsold);
    at(end)
        .given(events)
        .when(ListingCommand::CloseAuction)
        .then_expect_events(vec![]);
}

#[test]
fn without_bids_the_auction_ends_unsold() {
    let end = t0() + Duration::days(7);
    at(end)
        .given(vec![auction_created(auction_terms("100.00"))])
        .when(ListingCommand::CloseAuction)
        .then_expect_events(vec![ListingEvent::AuctionClosed {
            outcome: AuctionOutcome::Unsold {
                reason: UnsoldReason::NoBids,
            },
            at: end,
        }]);
}

#[test]
fn amounts_in_another_currency_are_refused() {
    let euros =
        gavel_domain::Money::parse_decimal("500.00", gavel_domain::Currency::new("EUR").unwrap())
            .unwrap();
    let error = at(t0())
        .given(vec![auction_created(auction_terms("100.00"))])
        .when(ListingCommand::PlaceBid {
            bid_id: uuid::Uuid::from_u128(5),
            bidder: bidder(1),
            max_amount: euros,
        })
        .inspect_result()
        .unwrap_err();
    assert_eq!(
        (error.code(), error.field()),
        ("CURRENCY_MISMATCH", Some("maxAmount"))
    );
}
