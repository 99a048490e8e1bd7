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

use crate::apply_listings::FoldedStream;
use crate::search::{SearchIndex, SearchRow};
use crate::{ProjectionError, ReadStore};

/// How many documents one bulk insert carries.
const BATCH: usize = 1_000;

/// How many bulk inserts are in flight at once.
const CONCURRENT_BATCHES: usize = 4;

/// One listing's document, bids and price history, built in memory from its events.
#[derive(Debug, Default)]
pub struct ListingFold {
    listing_id: String,
    listing: FoldedStream,
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
        if self.listing.is_next(listing_id, sequence)? {
            self.listing.add(listing_id, event);
        }
        Ok(())
    }

    /// Hands the listing folded so far to `writer` and starts empty. Its bids are all in the fold,
    /// so a retraction has marked them there. Listings sold from a SKU get its remaining stock
    /// from the inventory read model, so inventory events must have been applied first.
    pub async fn finish(&mut self, writer: &mut BulkWriter) -> Result<(), ProjectionError> {
        let FoldedStream {
            document, folded, ..
        } = std::mem::take(self).listing;
        if let Some(mut listing) = document {
            crate::inventory::add_remaining_stock(writer.database(), &mut listing).await?;
            writer.insert_listing(listing).await?;
        }
        writer.insert("bid_history", folded.bids).await?;
        writer.insert("price_history", folded.price_points).await?;
        Ok(())
    }
}

/// Inserts documents in batches of a thousand, several batches at once so that the read store's
/// front end and its database work side by side, while the caller reads on. A batch of listing
/// documents carries their search rows, written once the documents are in.
#[derive(Debug)]
pub struct BulkWriter {
    db: Database,
    search: SearchIndex,
    pending: HashMap<&'static str, Vec<Document>>,
    pending_listings: Vec<Document>,
    in_flight: JoinSet<Result<(), ProjectionError>>,
}

impl BulkWriter {
    /// A writer into the read models of `store`.
    pub fn new(store: &ReadStore) -> Self {
        Self {
            db: store.database().clone(),
            search: store.search().clone(),
            pending: HashMap::new(),
            pending_listings: Vec::new(),
            in_flight: JoinSet::new(),
        }
    }

    /// The database written to.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Queues `documents` for `collection` (a history collection, not `listings`), sending every
    /// full batch.
    pub async fn insert(
        &mut self,
        collection: &'static str,
        documents: Vec<Document>,
    ) -> Result<(), ProjectionError> {
        let pending = self.pending.entry(collection).or_default();
        pending.extend(documents);
        let mut full = Vec::new();
        while pending.len() >= BATCH {
            let rest = pending.split_off(BATCH);
            full.push(std::mem::replace(pending, rest));
        }
        for batch in full {
            self.send_documents(collection, batch).await?;
        }
        Ok(())
    }

    /// Queues a listing document, and with it its search row, sending every full batch.
    pub async fn insert_listing(&mut self, listing: Document) -> Result<(), ProjectionError> {
        self.pending_listings.push(listing);
        if self.pending_listings.len() >= BATCH {
            self.send_listings().await?;
        }
        Ok(())
    }

    /// Sends what is left and waits until every batch landed.
    pub async fn finish(mut self) -> Result<(), ProjectionError> {
        self.send_listings().await?;
        for (collection, batch) in std::mem::take(&mut self.pending) {
            if !batch.is_empty() {
                self.send_documents(collection, batch).await?;
            }
        }
        while let Some(done) = self.in_flight.join_next().await {
            done.expect("a bulk write task does not panic")?;
        }
        Ok(())
    }

    async fn send_documents(
        &mut self,
        collection: &'static str,
        batch: Vec<Document>,
    ) -> Result<(), ProjectionError> {
        let collection = self.db.collection::<Document>(collection);
        self.send(async move { Ok(collection.insert_many(batch).await.map(drop)?) })
            .await
    }

    async fn send_listings(&mut self) -> Result<(), ProjectionError> {
        let listings = std::mem::take(&mut self.pending_listings);
        if listings.is_empty() {
            return Ok(());
        }
        let rows: Vec<SearchRow> = listings
            .iter()
            .filter_map(SearchRow::from_document)
            .collect();
        let collection = self.db.collection::<Document>("listings");
        let search = self.search.clone();
        self.send(async move {
            collection.insert_many(listings).await?;
            search.upsert(&rows).await?;
            Ok(())
        })
        .await
    }

    async fn send(
        &mut self,
        write: impl std::future::Future<Output = Result<(), ProjectionError>> + Send + 'static,
    ) -> Result<(), ProjectionError> {
        while self.in_flight.len() >= CONCURRENT_BATCHES {
            if let Some(done) = self.in_flight.join_next().await {
                done.expect("a bulk write task does not panic")?;
            }
        }
        self.in_flight.spawn(write);
        Ok(())
    }
}
