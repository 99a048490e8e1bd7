//! Applying one event to the MongoDB read models, exactly once in effect.
//!
//! The listing document records the last sequence it applied (`version`). An event at or below it
//! is a redelivery and changes nothing; an event more than one past it means events are missing,
//! which is reported as a gap and never skipped. History documents are upserted by a key derived
//! from the event, so writing them twice is harmless; the listing document is written last, with
//! its expected version in the filter.

use bson::{doc, Document};
use gavel_domain::listing::ListingEvent;
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::Database;

use crate::envelope::EventEnvelope;
use crate::listing::{change_for, ListingWrite};

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
    /// MongoDB failed.
    #[error("MongoDB: {0}")]
    Store(#[from] mongodb::error::Error),
}

/// Applies one `Listing` event envelope to the read models in `db`.
pub async fn apply_listing_event(
    db: &Database,
    envelope: &EventEnvelope,
) -> Result<Applied, ProjectionError> {
    let event: ListingEvent =
        serde_json::from_value(envelope.payload.clone()).map_err(|source| {
            ProjectionError::Unreadable {
                event_type: envelope.event_type.clone(),
                event_version: envelope.event_version.clone(),
                source,
            }
        })?;
    let id = envelope.aggregate_id.as_str();
    let sequence = envelope.sequence;
    let listings = db.collection::<Document>("listings");
    let current = listings.find_one(doc! { "_id": id }).await?;
    let applied = current
        .as_ref()
        .and_then(|d| d.get_i64("version").ok())
        .unwrap_or(0);
    if applied >= sequence {
        return Ok(Applied::Duplicate);
    }
    if applied != sequence - 1 {
        return Err(ProjectionError::Gap {
            aggregate_id: id.to_string(),
            applied,
            sequence,
        });
    }
    let previous_price = current.as_ref().and_then(|d| d.get_i64("price_minor").ok());
    let change = change_for(id, sequence, &event, previous_price);

    let bids = db.collection::<Document>("bid_history");
    for bid in &change.bids {
        let key = bid.get_str("_id").unwrap_or_default().to_string();
        bids.replace_one(doc! { "_id": key }, bid.clone())
            .upsert(true)
            .await?;
    }
    for key in &change.retracted_bids {
        bids.update_one(doc! { "_id": key }, doc! { "$set": { "retracted": true } })
            .await?;
    }
    if let Some(point) = &change.price_point {
        let key = point.get_str("_id").unwrap_or_default().to_string();
        db.collection::<Document>("price_history")
            .replace_one(doc! { "_id": key }, point.clone())
            .upsert(true)
            .await?;
    }

    match change.listing {
        ListingWrite::Insert(document) => match listings.insert_one(document).await {
            Ok(_) => Ok(Applied::Applied),
            Err(e) if is_duplicate_key(&e) => Ok(Applied::Duplicate),
            Err(e) => Err(e.into()),
        },
        ListingWrite::Set(mut set) => {
            set.insert("version", sequence);
            let result = listings
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

fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    matches!(
        error.kind.as_ref(),
        ErrorKind::Write(WriteFailure::WriteError(e)) if e.code == 11000
    )
}
