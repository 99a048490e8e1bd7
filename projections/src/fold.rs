//! Listing read models folded in memory from a whole stream of listing events, for a rebuild:
//! the same changes [`apply_listing_event`](crate::apply_listing_event) writes one event at a time,
//! written at the end in bulk. A rebuild is bound by round trips to the read store, so it makes
//! one per thousand documents instead of several per event.

use std::collections::HashMap;

use bson::Document;
use futures::stream::{self, StreamExt, TryStreamExt};
use gavel_domain::listing::ListingEvent;
use mongodb::Database;

use crate::apply::DocumentWrite;
use crate::listing::change_for;
use crate::ProjectionError;

/// How many documents one bulk insert carries.
const BATCH: usize = 1_000;

/// How many bulk inserts are in flight at once.
const CONCURRENT_BATCHES: usize = 4;

/// Listing documents, bid history and price history, built in memory.
#[derive(Debug, Default)]
pub struct ListingFold {
    listings: HashMap<String, Document>,
    bids: HashMap<String, Document>,
    price_points: Vec<Document>,
}

impl ListingFold {
    /// Folds in event `sequence` of listing `listing_id`: a repeat is ignored and a gap is an
    /// error, as when projecting live.
    pub fn apply(
        &mut self,
        listing_id: &str,
        sequence: i64,
        event: &ListingEvent,
    ) -> Result<(), ProjectionError> {
        let current = self.listings.get(listing_id);
        let applied = current.and_then(|d| d.get_i64("version").ok()).unwrap_or(0);
        if applied >= sequence {
            return Ok(());
        }
        if applied != sequence - 1 {
            return Err(ProjectionError::Gap {
                aggregate_id: listing_id.to_string(),
                applied,
                sequence,
            });
        }
        let previous_price = current.and_then(|d| d.get_i64("price_minor").ok());
        let change = change_for(listing_id, sequence, event, previous_price);
        match change.listing {
            DocumentWrite::Insert(document) => {
                self.listings.insert(listing_id.to_string(), document);
            }
            DocumentWrite::Set(set) => {
                let document = self
                    .listings
                    .get_mut(listing_id)
                    .expect("a listing with a version has a document");
                document.extend(set);
                document.insert("version", sequence);
            }
        }
        for bid in change.bids {
            let key = bid.get_str("_id").unwrap_or_default().to_string();
            self.bids.insert(key, bid);
        }
        for key in change.retracted_bids {
            if let Some(bid) = self.bids.get_mut(&key) {
                bid.insert("retracted", true);
            }
        }
        self.price_points.extend(change.price_point);
        Ok(())
    }

    /// How many listings the fold holds.
    pub fn len(&self) -> usize {
        self.listings.len()
    }

    /// Whether the fold holds no listing.
    pub fn is_empty(&self) -> bool {
        self.listings.is_empty()
    }

    /// Writes everything to `db` in bulk, several batches at once so that the read store's
    /// front end and its database work side by side. Listings sold from a SKU get its remaining
    /// stock from the inventory read model, so inventory events must have been applied first.
    pub async fn write(self, db: &Database) -> Result<(), ProjectionError> {
        let mut listings: Vec<Document> = self.listings.into_values().collect();
        for listing in &mut listings {
            crate::inventory::add_remaining_stock(db, listing).await?;
        }
        let bids: Vec<Document> = self.bids.into_values().collect();
        let batches = [
            ("listings", listings),
            ("bid_history", bids),
            ("price_history", self.price_points),
        ]
        .into_iter()
        .flat_map(|(collection, documents)| {
            documents
                .chunks(BATCH)
                .map(|batch| (collection, batch.to_vec()))
                .collect::<Vec<_>>()
        });
        stream::iter(batches)
            .map(|(collection, batch)| async move {
                db.collection::<Document>(collection)
                    .insert_many(batch)
                    .await
                    .map(drop)
            })
            .buffer_unordered(CONCURRENT_BATCHES)
            .try_collect::<()>()
            .await?;
        Ok(())
    }
}
