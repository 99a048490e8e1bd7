//! Listing read models folded in memory from a whole stream of listing events, for a rebuild:
//! the same changes [`apply_listing_event`](crate::apply_listing_event) writes one event at a time,
//! written in bulk. A rebuild is bound by round trips to the read store, so it makes one per
//! thousand documents instead of several per event.
//!
//! A rebuild reads the store one aggregate at a time, so a listing is folded whole, handed to the
//! [`BulkWriter`] and forgotten: memory holds one listing and the batches in flight, however
//! large the store.

use std::collections::HashMap;

use bson::Document;
use gavel_domain::listing::ListingEvent;
use mongodb::Database;
use tokio::task::JoinSet;

use crate::apply::DocumentWrite;
use crate::listing::change_for;
use crate::ProjectionError;

/// How many documents one bulk insert carries.
const BATCH: usize = 1_000;

/// How many bulk inserts are in flight at once.
const CONCURRENT_BATCHES: usize = 4;

/// One listing's document, bids and price history, built in memory from its events.
#[derive(Debug, Default)]
pub struct ListingFold {
    listing_id: String,
    listing: Option<Document>,
    bids: Vec<Document>,
    bid_positions: HashMap<String, usize>,
    price_points: Vec<Document>,
}

impl ListingFold {
    /// Folds in event `sequence` of listing `listing_id`. The events of one listing must come in
    /// a row: an event of another listing first hands this one to `writer`. A repeat is ignored
    /// and a gap is an error, as when projecting live.
    pub async fn apply(
        &mut self,
        writer: &mut BulkWriter,
        listing_id: &str,
        sequence: i64,
        event: &ListingEvent,
    ) -> Result<(), ProjectionError> {
        if self.listing_id != listing_id {
            self.finish(writer).await?;
            self.listing_id = listing_id.to_string();
        }
        let applied = self.version();
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
        let previous_price = self
            .listing
            .as_ref()
            .and_then(|d| d.get_i64("price_minor").ok());
        let change = change_for(listing_id, sequence, event, previous_price);
        match change.listing {
            DocumentWrite::Insert(document) => self.listing = Some(document),
            DocumentWrite::Set(set) => {
                let document = self
                    .listing
                    .as_mut()
                    .expect("a listing with a version has a document");
                document.extend(set);
                document.insert("version", sequence);
            }
        }
        for bid in change.bids {
            let key = bid.get_str("_id").unwrap_or_default().to_string();
            match self.bid_positions.get(&key) {
                Some(&position) => self.bids[position] = bid,
                None => {
                    self.bid_positions.insert(key, self.bids.len());
                    self.bids.push(bid);
                }
            }
        }
        for key in change.retracted_bids {
            if let Some(&position) = self.bid_positions.get(&key) {
                self.bids[position].insert("retracted", true);
            }
        }
        self.price_points.extend(change.price_point);
        Ok(())
    }

    /// Hands the listing folded so far to `writer` and starts empty. Listings sold from a SKU get
    /// its remaining stock from the inventory read model, so inventory events must have been
    /// applied first.
    pub async fn finish(&mut self, writer: &mut BulkWriter) -> Result<(), ProjectionError> {
        let folded = std::mem::take(self);
        if let Some(mut listing) = folded.listing {
            crate::inventory::add_remaining_stock(writer.database(), &mut listing).await?;
            writer.insert("listings", vec![listing]).await?;
        }
        writer.insert("bid_history", folded.bids).await?;
        writer.insert("price_history", folded.price_points).await?;
        Ok(())
    }

    fn version(&self) -> i64 {
        self.listing
            .as_ref()
            .and_then(|d| d.get_i64("version").ok())
            .unwrap_or(0)
    }
}

/// Inserts documents in batches of a thousand, several batches at once so that the read store's
/// front end and its database work side by side, while the caller reads on.
#[derive(Debug)]
pub struct BulkWriter {
    db: Database,
    pending: HashMap<&'static str, Vec<Document>>,
    in_flight: JoinSet<Result<(), mongodb::error::Error>>,
}

impl BulkWriter {
    /// A writer into `db`.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            pending: HashMap::new(),
            in_flight: JoinSet::new(),
        }
    }

    /// The database written to.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Queues `documents` for `collection`, sending every full batch.
    pub async fn insert(
        &mut self,
        collection: &'static str,
        documents: Vec<Document>,
    ) -> Result<(), ProjectionError> {
        let pending = self.pending.entry(collection).or_default();
        pending.extend(documents);
        while pending.len() >= BATCH {
            let rest = pending.split_off(BATCH);
            let batch = std::mem::replace(pending, rest);
            Self::send(&self.db, &mut self.in_flight, collection, batch).await?;
        }
        Ok(())
    }

    /// Sends what is left and waits until every batch landed.
    pub async fn finish(mut self) -> Result<(), ProjectionError> {
        for (collection, batch) in std::mem::take(&mut self.pending) {
            if !batch.is_empty() {
                Self::send(&self.db, &mut self.in_flight, collection, batch).await?;
            }
        }
        while let Some(done) = self.in_flight.join_next().await {
            done.expect("a bulk insert task does not panic")?;
        }
        Ok(())
    }

    async fn send(
        db: &Database,
        in_flight: &mut JoinSet<Result<(), mongodb::error::Error>>,
        collection: &'static str,
        batch: Vec<Document>,
    ) -> Result<(), ProjectionError> {
        while in_flight.len() >= CONCURRENT_BATCHES {
            if let Some(done) = in_flight.join_next().await {
                done.expect("a bulk insert task does not panic")?;
            }
        }
        let collection = db.collection::<Document>(collection);
        in_flight.spawn(async move { collection.insert_many(batch).await.map(drop) });
        Ok(())
    }
}
