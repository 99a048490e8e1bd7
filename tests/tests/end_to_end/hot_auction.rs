//! 64 bidders on one auction at once: every valid bid is accepted or refused for a business
//! reason, none fails with a conflict, and the final state equals a serial replay of the accepted
//! bids.

use std::sync::Arc;

use chrono::SecondsFormat;
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use gavel_api::auth::Role;
use gavel_commands::{CommandBus, RetryPolicy};
use gavel_domain::clock::SystemClock;
use gavel_domain::listing::{Actor, Listing, ListingCommand, ListingEvent, ListingServices};
use gavel_tests::{isolated_settings, postgres_pool, stack_settings, TestApp};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_bidders_see_no_conflict_and_the_state_replays_exactly() {
    let settings = isolated_settings(&stack_settings()).await;
    let app = Arc::new(TestApp::spawn(&settings).await);
    let seller = app.user(&[Role::VerifiedSeller]);
    let ends_at =
        (app.clock_now() + chrono::Duration::days(2)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let created = app
        .graphql_as(
            Some(&seller.token),
            r#"mutation($endsAt: String!) { createListing(input: {
                title: "Patek Philippe Nautilus 5711/1A", brand: "Patek Philippe", model: "Nautilus",
                reference: "5711/1A-010", condition: UNWORN,
                auction: { startPrice: { amount: "100.00", currency: "USD" }, endsAt: $endsAt }
            }) { listingId userErrors { code } } }"#,
            json!({ "endsAt": ends_at }),
        )
        .await;
    let id = created["data"]["createListing"]["listingId"]
        .as_str()
        .unwrap()
        .to_string();

    let mut tasks = Vec::new();
    for n in 0..64u32 {
        let app = app.clone();
        let bidder = app.user(&[Role::Buyer]);
        let id = id.clone();
        // Distinct maxima from 150.00 to 465.00, in a scrambled order.
        let amount = format!("{}.00", 150 + ((n * 37) % 64) * 5);
        tasks.push(tokio::spawn(async move {
            app.graphql_as(
                Some(&bidder.token),
                r#"mutation($id: ID!, $amount: String!) {
                    placeBid(input: { listingId: $id, amount: { amount: $amount, currency: "USD" } }) {
                        version userErrors { code }
                    }
                }"#,
                json!({ "id": id, "amount": amount }),
            )
            .await
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        let response: Value = task.await.unwrap();
        assert!(
            response.get("errors").is_none(),
            "a bid failed outright: {response}"
        );
        let payload = &response["data"]["placeBid"];
        match payload["userErrors"].as_array().unwrap().as_slice() {
            [] => accepted += 1,
            [error] => assert_eq!(error["code"], "BID_TOO_LOW", "{payload}"),
            other => panic!("unexpected errors {other:?}"),
        }
    }
    assert!(accepted >= 1);

    // The stored stream: one creation and one BidPlaced per accepted bid, in sequence order.
    let bus = CommandBus::<Listing>::new(
        postgres_pool(&settings),
        ListingServices {
            clock: Arc::new(SystemClock),
        },
        10,
        RetryPolicy::default(),
    );
    let (state, version) = bus.replay(&id).await.unwrap();
    assert_eq!(version, 1 + accepted);
    assert_eq!(state.bids().len(), accepted);

    // Replaying the accepted bids one by one, serially, gives the same auction.
    let events: Vec<ListingEvent> = sqlx::query_scalar::<_, serde_json::Value>(
        "SELECT payload::jsonb FROM events WHERE aggregate_id = $1 ORDER BY sequence",
    )
    .bind(&id)
    .fetch_all(&postgres_pool(&settings))
    .await
    .unwrap()
    .into_iter()
    .map(|payload| serde_json::from_value(payload).unwrap())
    .collect();
    let services = ListingServices {
        clock: Arc::new(SystemClock),
    };
    let mut serial = Listing::default();
    for event in events {
        let command = match event {
            ListingEvent::BidPlaced {
                bid_id,
                bidder_id,
                max_amount,
                ..
            } => ListingCommand::PlaceBid {
                bid_id,
                bidder: Actor::new(bidder_id, [gavel_domain::Role::Buyer]),
                max_amount,
            },
            created => {
                serial.apply(created);
                continue;
            }
        };
        let sink = EventSink::default();
        serial
            .handle(command, &services, &sink)
            .await
            .expect("an accepted bid is accepted again when replayed serially");
    }
    assert_eq!(serial.price(), state.price());
    assert_eq!(serial.leader_id(), state.leader_id());
    assert_eq!(serial.bids().len(), state.bids().len());
    let top = state.bids().iter().map(|b| b.max_amount.minor).max();
    assert_eq!(top, Some(46_500), "the highest maximum was accepted");
}
