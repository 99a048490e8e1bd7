//! The projector's listing writes against real FerretDB and PostgreSQL: listings applied together,
//! documents remembered between batches and made stale by another process, and the
//! announcements that wake queries waiting to read their own writes.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use gavel_commands::{CommandBus, CommandContext, RetryPolicy};
use gavel_config::Settings;
use gavel_domain::clock::{Clock, ManualClock};
use gavel_domain::listing::{Actor, Listing, ListingCommand, ListingServices};
use gavel_domain::Role;
use gavel_projections::{
    apply_listing_event, apply_listing_streams, Applied, EventEnvelope, ListingDocuments,
    ProjectionError, ReadStore,
};
use gavel_store::projected::{announce, ProjectionWatch};
use gavel_tests::listings::{create_auction, usd};
use gavel_tests::{
    all_documents, assert_listing_read_models_equal, isolated_settings, postgres_pool, read_store,
    stack_settings, unique_name,
};
use serde_json::json;
use uuid::Uuid;

/// Creates an auction and places `bids` rising bids on it by two alternating bidders; returns
/// its events as the relay would publish them.
async fn auction_with_bids(
    bus: &CommandBus<Listing>,
    now: chrono::DateTime<Utc>,
    bids: i64,
) -> Vec<EventEnvelope> {
    let context = || CommandContext::new(Some(Uuid::now_v7()), Utc::now());
    let seller = Actor::new(Uuid::now_v7(), [Role::VerifiedSeller]);
    let bidders = [
        Actor::new(Uuid::now_v7(), [Role::Buyer]),
        Actor::new(Uuid::now_v7(), [Role::Buyer]),
    ];
    let id = Uuid::now_v7();
    let mut events = Vec::new();
    let created = bus
        .execute(
            &id.to_string(),
            create_auction(id, seller, now + chrono::Duration::days(3)),
            &context(),
        )
        .await
        .unwrap();
    events.extend(created.events);
    for n in 0..bids {
        let bid = ListingCommand::PlaceBid {
            bid_id: Uuid::now_v7(),
            bidder: bidders[(n % 2) as usize].clone(),
            max_amount: usd(20_000 + 5_000 * n),
        };
        events.extend(
            bus.execute(&id.to_string(), bid, &context())
                .await
                .unwrap()
                .events,
        );
    }
    events
        .into_iter()
        .enumerate()
        .map(|(index, event)| {
            serde_json::from_value(json!({
                "aggregate_type": "Listing",
                "aggregate_id": id.to_string(),
                "sequence": index as i64 + 1,
                "event_type": cqrs_es::DomainEvent::event_type(&event),
                "event_version": cqrs_es::DomainEvent::event_version(&event),
                "payload": event,
            }))
            .unwrap()
        })
        .collect()
}

/// Fresh read models, their search index in `settings`' event-store database.
async fn fresh_store(settings: &Settings) -> ReadStore {
    let store = read_store(settings, &unique_name("read")).await;
    store.migrate().await.unwrap();
    store
}

#[tokio::test]
async fn a_remembered_listing_that_another_process_moved_is_read_again_and_nothing_is_lost() {
    let settings = isolated_settings(&stack_settings()).await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let bus = CommandBus::<Listing>::new(
        postgres_pool(&settings),
        ListingServices {
            clock: clock.clone(),
        },
        100,
        RetryPolicy::default(),
    );
    let first = auction_with_bids(&bus, clock.now(), 4).await;
    let second = auction_with_bids(&bus, clock.now(), 2).await;
    let store = fresh_store(&settings).await;
    let db = &store;
    // Two projector processes, each remembering what it wrote.
    let (a, b) = (ListingDocuments::new(100), ListingDocuments::new(100));

    let outcomes = apply_listing_streams(db, &[&first[..2]], &a).await.unwrap();
    assert!(matches!(outcomes[..], [Ok(Applied::Applied)]));
    // After a rebalance, process B applies the next events.
    let outcomes = apply_listing_streams(db, &[&first[2..4]], &b)
        .await
        .unwrap();
    assert!(matches!(outcomes[..], [Ok(Applied::Applied)]));
    // A is handed event 3 again: its memory says the listing is just before it, the store says
    // otherwise, and the write refuses.
    let outcomes = apply_listing_streams(db, &[&first[2..3]], &a)
        .await
        .unwrap();
    assert!(
        matches!(outcomes[..], [Err(ProjectionError::Concurrent(_))]),
        "a stale memory must not be written over the store: {outcomes:?}"
    );
    // Retried, A reads the listing again and sees the event is applied already.
    let outcomes = apply_listing_streams(db, &[&first[2..3]], &a)
        .await
        .unwrap();
    assert!(matches!(outcomes[..], [Ok(Applied::Duplicate)]));
    // The rest of the first auction and all of the second go in one batch.
    let outcomes = apply_listing_streams(db, &[&first[4..], &second[..]], &a)
        .await
        .unwrap();
    assert!(matches!(
        outcomes[..],
        [Ok(Applied::Applied), Ok(Applied::Applied)]
    ));

    let replay = fresh_store(&settings).await;
    for envelope in first.iter().chain(&second) {
        apply_listing_event(&replay, envelope).await.unwrap();
    }
    assert_listing_read_models_equal(&store, &replay, "a replay one event at a time").await;
    let listing = &all_documents(&store, "listings").await[0];
    assert_eq!(listing.get_i64("version"), Ok(5));
    assert_eq!(listing.get_i64("bid_count"), Ok(4));
}

/// Announces `id` on `database` every 100 ms until `changes` wakes, or panics after 10 s: the
/// listener may not be listening yet when the first one goes out.
async fn announce_until_woken(
    pool: &sqlx::PgPool,
    changes: &tokio::sync::Notify,
    database: &str,
    id: &str,
) {
    let woken = async {
        loop {
            let mut notified = Box::pin(changes.notified());
            notified.as_mut().enable();
            announce(pool, database, [id]).await.unwrap();
            if tokio::time::timeout(Duration::from_millis(100), notified)
                .await
                .is_ok()
            {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), woken)
        .await
        .unwrap_or_else(|_| panic!("no announcement of {id} woke its waiter"));
}

#[tokio::test]
async fn an_announcement_wakes_the_queries_waiting_on_its_aggregates_in_its_read_store_only() {
    let settings = isolated_settings(&stack_settings()).await;
    let pool = postgres_pool(&settings);
    let watch = ProjectionWatch::start(pool.clone(), "reads".into());
    let listening = watch.changes_of("listening");
    announce_until_woken(&pool, &listening, "reads", "listening").await;

    let changes = watch.changes_of("auction-1");
    let mut woken = Box::pin(changes.notified());
    woken.as_mut().enable();
    announce(&pool, "other-reads", ["auction-1"]).await.unwrap();
    announce(&pool, "reads", ["auction-2"]).await.unwrap();
    // Announcements are delivered in order: once this one woke its waiter, the two before it
    // have been seen.
    announce_until_woken(&pool, &listening, "reads", "listening").await;
    assert!(
        futures::poll!(woken.as_mut()).is_pending(),
        "woken by an announcement about another read store or another aggregate"
    );
    let ids: Vec<String> = (0..2_000).map(|n| format!("filler-{n}")).collect();
    let many = ids.iter().map(String::as_str).chain(["auction-1"]);
    announce(&pool, "reads", many).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), woken)
        .await
        .expect("an announcement longer than one notification still reaches its last id");
}
