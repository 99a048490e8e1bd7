//! Killing `gavel relay` and `gavel project` (real processes, SIGKILL) while bids are placed loses
//! nothing: Kafka holds every event with each aggregate's events in sequence order (a crash may
//! repeat events, never skip or reorder them), and the read models equal a fresh replay.

use std::collections::HashMap;
use std::time::Duration;

use chrono::SecondsFormat;
use gavel_api::auth::Role as UserRole;
use gavel_projections::{apply_listing_event, EventEnvelope};
use gavel_tests::{
    all_documents, assert_listing_read_models_equal, isolated_settings, postgres_pool, read_store,
    stack_settings, unique_name, wait_until, RoleProcess, TestApp,
};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::Message;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_relay_and_projector_lose_nothing() {
    let settings = isolated_settings(&stack_settings()).await;
    let app = TestApp::spawn(&settings).await;
    let mut relay = RoleProcess::spawn("relay", &settings);
    let mut projector = RoleProcess::spawn("project", &settings);

    let seller = app.user(&[UserRole::VerifiedSeller]);
    let bidders = [app.user(&[UserRole::Buyer]), app.user(&[UserRole::Buyer])];
    let ends_at =
        (app.clock_now() + chrono::Duration::days(2)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut auctions = Vec::new();
    for n in 0..4 {
        let response = app
            .graphql_as(
                Some(&seller.token),
                r#"mutation($title: String!, $endsAt: String!) { createListing(input: {
                    title: $title, brand: "Rolex", model: "Daytona", reference: "116500LN",
                    condition: GOOD, auction: { startPrice: { amount: "100.00", currency: "USD" }, endsAt: $endsAt }
                }) { listingId userErrors { code } } }"#,
                json!({ "title": format!("Daytona {n}"), "endsAt": ends_at }),
            )
            .await;
        auctions.push(
            response["data"]["createListing"]["listingId"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }

    let rounds = 60;
    for round in 0..rounds {
        if round == rounds / 3 {
            relay.sigkill();
            relay = RoleProcess::spawn("relay", &settings);
        }
        if round == 2 * rounds / 3 {
            projector.sigkill();
            projector = RoleProcess::spawn("project", &settings);
        }
        for id in &auctions {
            let amount = format!("{}.00", 100 + round * 10);
            let bidder = &bidders[round % 2];
            let response = app
                .graphql_as(
                    Some(&bidder.token),
                    r#"mutation($id: ID!, $amount: String!) { placeBid(input: { listingId: $id,
                        amount: { amount: $amount, currency: "USD" } }) { version userErrors { code } } }"#,
                    json!({ "id": id, "amount": amount }),
                )
                .await;
            assert_eq!(
                response["data"]["placeBid"]["userErrors"],
                json!([]),
                "{response}"
            );
        }
    }
    let stream_length = 1 + rounds as i64;

    // Everything reaches the read models once the restarted processes catch up.
    let store = read_store(&settings, &settings.mongodb_database).await;
    wait_until(
        "the read models to catch up",
        Duration::from_secs(90),
        || async {
            let listings = all_documents(&store, "listings").await;
            (listings.len() == auctions.len()
                && listings
                    .iter()
                    .all(|d| d.get_i64("version") == Ok(stream_length)))
            .then_some(())
        },
    )
    .await;
    relay.sigkill();
    projector.sigkill();
    let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&postgres_pool(&settings))
        .await
        .unwrap();
    assert_eq!(outbox, 0, "the outbox drained");

    // Kafka holds every event; per aggregate, never a jump ahead, repeats allowed.
    let consumer: StreamConsumer = gavel_bus::client_config(&settings.kafka_brokers)
        .set("group.id", unique_name("audit"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer
        .subscribe(&[&gavel_projector::listing_topic(
            &settings.kafka_topic_prefix,
        )])
        .unwrap();
    let mut highest: HashMap<String, i64> = HashMap::new();
    let mut envelopes = Vec::new();
    let complete = |highest: &HashMap<String, i64>| {
        highest.len() == auctions.len() && highest.values().all(|h| *h == stream_length)
    };
    tokio::time::timeout(Duration::from_secs(60), async {
        while !complete(&highest) {
            let message = consumer.recv().await.unwrap();
            let envelope = EventEnvelope::from_slice(message.payload().unwrap()).unwrap();
            let seen = highest.entry(envelope.aggregate_id.clone()).or_insert(0);
            assert!(
                envelope.sequence <= *seen + 1,
                "{}: sequence {} after {} skips or reorders",
                envelope.aggregate_id,
                envelope.sequence,
                seen
            );
            *seen = (*seen).max(envelope.sequence);
            envelopes.push(envelope);
        }
    })
    .await
    .expect("every event is in Kafka");

    // A fresh replay of the event store gives exactly the same read models.
    let replay = read_store(&settings, &unique_name("replay")).await;
    replay.migrate().await.unwrap();
    let stored: Vec<(String, i64, String, String, serde_json::Value)> = sqlx::query_as(
        "SELECT aggregate_id, sequence, event_type, event_version, payload::jsonb
         FROM events ORDER BY global_position",
    )
    .fetch_all(&postgres_pool(&settings))
    .await
    .unwrap();
    for (aggregate_id, sequence, event_type, event_version, payload) in stored {
        let envelope: EventEnvelope = serde_json::from_value(json!({
            "aggregate_type": "Listing", "aggregate_id": aggregate_id, "sequence": sequence,
            "event_type": event_type, "event_version": event_version, "payload": payload,
        }))
        .unwrap();
        apply_listing_event(&replay, &envelope).await.unwrap();
    }
    assert_listing_read_models_equal(&store, &replay, "a fresh replay").await;
}
