//! The command bus against the real event store: state stays exact however commands arrive.

use std::sync::Arc;

use chrono::Utc;
use gavel_commands::{CommandBus, CommandContext, CommandError, RetryPolicy};
use gavel_domain::clock::{Clock, ManualClock};
use gavel_domain::listing::{Actor, Listing, ListingCommand, ListingServices, ListingStatus};
use gavel_domain::Role;
use gavel_tests::listings::{create_auction, usd};
use gavel_tests::tally::{Add, Tally};
use gavel_tests::{isolated_settings, postgres_pool, stack_settings};
use uuid::Uuid;

fn context() -> CommandContext {
    CommandContext::new(Some(uuid::Uuid::now_v7()), Utc::now())
}

#[tokio::test]
async fn cached_state_equals_a_full_replay_so_no_event_is_applied_twice() {
    let settings = isolated_settings(&stack_settings()).await;
    let bus = CommandBus::<Tally>::new(postgres_pool(&settings), (), 100, RetryPolicy::default());
    let mut last = None;
    for amount in 1..=30 {
        last = Some(bus.execute("t", Add(amount), &context()).await.unwrap());
    }
    let last = last.unwrap();
    assert_eq!(last.version, 30);
    assert_eq!(
        last.state.applied, 30,
        "an event was applied more than once"
    );
    assert_eq!(last.state.total, (1..=30).sum::<u64>());
    let (replayed, version) = bus.replay("t").await.unwrap();
    assert_eq!((replayed, version), (last.state, 30));
}

#[tokio::test]
async fn a_rejection_reaches_the_caller_and_changes_nothing() {
    let settings = isolated_settings(&stack_settings()).await;
    let bus = CommandBus::<Tally>::new(postgres_pool(&settings), (), 100, RetryPolicy::default());
    bus.execute("t", Add(5), &context()).await.unwrap();
    let rejected = bus.execute("t", Add(0), &context()).await;
    assert!(matches!(rejected, Err(CommandError::Rejected(_))));
    let accepted = bus.execute("t", Add(1), &context()).await.unwrap();
    assert_eq!((accepted.version, accepted.state.total), (2, 6));
}

#[tokio::test]
async fn concurrent_writers_in_several_processes_never_see_a_conflict() {
    let settings = isolated_settings(&stack_settings()).await;
    // Four buses stand for four API processes: each has its own cache and its own queue, so they
    // really race on the event store's optimistic concurrency.
    let buses: Vec<Arc<CommandBus<Tally>>> = (0..4)
        .map(|_| {
            Arc::new(CommandBus::new(
                postgres_pool(&settings),
                (),
                100,
                RetryPolicy::default(),
            ))
        })
        .collect();
    let mut tasks = Vec::new();
    for writer in 0..64u64 {
        let bus = buses[(writer % 4) as usize].clone();
        tasks.push(tokio::spawn(async move {
            bus.execute("hot", Add(writer + 1), &context()).await
        }));
    }
    for task in tasks {
        let accepted = task.await.unwrap().expect("no conflict reaches a writer");
        assert!(accepted.version >= 1);
    }
    let (state, version) = buses[0].replay("hot").await.unwrap();
    assert_eq!(version, 64);
    assert_eq!(state.applied, 64);
    assert_eq!(state.total, (1..=64).sum::<u64>());
}

#[tokio::test]
async fn events_carry_who_when_and_why() {
    let settings = isolated_settings(&stack_settings()).await;
    let pool = postgres_pool(&settings);
    let bus = CommandBus::<Tally>::new(pool.clone(), (), 100, RetryPolicy::default());
    let mut context = context();
    context.idempotency_key = Some("client-key-1".into());
    context.causation_id = Some(format!("Listing:{}:1", uuid::Uuid::now_v7()));
    bus.execute("t", Add(1), &context).await.unwrap();
    let metadata: serde_json::Value = sqlx::query_scalar("SELECT metadata::jsonb FROM events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(metadata["user_id"], context.user_id.unwrap().to_string());
    assert_eq!(
        metadata["correlation_id"],
        context.correlation_id.to_string()
    );
    assert_eq!(
        metadata["causation_id"],
        context.causation_id.clone().unwrap()
    );
    assert_eq!(metadata["idempotency_key"], "client-key-1");
    assert!(metadata["recorded_at"].as_str().unwrap().ends_with('Z'));
}

/// Two buses stand for two API processes, each with its own cache, on one auction that ends in
/// six hours (the late phase).
fn listing_buses(
    settings: &gavel_config::Settings,
) -> (Arc<ManualClock>, [CommandBus<Listing>; 2]) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let bus = || {
        CommandBus::<Listing>::new(
            postgres_pool(settings),
            ListingServices {
                clock: clock.clone(),
            },
            100,
            RetryPolicy::default(),
        )
    };
    (clock.clone(), [bus(), bus()])
}

