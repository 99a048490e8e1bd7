//! The relay publishes the outbox to Kafka with the documented topic, key, headers and envelope,
//! and exactly one relay is active at a time, another taking over when it dies.

use std::collections::HashMap;
use std::time::Duration;

use gavel_relay::Relay;
use gavel_tests::{isolated_settings, postgres_pool, stack_settings, unique_name, wait_until};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Headers;
use rdkafka::Message;
use sqlx::PgPool;

async fn append(pool: &PgPool, aggregate_id: &str, sequence: i64) {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('Tally', $1, $2, 'Added', '1', $3, '{\"user_id\":\"u-1\"}')",
    )
    .bind(aggregate_id)
    .bind(sequence)
    .bind(serde_json::json!({ "Added": { "amount": sequence } }))
    .execute(pool)
    .await
    .unwrap();
}

fn consumer(settings: &gavel_config::Settings) -> StreamConsumer {
    let consumer: StreamConsumer = gavel_bus::client_config(&settings.kafka_brokers)
        .set("group.id", unique_name("check"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer
        .subscribe(&[&gavel_relay::topic_for(
            &settings.kafka_topic_prefix,
            "Tally",
        )])
        .unwrap();
    consumer
}

async fn outbox_len(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn events_reach_kafka_with_key_headers_and_envelope_and_leave_the_outbox() {
    let settings = isolated_settings(&stack_settings()).await;
    let pool = postgres_pool(&settings);
    for sequence in 1..=3 {
        append(&pool, "t-1", sequence).await;
    }
    let mut relay = Relay::new(
        &settings.postgres_url,
        pool.clone(),
        &settings.kafka_brokers,
        &settings.kafka_topic_prefix,
    )
    .unwrap();
    assert_eq!(relay.publish_batch().await.unwrap(), 3);
    assert_eq!(outbox_len(&pool).await, 0);
    assert_eq!(relay.publish_batch().await.unwrap(), 0);

    let consumer = consumer(&settings);
    for expected in 1..=3i64 {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("a message within 30 s")
            .unwrap();
        assert_eq!(message.key(), Some("t-1".as_bytes()));
        let headers: HashMap<String, String> = message
            .headers()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h.key.to_string(),
                    String::from_utf8(h.value.unwrap().to_vec()).unwrap(),
                )
            })
            .collect();
        assert_eq!(headers["event_type"], "Added");
        assert_eq!(headers["event_version"], "1");
        assert_eq!(headers["aggregate_type"], "Tally");
        assert_eq!(headers["aggregate_id"], "t-1");
        assert_eq!(headers["sequence"], expected.to_string());
        assert!(headers["recorded_at"].ends_with('Z'));
        let envelope: serde_json::Value =
            serde_json::from_slice(message.payload().unwrap()).unwrap();
        assert_eq!(envelope["sequence"], expected);
        assert_eq!(envelope["payload"]["Added"]["amount"], expected);
        assert_eq!(envelope["metadata"]["user_id"], "u-1");
    }
}

#[tokio::test]
async fn one_relay_is_active_and_another_takes_over_when_it_dies() {
    let settings = isolated_settings(&stack_settings()).await;
    let pool = postgres_pool(&settings);
    let new_relay = || {
        Relay::new(
            &settings.postgres_url,
            pool.clone(),
            &settings.kafka_brokers,
            &settings.kafka_topic_prefix,
        )
        .unwrap()
    };
    let first = tokio::spawn(new_relay().run(std::future::pending()));
    append(&pool, "a", 1).await;
    wait_until(
        "the first relay to publish",
        Duration::from_secs(30),
        || async { (outbox_len(&pool).await == 0).then_some(()) },
    )
    .await;
    let second = tokio::spawn(new_relay().run(std::future::pending()));
    for sequence in 2..=40 {
        append(&pool, "a", sequence).await;
    }
    wait_until("the outbox to drain", Duration::from_secs(30), || async {
        (outbox_len(&pool).await == 0).then_some(())
    })
    .await;

    // The leader dies: its connection, and with it the lock, goes away.
    first.abort();
    let _ = first.await;
    for sequence in 41..=60 {
        append(&pool, "a", sequence).await;
    }
    wait_until(
        "the second relay to take over",
        Duration::from_secs(30),
        || async { (outbox_len(&pool).await == 0).then_some(()) },
    )
    .await;
    second.abort();

    // Without a crash in between, every event was published exactly once, in order.
    let consumer = consumer(&settings);
    let mut sequences = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while sequences.len() < 60 {
            let message = consumer.recv().await.unwrap();
            let envelope: serde_json::Value =
                serde_json::from_slice(message.payload().unwrap()).unwrap();
            sequences.push(envelope["sequence"].as_i64().unwrap());
        }
    })
    .await
    .expect("60 events within 30 s");
    assert_eq!(sequences, (1..=60).collect::<Vec<_>>());
    let extra = tokio::time::timeout(Duration::from_secs(2), consumer.recv()).await;
    assert!(extra.is_err(), "an event was published twice");
}
