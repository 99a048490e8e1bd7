//! Applying one event to the MongoDB read models, exactly once in effect.
//!
//! The listing document records the last sequence it applied (`version`). An event at or below it
//! is a redelivery and changes nothing; an event more than one past it means events are missing,
//! which is reported as a gap and never skipped. History documents are inserted under a key derived
//! from the event, so writing them twice is harmless; the listing document is written last, with
//! its expected version in the filter.

use bson::{doc, Document};
use gavel_domain::listing::ListingEvent;
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::InsertManyOptions;
use mongodb::{Collection, Database};

use crate::envelope::EventEnvelope;
use crate::listing::{change_for, ListingChange};

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
}

/// The change an event makes to the document that records its aggregate's applied sequence.
#[derive(Debug, Clone, PartialEq)]
pub enum DocumentWrite {
    /// Insert this document (the event created the aggregate).
    Insert(Document),
    /// Set these fields.
    Set(Document),
}

/// Applies one event envelope to the read models in `db`, whichever aggregate it belongs to.
pub async fn apply_event(
    db: &Database,
    envelope: &EventEnvelope,
) -> Result<Applied, ProjectionError> {
    match envelope.aggregate_type.as_str() {
        "Listing" => apply_listing_event(db, envelope).await,
        "Inventory" => crate::inventory::apply_inventory_event(db, envelope).await,
        "Order" => crate::orders::apply_order_event(db, envelope).await,
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

/// Writes `write` to document `id`, moving its version to `sequence` only if it is still at the
/// one before: the last step of applying an event, after every idempotent side write.
pub(crate) async fn write_versioned(
    collection: &Collection<Document>,
    id: &str,
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
                .update_one(
                    doc! { "_id": id, "version": sequence - 1 },
                    doc! { "$set": set },
                )
                .await?;
            if result.matched_count == 1 {
                Ok(Applied::Applied)
            } else {
                Err(ProjectionError::Concurrent(id.to_string()))
            }
        }
    }
}

/// Applies one `Listing` event envelope to the read models in `db`.
pub async fn apply_listing_event(
    db: &Database,
    envelope: &EventEnvelope,
) -> Result<Applied, ProjectionError> {
    apply_listing_events(db, std::slice::from_ref(envelope)).await
}

/// Applies consecutive event envelopes of one listing, in sequence order, to the read models in
/// `db`: one read of the listing document, one bulk insert per history collection and one write
/// of the document, however many events there are. Events the document has applied already are
/// skipped; an event past a gap stops the run after the ones before it are written.
///
/// History documents are inserted, never upserted: an insert is FerretDB's fast path (a filter on
/// `_id` scans the collection), and a redelivered event's insert fails on the unique `_id`,
/// leaving the document (and a later retraction mark) as it was. The listing document is written
/// last, with the version it was read at in the filter.
pub async fn apply_listing_events(
    db: &Database,
    envelopes: &[EventEnvelope],
) -> Result<Applied, ProjectionError> {
    let Some(first) = envelopes.first() else {
        return Ok(Applied::Duplicate);
    };
    let id = first.aggregate_id.as_str();
    let listings = db.collection::<Document>("listings");
    let mut document = listings.find_one(doc! { "_id": id }).await?;
    let read_at = document
        .as_ref()
        .and_then(|d| d.get_i64("version").ok())
        .unwrap_or(0);
    let mut folded = FoldedListing::default();
    let mut applied = read_at;
    let mut gap = None;
    for envelope in envelopes {
        let sequence = envelope.sequence;
        if sequence <= applied {
            continue;
        }
        if sequence != applied + 1 {
            gap = Some(ProjectionError::Gap {
                aggregate_id: id.to_string(),
                applied,
                sequence,
            });
            break;
        }
        let event: ListingEvent = parse(envelope)?;
        let previous_price = document
            .as_ref()
            .and_then(|d| d.get_i64("price_minor").ok());
        folded.add(
            change_for(id, sequence, &event, previous_price),
            &mut document,
            sequence,
        );
        applied = sequence;
    }
    let Some(mut write) = folded.listing else {
        return match gap {
            Some(gap) => Err(gap),
            None => Ok(Applied::Duplicate),
        };
    };
    if let DocumentWrite::Insert(document) = &mut write {
        crate::inventory::add_remaining_stock(db, document).await?;
    }
    insert_all_once(&db.collection::<Document>("bid_history"), folded.bids).await?;
    let bids = db.collection::<Document>("bid_history");
    for key in &folded.retracted_stored_bids {
        bids.update_one(doc! { "_id": key }, doc! { "$set": { "retracted": true } })
            .await?;
    }
    insert_all_once(
        &db.collection::<Document>("price_history"),
        folded.price_points,
    )
    .await?;
    let outcome = match write {
        DocumentWrite::Insert(document) => match listings.insert_one(document).await {
            Ok(_) => Applied::Applied,
            Err(e) if is_duplicate_key(&e) => Applied::Duplicate,
            Err(e) => return Err(e.into()),
        },
        DocumentWrite::Set(mut set) => {
            set.insert("version", applied);
            let result = listings
                .update_one(doc! { "_id": id, "version": read_at }, doc! { "$set": set })
                .await?;
            if result.matched_count != 1 {
                return Err(ProjectionError::Concurrent(id.to_string()));
            }
            Applied::Applied
        }
    };
    match gap {
        Some(gap) => Err(gap),
        None => Ok(outcome),
    }
}

/// The changes of several consecutive events of one listing, merged into one write per document.
#[derive(Default)]
struct FoldedListing {
    /// The listing document to insert, or the fields to set; none until an event is folded in.
    listing: Option<DocumentWrite>,
    bids: Vec<Document>,
    /// Retracted bids placed before this run, already in the bid history.
    retracted_stored_bids: Vec<String>,
    price_points: Vec<Document>,
}

impl FoldedListing {
    /// Folds in `change`, the event at `sequence`, keeping `document` (the listing as the events
    /// so far leave it) current for the next event's previous price.
    fn add(&mut self, change: ListingChange, document: &mut Option<Document>, sequence: i64) {
        match change.listing {
            DocumentWrite::Insert(created) => {
                *document = Some(created.clone());
                self.listing = Some(DocumentWrite::Insert(created));
            }
            DocumentWrite::Set(set) => {
                let current = document.get_or_insert_with(Document::new);
                current.extend(set.clone());
                current.insert("version", sequence);
                self.listing = Some(match self.listing.take() {
                    None => DocumentWrite::Set(set),
                    Some(DocumentWrite::Set(mut fields)) => {
                        fields.extend(set);
                        DocumentWrite::Set(fields)
                    }
                    Some(DocumentWrite::Insert(mut created)) => {
                        created.extend(set);
                        created.insert("version", sequence);
                        DocumentWrite::Insert(created)
                    }
                });
            }
        }
        self.bids.extend(change.bids);
        for key in change.retracted_bids {
            match self
                .bids
                .iter_mut()
                .find(|bid| bid.get_str("_id") == Ok(key.as_str()))
            {
                Some(bid) => {
                    bid.insert("retracted", true);
                }
                None => self.retracted_stored_bids.push(key),
            }
        }
        self.price_points.extend(change.price_point);
    }
}

/// Inserts `documents` in one round trip, leaving any whose `_id` exists as it is.
async fn insert_all_once(
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
