//! The command bus against the real event store: state stays exact however commands arrive.

use std::sync::Arc;

use chrono::Utc;
use gavel_commands::{CommandBus, CommandContext, CommandError, RetryPolicy};
use gavel_tests::tally::{Add, Tally};
use gavel_tests::{isolated_settings, postgres_pool, stack_settings};

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
