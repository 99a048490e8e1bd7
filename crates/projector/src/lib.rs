//! Gavel's projector.
//!
//! A Kafka consumer group (`<prefix>projector`) reads the listing topic and applies each event to
//! the read models with [`gavel_projections::apply_listing_event`]. An offset is committed only
//! after its event's write landed (or was found already applied), so a crash repeats work and
//! never loses it. An event that cannot be applied yet (a gap, an outage) is retried with backoff,
//! never skipped; the partition waits behind it. Projectors scale with the topic's partitions.

use std::future::Future;
use std::time::Duration;

use gavel_projections::{apply_listing_event, EventEnvelope, ProjectionError, ReadStore};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::Message;

/// Why the projector could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    /// Kafka failed.
    #[error("Kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// Topic creation failed.
    #[error(transparent)]
    Bus(#[from] gavel_bus::BusError),
}

/// The topic of listing events for `prefix`.
pub fn listing_topic(prefix: &str) -> String {
    format!("{prefix}listing")
}

/// The projector's consumer group for `prefix`.
pub fn group_id(prefix: &str) -> String {
    format!("{prefix}projector")
}

/// Runs the projector until `shutdown` completes.
pub async fn run(
    brokers: &str,
    topic_prefix: &str,
    read_store: ReadStore,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ProjectorError> {
    let topic = listing_topic(topic_prefix);
    gavel_bus::ensure_topics(brokers, std::slice::from_ref(&topic), 3).await?;
    let consumer: StreamConsumer = gavel_bus::client_config(brokers)
        .set("group.id", group_id(topic_prefix))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10")
        .set("session.timeout.ms", "10000")
        .create()?;
    consumer.subscribe(&[&topic])?;
    tracing::info!(%topic, "projector consuming");
    tokio::pin!(shutdown);
    loop {
        let message = tokio::select! {
            () = &mut shutdown => return Ok(()),
            message = consumer.recv() => message,
        };
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, "Kafka receive failed; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let Some(payload) = message.payload() else {
            tracing::error!(
                offset = message.offset(),
                "empty record on the listing topic"
            );
            continue;
        };
        let envelope = match EventEnvelope::from_slice(payload) {
            Ok(envelope) => envelope,
            Err(error) => {
                // Not ours to interpret; stopping here would block every listing behind it.
                tracing::error!(%error, offset = message.offset(), "unreadable record skipped");
                consumer.commit_message(&message, CommitMode::Async)?;
                continue;
            }
        };
        let mut delay = Duration::from_millis(50);
        loop {
            match apply_listing_event(read_store.database(), &envelope).await {
                Ok(applied) => {
                    tracing::debug!(id = %envelope.aggregate_id, sequence = envelope.sequence, ?applied, "projected");
                    break;
                }
                Err(error @ ProjectionError::Gap { .. }) => {
                    tracing::error!(%error, "events missing before this one; waiting, not skipping");
                }
                Err(error) => tracing::warn!(%error, "projection failed; retrying"),
            }
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                () = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        consumer.commit_message(&message, CommitMode::Async)?;
    }
}
