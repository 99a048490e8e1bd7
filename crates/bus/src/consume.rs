//! Consuming topics in order, one record at a time, committing only what was handled.

use std::future::Future;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::Message;
use serde::de::DeserializeOwned;

use crate::{client_config, ensure_topics, BusError};

/// How long the broker may hold a fetch that finds nothing new. The broker answers as soon as one
/// byte arrives (`fetch.min.bytes` is 1), so this bounds only how often an idle consumer asks:
/// at 10 ms, the consumers of one `gavel all` kept an idle broker at a sixth of a core.
const FETCH_WAIT_MAX_MS: &str = "500";

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
        .set("fetch.wait.max.ms", FETCH_WAIT_MAX_MS)
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

/// The most records [`consume_batches`] hands over at once. A consumer that keeps up gets small
/// batches (what arrived while it worked on the last one); one that fell behind gets large ones,
/// and a projector writes each listing's document once per batch however many of its events the
/// batch holds, so large batches are how it catches up (docs/performance.md, "Batches that grow
/// with the backlog").
pub const MAX_BATCH: usize = 4_000;

/// Like [`consume`], but hands over every record already waiting (up to [`MAX_BATCH`]) at once, in
/// order, so that the handler can group and overlap its work. The batch's offsets are committed
/// only once `handle` says `Done` for the whole batch; until then the same batch is handed over
/// again, so the handler must treat a record it has already applied as done.
pub async fn consume_batches<T, F, Fut>(
    brokers: &str,
    group: &str,
    topics: &[String],
    shutdown: impl Future<Output = ()>,
    mut handle: F,
) -> Result<(), BusError>
where
    T: DeserializeOwned + Clone,
    F: FnMut(Vec<T>) -> Fut,
    Fut: Future<Output = Handled>,
{
    ensure_topics(brokers, topics, 3).await?;
    let consumer: StreamConsumer = client_config(brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", FETCH_WAIT_MAX_MS)
        .set("session.timeout.ms", "10000")
        .create()?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&names)?;
    tracing::info!(group, ?topics, "consuming in batches");
    tokio::pin!(shutdown);
    loop {
        let first = tokio::select! {
            () = &mut shutdown => return Ok(()),
            message = consumer.recv() => message,
        };
        let mut messages = match first {
            Ok(message) => vec![message],
            Err(error) => {
                tracing::warn!(%error, "Kafka receive failed; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        while messages.len() < MAX_BATCH {
            match tokio::time::timeout(Duration::from_millis(1), consumer.recv()).await {
                Ok(Ok(message)) => messages.push(message),
                Ok(Err(_)) | Err(_) => break,
            }
        }
        let mut records = Vec::with_capacity(messages.len());
        let mut offsets = rdkafka::TopicPartitionList::new();
        for message in &messages {
            match serde_json::from_slice::<T>(message.payload().unwrap_or_default()) {
                Ok(record) => records.push(record),
                Err(error) => {
                    tracing::error!(%error, topic = message.topic(), offset = message.offset(), "unreadable record skipped")
                }
            }
            // Messages of one partition arrive in order: the last one's offset wins.
            if offsets
                .find_partition(message.topic(), message.partition())
                .is_none()
            {
                offsets.add_partition(message.topic(), message.partition());
            }
            offsets.set_partition_offset(
                message.topic(),
                message.partition(),
                rdkafka::Offset::Offset(message.offset() + 1),
            )?;
        }
        drop(messages);
        let mut delay = Duration::from_millis(50);
        loop {
            match handle(records.clone()).await {
                Handled::Done => break,
                Handled::Retry(reason) => {
                    tracing::warn!(%reason, "batch not handled yet; retrying, not skipping")
                }
            }
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                () = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        consumer.commit(&offsets, CommitMode::Async)?;
    }
}