/// An auction in its late phase whose only bid bus `b` retracted behind bus `a`'s back: `a`'s
/// cache still holds the bid. Returns the auction's id and its seller.
async fn auction_with_a_bid_only_a_remembers(
    clock: &ManualClock,
    a: &CommandBus<Listing>,
    b: &CommandBus<Listing>,
) -> (String, Actor) {
    let seller = Actor::new(Uuid::now_v7(), [Role::VerifiedSeller]);
    let bidder = Actor::new(Uuid::now_v7(), [Role::Buyer]);
    let id = Uuid::now_v7();
    a.execute(
        &id.to_string(),
        create_auction(id, seller.clone(), clock.now() + chrono::Duration::hours(6)),
        &context(),
    )
    .await
    .unwrap();
    let bid = ListingCommand::PlaceBid {
        bid_id: Uuid::now_v7(),
        bidder: bidder.clone(),
        max_amount: usd(20_000),
    };
    a.execute(&id.to_string(), bid, &context()).await.unwrap();
    // Retracting is allowed within the hour.
    b.execute(
        &id.to_string(),
        ListingCommand::RetractBid { bidder },
        &context(),
    )
    .await
    .unwrap();
    (id.to_string(), seller)
}

#[tokio::test]
async fn a_cache_made_stale_by_another_process_never_decides_an_answer() {
    let settings = isolated_settings(&stack_settings()).await;
    let (clock, [a, b]) = listing_buses(&settings);
    let (id, seller) = auction_with_a_bid_only_a_remembers(&clock, &a, &b).await;
    // On A's stale cache, withdrawing in the late phase with a bid would be refused; the store
    // says there is no bid any more, so it is accepted.
    let withdrawn = a
        .execute(&id, ListingCommand::Withdraw { actor: seller }, &context())
        .await
        .unwrap();
    assert_eq!(withdrawn.version, 4);
    assert_eq!(withdrawn.state.status(), ListingStatus::Withdrawn);
}

#[tokio::test]
async fn a_rejection_in_a_batch_that_commits_is_never_decided_on_a_stale_cache() {
    let settings = isolated_settings(&stack_settings()).await;
    let (clock, [a, b]) = listing_buses(&settings);
    let (id, seller) = auction_with_a_bid_only_a_remembers(&clock, &a, &b).await;
    // Both commands wait before either runs (the test runtime has one thread), so they form one
    // batch. On A's stale cache the withdrawal would be refused and the bid would write; in truth
    // the auction has no bid, so the withdrawal goes through and the bid finds it withdrawn.
    let rival = Actor::new(Uuid::now_v7(), [Role::Buyer]);
    let (first, second) = (context(), context());
    let (withdrawn, bid) = tokio::join!(
        a.execute(&id, ListingCommand::Withdraw { actor: seller }, &first),
        a.execute(
            &id,
            ListingCommand::PlaceBid {
                bid_id: Uuid::now_v7(),
                bidder: rival,
                max_amount: usd(30_000),
            },
            &second,
        ),
    );
    let withdrawn = withdrawn.expect("the withdrawal was refused on stale state");
    assert_eq!(withdrawn.version, 4);
    assert!(
        matches!(bid, Err(CommandError::Rejected(_))),
        "a bid on a withdrawn auction was answered {bid:?}"
    );
    let (state, version) = a.replay(&id).await.unwrap();
    assert_eq!((state.status(), version), (ListingStatus::Withdrawn, 4));
}

#[tokio::test]
async fn commands_that_wait_for_one_aggregate_share_a_commit_yet_keep_their_own_answers() {
    let settings = isolated_settings(&stack_settings()).await;
    let pool = postgres_pool(&settings);
    let bus = Arc::new(CommandBus::<Tally>::new(
        pool.clone(),
        (),
        100,
        RetryPolicy::default(),
    ));
    // Every fourth command adds nothing and is refused; the others must not be refused with it.
    let commands: Vec<(u64, CommandContext)> = (0..48u64)
        .map(|n| (if n % 4 == 3 { 0 } else { n + 1 }, context()))
        .collect();
    let tasks: Vec<_> = commands
        .iter()
        .cloned()
        .map(|(amount, context)| {
            let bus = bus.clone();
            tokio::spawn(async move { bus.execute("hot", Add(amount), &context).await })
        })
        .collect();
    let mut versions = Vec::new();
    for ((amount, context), task) in commands.iter().zip(tasks) {
        match task.await.unwrap() {
            Ok(accepted) => {
                assert_ne!(*amount, 0, "a command adding nothing was accepted");
                let (payload, metadata): (serde_json::Value, serde_json::Value) = sqlx::query_as(
                    "SELECT payload::jsonb, metadata::jsonb FROM events WHERE sequence = $1",
                )
                .bind(accepted.version as i64)
                .fetch_one(&pool)
                .await
                .unwrap();
                assert_eq!(
                    payload["Added"]["amount"], *amount,
                    "another command's event"
                );
                assert_eq!(
                    metadata["user_id"],
                    context.user_id.unwrap().to_string(),
                    "another command's metadata"
                );
                versions.push(accepted.version);
            }
            Err(CommandError::Rejected(_)) => assert_eq!(*amount, 0, "a valid command refused"),
            Err(other) => panic!("a command failed: {other}"),
        }
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=36).collect::<Vec<_>>());
    // Rows appended by one statement share its transaction id.
    let commits: i64 = sqlx::query_scalar("SELECT count(DISTINCT xmin::text) FROM events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        commits < 36,
        "36 events took {commits} commits: waiting commands were not committed together"
    );
    let (state, version) = bus.replay("hot").await.unwrap();
    assert_eq!((state.applied, version), (36, 36));
}
