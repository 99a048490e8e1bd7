//! Consuming topics in order, one record at a time, committing only what was handled.

use std::future::Future;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::Message;
use serde::de::DeserializeOwned;

use crate::{client_config, ensure_topics, BusError};

/// What a handler made of one record.
#[derive(Debug)]
pub enum Handled {
    /// The record is dealt with (or was already): commit it.
    Done,
    /// The record cannot be dealt with yet (a gap, an outage): try it again, never skip it.
    Retry(String),
}

/// Runs consumer group `group` over `topics` until `shutdown` completes, handing each record,
/// parsed as `T`, to `handle`. A record's offset is committed only once `handle` says `Done`;
/// until then it is retried with backoff (50 ms doubling to 5 s) and its partition waits behind
/// it, so a crash repeats work and never loses it. A record that does not parse as `T` is logged
/// and committed: it is not ours to interpret, and stopping on it would block everything behind.
pub async fn consume<T, F, Fut>(
    brokers: &str,
    group: &str,
    topics: &[String],
    shutdown: impl Future<Output = ()>,
    mut handle: F,
) -> Result<(), BusError>
where
    T: DeserializeOwned + Clone,
    F: FnMut(T) -> Fut,
    Fut: Future<Output = Handled>,
{
    ensure_topics(brokers, topics, 3).await?;
    let consumer: StreamConsumer = client_config(brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10")
        .set("session.timeout.ms", "10000")
        .create()?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&names)?;
    tracing::info!(group, ?topics, "consuming");
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
        let record = match serde_json::from_slice::<T>(message.payload().unwrap_or_default()) {
            Ok(record) => record,
            Err(error) => {
                tracing::error!(%error, topic = message.topic(), offset = message.offset(), "unreadable record skipped");
                consumer.commit_message(&message, CommitMode::Async)?;
                continue;
            }
        };
        let mut delay = Duration::from_millis(50);
        loop {
            match handle(record.clone()).await {
                Handled::Done => break,
                Handled::Retry(reason) => tracing::warn!(
                    topic = message.topic(),
                    offset = message.offset(),
                    %reason,
                    "record not handled yet; retrying, not skipping"
                ),
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
