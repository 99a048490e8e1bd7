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

use std::future::Future;

use gavel_bus::Handled;
use gavel_projections::{apply_event, EventEnvelope, ProjectionError, ReadStore};

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

/// Runs the projector until `shutdown` completes.
pub async fn run(
    brokers: &str,
    topic_prefix: &str,
    read_store: ReadStore,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ProjectorError> {
    let group = group_id(topic_prefix);
    gavel_bus::consume(
        brokers,
        &group,
        &topics(topic_prefix),
        shutdown,
        |envelope: EventEnvelope| {
            let read_store = read_store.clone();
            async move {
                match apply_event(read_store.database(), &envelope).await {
                    Ok(applied) => {
                        tracing::debug!(id = %envelope.aggregate_id, sequence = envelope.sequence, ?applied, "projected");
                        Handled::Done
                    }
                    Err(error @ ProjectionError::Gap { .. }) => {
                        Handled::Retry(format!("events missing before this one: {error}"))
                    }
                    Err(error) => Handled::Retry(error.to_string()),
                }
            }
        },
    )
    .await?;
    Ok(())
}
