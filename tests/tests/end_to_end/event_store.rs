//! The event store is a real PostgreSQL that postgres-es can append to and read back, and every
//! appended event lands in the outbox in the same transaction.

use std::collections::HashMap;

use cqrs_es::persist::PersistedEventRepository;
use cqrs_es::{Aggregate, AggregateError};
use gavel_tests::tally::{Add, Tally, ZeroAmount};
use gavel_tests::{isolated_settings, postgres_pool, stack_settings};
use postgres_es::{postgres_cqrs, PostgresEventRepository};
use sqlx::Row;

#[tokio::test]
async fn the_store_is_postgresql() {
    let settings = isolated_settings(&stack_settings()).await;
    let version: String = sqlx::query_scalar("SELECT version()")
        .fetch_one(&postgres_pool(&settings))
        .await
        .unwrap();
    assert!(version.starts_with("PostgreSQL"), "{version}");
}

#[tokio::test]
async fn appended_events_read_back_in_order_with_metadata() {
    let settings = isolated_settings(&stack_settings()).await;
    let pool = postgres_pool(&settings);
    let cqrs = postgres_cqrs::<Tally>(pool.clone(), vec![], ());

    for amount in [3, 4, 5] {
        let metadata = HashMap::from([("user_id".to_string(), "u-1".to_string())]);
        cqrs.execute_with_metadata("tally-1", Add(amount), metadata)
            .await
            .unwrap();
    }
    let rejected = cqrs.execute("tally-1", Add(0)).await;
    assert!(matches!(
        rejected,
        Err(AggregateError::UserError(ZeroAmount))
    ));

    let events = PostgresEventRepository::new(pool.clone())
        .get_events::<Tally>("tally-1")
        .await
        .unwrap();
    let sequences: Vec<usize> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, [1, 2, 3]);
    let amounts: Vec<u64> = events
        .iter()
        .map(|e| e.payload["Added"]["amount"].as_u64().unwrap())
        .collect();
    assert_eq!(amounts, [3, 4, 5]);
    assert!(events.iter().all(|e| e.metadata["user_id"] == "u-1"));

    let state = PostgresEventRepository::new(pool)
        .get_events::<Tally>("tally-1")
        .await
        .unwrap()
        .into_iter()
        .fold(Tally::default(), |mut tally, e| {
            tally.apply(serde_json::from_value(e.payload).unwrap());
            tally
        });
    assert_eq!(state.total, 12);
}

#[tokio::test]
async fn every_event_is_copied_to_the_outbox_in_the_same_transaction() {
    let settings = isolated_settings(&stack_settings()).await;
    let pool = postgres_pool(&settings);
    let cqrs = postgres_cqrs::<Tally>(pool.clone(), vec![], ());
    cqrs.execute("a", Add(1)).await.unwrap();
    cqrs.execute("b", Add(2)).await.unwrap();
    cqrs.execute("a", Add(3)).await.unwrap();

    let rows = sqlx::query(
        "SELECT aggregate_id, sequence, event_type, payload::text AS payload FROM outbox ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let outbox: Vec<(String, i64, String)> = rows
        .iter()
        .map(|r| {
            (
                r.get("aggregate_id"),
                r.get("sequence"),
                r.get("event_type"),
            )
        })
        .collect();
    assert_eq!(
        outbox,
        [
            ("a".to_string(), 1, "Added".to_string()),
            ("b".to_string(), 1, "Added".to_string()),
            ("a".to_string(), 2, "Added".to_string()),
        ]
    );

    // An append that fails rolls back its outbox row with it.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('Tally', 'c', 1, 'Added', '1.0', '{}', '{}')",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 3);
}

#[tokio::test]
async fn the_same_sequence_cannot_be_appended_twice() {
    let settings = isolated_settings(&stack_settings()).await;
    let pool = postgres_pool(&settings);
    let cqrs = postgres_cqrs::<Tally>(pool.clone(), vec![], ());
    cqrs.execute("t", Add(1)).await.unwrap();

    // Two writers race to append sequence 2.
    let insert = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
                  VALUES ('Tally', 't', 2, 'Added', '1.0', '{\"Added\":{\"amount\":1}}', '{}')";
    sqlx::query(insert).execute(&pool).await.unwrap();
    let second = sqlx::query(insert).execute(&pool).await.unwrap_err();
    assert!(second
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation()));
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_id = 't'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 2);
}

#[tokio::test]
async fn migrating_twice_is_safe() {
    let settings = isolated_settings(&stack_settings()).await;
    let pool = postgres_pool(&settings);
    gavel_store::migrate(&pool).await.unwrap();
    gavel_store::migrate(&pool).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('events', 'snapshots', 'outbox') ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(tables, ["events", "outbox", "snapshots"]);
}
