//! Applying one event to the read models, exactly once in effect.
//!
//! The listing document records the last sequence it applied (`version`). An event at or below it
//! is a redelivery and changes nothing; an event more than one past it means events are missing,
//! which is reported as a gap and never skipped. History documents are inserted under a key derived
//! from the event, so writing them twice is harmless; the listing document is written last, with
//! its expected version in the filter.

use bson::{doc, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::InsertManyOptions;
use mongodb::Collection;

use crate::envelope::EventEnvelope;
use crate::ReadStore;

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The read models now reflect the event.
    Applied,
    /// The event had been applied before; nothing changed.
    Duplicate,
}

/// Why an event could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// Earlier events of the aggregate have not been applied.
    #[error("gap in {aggregate_id}: read model is at {applied}, event is {sequence}")]
    Gap {
        /// The aggregate.
        aggregate_id: String,
        /// The last sequence the read model applied.
        applied: i64,
        /// The sequence of the event that arrived.
        sequence: i64,
    },
    /// The payload is not an event this version understands.
    #[error("unreadable {event_type} v{event_version} event: {source}")]
    Unreadable {
        /// The event type.
        event_type: String,
        /// Its version.
        event_version: String,
        /// Why it failed to parse.
        source: serde_json::Error,
    },
    /// Another writer moved the document between the read and the write.
    #[error("concurrent write to {0}; retry")]
    Concurrent(String),
    /// The envelope names an aggregate type no projection handles.
    #[error("no read model for aggregate type {0}")]
    UnknownAggregate(String),
    /// MongoDB failed.
    #[error("MongoDB: {0}")]
    Store(#[from] mongodb::error::Error),
    /// The search index (PostgreSQL) failed.
    #[error("search index: {0}")]
    Search(#[from] sqlx::Error),
}

/// The change an event makes to the document that records its aggregate's applied sequence.
#[derive(Debug, Clone, PartialEq)]
pub enum DocumentWrite {
    /// Insert this document (the event created the aggregate).
    Insert(Document),
    /// Set these fields.
    Set(Document),
}

/// Applies one event envelope to the read models in `store`, whichever aggregate it belongs to.
pub async fn apply_event(
    store: &ReadStore,
    envelope: &EventEnvelope,
) -> Result<Applied, ProjectionError> {
    match envelope.aggregate_type.as_str() {
        "Listing" => crate::apply_listings::apply_listing_event(store, envelope).await,
        "Inventory" => crate::inventory::apply_inventory_event(store, envelope).await,
        "Order" => crate::orders::apply_order_event(store.database(), envelope).await,
        other => Err(ProjectionError::UnknownAggregate(other.to_string())),
    }
}

/// Parses an envelope's payload as the event type `E`.
pub(crate) fn parse<E: serde::de::DeserializeOwned>(
    envelope: &EventEnvelope,
) -> Result<E, ProjectionError> {
    serde_json::from_value(envelope.payload.clone()).map_err(|source| ProjectionError::Unreadable {
        event_type: envelope.event_type.clone(),
        event_version: envelope.event_version.clone(),
        source,
    })
}

/// Where an event stands against its aggregate's document.
pub(crate) enum Position {
    /// The event is the next one; here is the document as it stands (none before the first).
    Next(Option<Document>),
    /// The document has applied this event already.
    Duplicate,
}

/// Reads document `id` of `collection` and places `sequence` against the version it records:
/// already applied, next, or past a gap (an error).
pub(crate) async fn position(
    collection: &Collection<Document>,
    id: &str,
    sequence: i64,
) -> Result<Position, ProjectionError> {
    let current = collection.find_one(doc! { "_id": id }).await?;
    let applied = current
        .as_ref()
        .and_then(|d| d.get_i64("version").ok())
        .unwrap_or(0);
    if applied >= sequence {
        return Ok(Position::Duplicate);
    }
    if applied != sequence - 1 {
        return Err(ProjectionError::Gap {
            aggregate_id: id.to_string(),
            applied,
            sequence,
        });
    }
    Ok(Position::Next(current))
}

/// Writes `write` to document `id`, moving its version to `sequence` only if it is still at
/// `read_at`, the version the write was decided on: the last step of applying events, after
/// every idempotent side write.
pub(crate) async fn write_versioned(
    collection: &Collection<Document>,
    id: &str,
    read_at: i64,
    sequence: i64,
    write: DocumentWrite,
) -> Result<Applied, ProjectionError> {
    match write {
        DocumentWrite::Insert(document) => match collection.insert_one(document).await {
            Ok(_) => Ok(Applied::Applied),
            Err(e) if is_duplicate_key(&e) => Ok(Applied::Duplicate),
            Err(e) => Err(e.into()),
        },
        DocumentWrite::Set(mut set) => {
            set.insert("version", sequence);
            let result = collection
                .update_one(doc! { "_id": id, "version": read_at }, doc! { "$set": set })
                .await?;
            if result.matched_count == 1 {
                Ok(Applied::Applied)
            } else {
                Err(ProjectionError::Concurrent(id.to_string()))
            }
        }
    }
}

/// Inserts `documents` in one round trip, leaving any whose `_id` exists as it is.
pub(crate) async fn insert_all_once(
    collection: &Collection<Document>,
    documents: Vec<Document>,
) -> Result<(), ProjectionError> {
    if documents.is_empty() {
        return Ok(());
    }
    let options = InsertManyOptions::builder().ordered(false).build();
    match collection
        .insert_many(documents)
        .with_options(options)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if only_duplicate_keys(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn only_duplicate_keys(error: &mongodb::error::Error) -> bool {
    match error.kind.as_ref() {
        ErrorKind::InsertMany(failure) => {
            failure.write_concern_error.is_none()
                && failure
                    .write_errors
                    .as_ref()
                    .is_some_and(|errors| errors.iter().all(|e| e.code == DUPLICATE_KEY))
        }
        _ => is_duplicate_key(error),
    }
}

/// MongoDB's `DuplicateKey` error code.
const DUPLICATE_KEY: i32 = 11000;

fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    matches!(
        error.kind.as_ref(),
        ErrorKind::Write(WriteFailure::WriteError(e)) if e.code == DUPLICATE_KEY
    )
}
