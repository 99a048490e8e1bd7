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

use std::collections::{BTreeSet, HashMap};
use std::future::Future;

use futures::stream::{self, StreamExt};

use gavel_bus::Handled;
use gavel_projections::{
    apply_event, apply_listing_streams, Applied, EventEnvelope, ListingDocuments, ProjectionError,
    ReadStore,
};
use gavel_store::projected::announce;
use sqlx::PgPool;

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

/// How many inventory and order aggregates of one batch are projected at once. The read store's
/// round trips, not its processor, bound a projector, so overlapping them is what makes it keep up.
const CONCURRENT_AGGREGATES: usize = 16;

/// How many listing documents a projector remembers from its own writes, so that their next
/// events need no read (a few kilobytes each).
const REMEMBERED_LISTINGS: u64 = 20_000;

/// Runs the projector until `shutdown` completes. Each batch of waiting events is grouped by
/// aggregate: one aggregate's events are applied in order, different aggregates at once (the
/// inventory and order aggregates before the listings), and the listings of a batch share their
/// history inserts. Once a batch is applied, the aggregates it moved are announced on
/// `event_store`'s database, for queries waiting to read their own writes.
pub async fn run(
    brokers: &str,
    topic_prefix: &str,
    read_store: ReadStore,
    event_store: PgPool,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ProjectorError> {
    let group = group_id(topic_prefix);
    let listings = ListingDocuments::new(REMEMBERED_LISTINGS);
    let read_database = read_store.database().name().to_string();
    gavel_bus::consume_batches(
        brokers,
        &group,
        &topics(topic_prefix),
        shutdown,
        |batch: Vec<EventEnvelope>| {
            let read_store = read_store.clone();
            let listings = listings.clone();
            let event_store = event_store.clone();
            let read_database = read_database.clone();
            async move {
                let moved: BTreeSet<String> =
                    batch.iter().map(|e| e.aggregate_id.clone()).collect();
                let handled = apply_batch(&read_store, &listings, batch).await;
                if matches!(handled, Handled::Done) {
                    let ids = moved.iter().map(String::as_str);
                    if let Err(error) = announce(&event_store, &read_database, ids).await {
                        // Waiting queries look again on their own; only their wait is longer.
                        tracing::warn!(%error, "could not announce projected aggregates");
                    }
                }
                handled
            }
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
        if apply_event(read_store, envelope).await? == Applied::Applied {
            outcome = Applied::Applied;
        }
    }
    Ok(outcome)
}

/// Applies `batch`, each aggregate's events in order: first the inventory and order aggregates,
/// up to [`CONCURRENT_AGGREGATES`] at once, then the listings together. `Retry` if any event
/// could not be applied yet (the applied ones are duplicates the next time).
async fn apply_batch(
    read_store: &ReadStore,
    listings: &ListingDocuments,
    batch: Vec<EventEnvelope>,
) -> Handled {
    let (listing_streams, other_streams): (Vec<_>, Vec<_>) = by_aggregate(batch)
        .into_iter()
        .partition(|events| events[0].aggregate_type == "Listing");
    let mut others = Vec::with_capacity(other_streams.len());
    for events in &other_streams {
        others.push(apply_each(read_store, events));
    }
    // The stock first: a listing created from a SKU copies the SKU's stock when it is written,
    // and a stock event moves only the listings already written. Applied side by side, a listing
    // created in the same batch as its SKU's stock could copy the stock from before it and then
    // miss the move, showing a stocked listing as sold out.
    let other_failures: Vec<_> = stream::iter(others)
        .buffer_unordered(CONCURRENT_AGGREGATES)
        .collect()
        .await;
    let streams: Vec<&[EventEnvelope]> = listing_streams.iter().map(Vec::as_slice).collect();
    let listing_failures: Vec<String> =
        match apply_listing_streams(read_store, &streams, listings).await {
            Ok(outcomes) => outcomes
                .into_iter()
                .filter_map(Result::err)
                .map(describe)
                .collect(),
            Err(error) => vec![describe(error)],
        };
    let failures: Vec<String> = listing_failures
        .into_iter()
        .chain(
            other_failures
                .into_iter()
                .filter_map(Result::err)
                .map(describe),
        )
        .collect();
    match failures.first() {
        None => Handled::Done,
        Some(first) => Handled::Retry(format!(
            "{} aggregates failed, first: {first}",
            failures.len()
        )),
    }
}

/// `batch` split into one list of events per aggregate, each in the order it arrived.
fn by_aggregate(batch: Vec<EventEnvelope>) -> Vec<Vec<EventEnvelope>> {
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
    streams
}

fn describe(error: ProjectionError) -> String {
    match error {
        ProjectionError::Gap { .. } => format!("events missing before this one: {error}"),
        error => error.to_string(),
    }
}
