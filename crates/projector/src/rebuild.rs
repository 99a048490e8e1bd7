//! Rebuilding the read models from the event store, the source of truth: every stored event, each
//! aggregate's in the order it was appended, into an empty read-model database.

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use gavel_domain::listing::ListingEvent;
use gavel_projections::fold::{BulkWriter, ListingFold};
use gavel_projections::{apply_event, EventEnvelope, ProjectionError, ReadStore};
use mongodb::bson::{doc, Document};
use sqlx::{PgPool, Row};

/// What a rebuild did.
#[derive(Debug, Clone, Copy)]
pub struct Rebuilt {
    /// Events replayed.
    pub events: u64,
    /// How long it took, reading and writing.
    pub elapsed: Duration,
}

impl Rebuilt {
    /// Events replayed per second.
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// Why a rebuild stopped.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// The target already holds read models; rebuilding over them would mix two histories.
    #[error("the read-model database is not empty; point mongodb_database at a new one")]
    NotEmpty,
    /// The search index could not be read or written.
    #[error("search index: {0}")]
    Search(#[from] sqlx::Error),
    /// The read models could not be prepared.
    #[error(transparent)]
    ReadStore(#[from] gavel_projections::ReadStoreError),
    /// Reading the event store failed.
    #[error("event store: {0}")]
    EventStore(#[source] sqlx::Error),
    /// A stored event could not be applied.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    /// A stored listing event could not be read.
    #[error("unreadable listing event: {0}")]
    Unreadable(#[from] serde_json::Error),
}

/// Replays every event of the store on `pool` into the empty read models of `read_store`.
///
/// The store is read one aggregate at a time (the order of its primary key): inventory first,
/// applied event by event, so that listings sold from a SKU find its final stock; then each
/// listing, folded in memory and handed to a bulk writer as soon as its last event is in; then
/// orders. No read model depends on the order of events across aggregates otherwise, and memory
/// holds one listing and the batches being written, however large the store.
/// The search index's statistics are refreshed at the end, so searches are planned on what the
/// rebuild wrote.
pub async fn rebuild(pool: &PgPool, read_store: &ReadStore) -> Result<Rebuilt, RebuildError> {
    read_store.migrate().await?;
    let db = read_store.database();
    for collection in ReadStore::collection_names() {
        if db
            .collection::<Document>(collection)
            .find_one(doc! {})
            .await
            .map_err(ProjectionError::from)?
            .is_some()
        {
            return Err(RebuildError::NotEmpty);
        }
    }
    if !read_store.search().is_empty().await? {
        return Err(RebuildError::NotEmpty);
    }
    let started = Instant::now();
    let mut events = 0;
    let mut writer = BulkWriter::new(read_store);
    let mut listing = ListingFold::default();
    let mut rows = sqlx::query(
        "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload::text AS payload, metadata::text AS metadata FROM events \
         ORDER BY aggregate_type, aggregate_id, sequence",
    )
    .fetch(pool);
    while let Some(row) = rows.try_next().await.map_err(RebuildError::EventStore)? {
        let aggregate_type: String = row.get("aggregate_type");
        let aggregate_id: String = row.get("aggregate_id");
        let sequence: i64 = row.get("sequence");
        let payload: String = row.get("payload");
        if aggregate_type == "Listing" {
            let event: ListingEvent = serde_json::from_str(&payload)?;
            listing
                .apply(&mut writer, &aggregate_id, sequence, &event)
                .await?;
        } else {
            let metadata: String = row.get("metadata");
            let envelope = EventEnvelope {
                aggregate_type,
                aggregate_id,
                sequence,
                event_type: row.get("event_type"),
                event_version: row.get("event_version"),
                payload: serde_json::from_str(&payload)?,
                metadata: serde_json::from_str(&metadata).unwrap_or_default(),
            };
            apply_event(read_store, &envelope).await?;
        }
        events += 1;
    }
    listing.finish(&mut writer).await?;
    writer.finish().await?;
    read_store.search().analyze().await?;
    Ok(Rebuilt {
        events,
        elapsed: started.elapsed(),
    })
}
