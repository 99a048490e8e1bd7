//! Gavel's projector.
//!
//! A Kafka consumer group (`<prefix>projector`) reads the listing, inventory and order topics and
//! applies each event to the read models with [`gavel_projections::apply_event`]. An offset is committed only
//! after its event's write landed (or was found already applied), so a crash repeats work and
//! never loses it. An event that cannot be applied yet (a gap, an outage) is retried with backoff,
//! never skipped; the partition waits behind it. Projectors scale with the topic's partitions.
//!
//! [`rebuild`] replays the whole event store into empty read models instead (`gavel rebuild`).

mod rebuild;

use std::collections::HashMap;
use std::future::Future;

use futures::stream::{self, StreamExt};

use gavel_bus::Handled;
use gavel_projections::{
    apply_event, apply_listing_events, Applied, EventEnvelope, ProjectionError, ReadStore,
};

pub use rebuild::{rebuild, RebuildError, Rebuilt};

/// Why the projector could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    /// Kafka failed.
    #[error(transparent)]
    Bus(#[from] gavel_bus::BusError),
}

/// The topic of listing events for `prefix`.
pub fn listing_topic(prefix: &str) -> String {
    gavel_bus::topic_for(prefix, "Listing")
}

/// Every topic the projector reads for `prefix`.
pub fn topics(prefix: &str) -> Vec<String> {
    ["Listing", "Inventory", "Order"]
        .iter()
        .map(|aggregate| gavel_bus::topic_for(prefix, aggregate))
        .collect()
}

/// The projector's consumer group for `prefix`.
pub fn group_id(prefix: &str) -> String {
    format!("{prefix}projector")
}

/// How many aggregates of one batch are projected at once. The read store's round trips, not its
/// processor, bound a projector, so overlapping them is what makes it keep up.
const CONCURRENT_AGGREGATES: usize = 16;

/// Runs the projector until `shutdown` completes. Each batch of waiting events is grouped by
/// aggregate: one aggregate's events are applied in order (a listing's in one read and one write),
/// different aggregates at once.
pub async fn run(
    brokers: &str,
    topic_prefix: &str,
    read_store: ReadStore,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ProjectorError> {
    let group = group_id(topic_prefix);
    gavel_bus::consume_batches(
        brokers,
        &group,
        &topics(topic_prefix),
        shutdown,
        |batch: Vec<EventEnvelope>| {
            let read_store = read_store.clone();
            async move { apply_batch(&read_store, batch).await }
        },
    )
    .await?;
    Ok(())
}

/// Applies one aggregate's `events` one at a time, in order.
async fn apply_each(
    read_store: &ReadStore,
    events: &[EventEnvelope],
) -> Result<Applied, ProjectionError> {
    let mut outcome = Applied::Duplicate;
    for envelope in events {
        if apply_event(read_store.database(), envelope).await? == Applied::Applied {
            outcome = Applied::Applied;
        }
    }
    Ok(outcome)
}

/// Applies `batch`, each aggregate's events in order and up to [`CONCURRENT_AGGREGATES`]
/// aggregates at once; `Retry` if any event could not be applied yet (the applied ones are
/// duplicates the next time).
async fn apply_batch(read_store: &ReadStore, batch: Vec<EventEnvelope>) -> Handled {
    let mut streams: Vec<Vec<EventEnvelope>> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for envelope in batch {
        let key = (
            envelope.aggregate_type.clone(),
            envelope.aggregate_id.clone(),
        );
        let slot = *index.entry(key).or_insert_with(|| {
            streams.push(Vec::new());
            streams.len() - 1
        });
        streams[slot].push(envelope);
    }
    let failures: Vec<String> = stream::iter(streams)
        .map(|events| async move {
            let outcome = if events[0].aggregate_type == "Listing" {
                apply_listing_events(read_store.database(), &events).await
            } else {
                apply_each(read_store, &events).await
            };
            match outcome {
                Ok(applied) => {
                    tracing::debug!(id = %events[0].aggregate_id, events = events.len(), ?applied, "projected");
                    None
                }
                Err(error @ ProjectionError::Gap { .. }) => {
                    Some(format!("events missing before this one: {error}"))
                }
                Err(error) => Some(error.to_string()),
            }
        })
        .buffer_unordered(CONCURRENT_AGGREGATES)
        .filter_map(|failure| async move { failure })
        .collect()
        .await;
    match failures.first() {
        None => Handled::Done,
        Some(first) => Handled::Retry(format!(
            "{} aggregates failed, first: {first}",
            failures.len()
        )),
    }
}
