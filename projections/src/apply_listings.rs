//! Applying listing events to the listing read models, many listings at a time.
//!
//! FerretDB spends most of a projected event's cost on round trips, so a batch of events is
//! written in as few of them as the read models allow: each listing's events are folded into one
//! write of its document, and the history documents of every listing in the batch go in one bulk
//! insert per collection. A listing's document is read once, or not at all when this process
//! remembers it from its own last write ([`ListingDocuments`]). While the documents are written,
//! the search index gets one row per listing of the batch, all in one statement.

use bson::{doc, Document};
use futures::stream::{self, StreamExt};
use gavel_domain::listing::ListingEvent;
use mongodb::Database;

use crate::apply::{
    insert_all_once, parse, write_versioned, Applied, DocumentWrite, ProjectionError,
};
use crate::envelope::EventEnvelope;
use crate::listing::{change_for, ListingChange};
use crate::search::SearchRow;
use crate::ReadStore;

/// How many listing documents are read or written at once. Round trips, not the read store's
/// processor, bound a projector, so overlapping them is what makes it keep up.
const CONCURRENT_LISTINGS: usize = 16;

/// Listing documents as this process last wrote them, so that a listing's next events need no
/// read. Only an entry exactly one version behind the next event is trusted, and the write that
/// follows names the version it expects, so a document another process moved meanwhile is caught:
/// its entry is dropped and the next attempt reads the document again.
#[derive(Clone)]
pub struct ListingDocuments(Option<moka::sync::Cache<String, Document>>);

impl ListingDocuments {
    /// Remembers up to `capacity` listings, the least recently written ones leaving first.
    pub fn new(capacity: u64) -> Self {
        Self(Some(moka::sync::Cache::new(capacity)))
    }

    /// Remembers nothing: every listing is read before it is written.
    pub fn none() -> Self {
        Self(None)
    }

    fn next_after(&self, id: &str, sequence: i64) -> Option<Document> {
        let document = self.0.as_ref()?.get(id)?;
        (version_of(Some(&document)) + 1 == sequence).then_some(document)
    }

    fn remember(&self, id: &str, document: Document) {
        if let Some(cache) = &self.0 {
            cache.insert(id.to_string(), document);
        }
    }

    fn forget(&self, id: &str) {
        if let Some(cache) = &self.0 {
            cache.invalidate(id);
        }
    }
}

/// Applies one `Listing` event envelope to the read models in `store`.
pub async fn apply_listing_event(
    store: &ReadStore,
    envelope: &EventEnvelope,
) -> Result<Applied, ProjectionError> {
    apply_listing_events(store, std::slice::from_ref(envelope)).await
}

/// Applies consecutive event envelopes of one listing, in sequence order, to the read models in
/// `store`, reading its document first. See [`apply_listing_streams`].
pub async fn apply_listing_events(
    store: &ReadStore,
    envelopes: &[EventEnvelope],
) -> Result<Applied, ProjectionError> {
    let mut outcomes =
        apply_listing_streams(store, &[envelopes], &ListingDocuments::none()).await?;
    outcomes.pop().unwrap_or(Ok(Applied::Duplicate))
}

/// Applies the events of several listings to the read models in `store`: each stream holds one
/// listing's consecutive events in sequence order. Returns each stream's outcome, in order, or
/// one error when a write all of them share (a history collection's bulk insert, the search
/// index) failed.
///
/// Events a document has applied already are skipped; an event past a gap stops its stream after
/// the ones before it are written. History documents are inserted, never upserted: an insert is
/// FerretDB's fast path, and a redelivered event's insert fails on the unique `_id`, leaving the
/// document (and a later retraction mark) as it was. Each listing document is written next, with
/// the version it was read at in the filter. The search index is written meanwhile, from the
/// documents as the folded events leave them: a row is the listing's state at its version however
/// it was reached, so it needs nothing from the document writes, and a listing whose events were
/// all applied before still has its row written, in case the process died before its row the
/// last time.
pub async fn apply_listing_streams(
    store: &ReadStore,
    streams: &[&[EventEnvelope]],
    documents: &ListingDocuments,
) -> Result<Vec<Result<Applied, ProjectionError>>, ProjectionError> {
    let db = store.database();
    // Futures gathered in a loop rather than mapped by a closure: a closure over borrowed
    // streams defeats the compiler's proof that the projector's task is `Send`.
    let mut folds = Vec::with_capacity(streams.len());
    for events in streams {
        folds.push(fold_stream(db, events, documents));
    }
    let mut pending: Vec<Result<PendingListing, ProjectionError>> = stream::iter(folds)
        .buffered(CONCURRENT_LISTINGS)
        .collect()
        .await;
    let mut bids = Vec::new();
    let mut retracted_stored_bids = Vec::new();
    let mut price_points = Vec::new();
    for pending in pending.iter_mut().flatten() {
        let folded = &mut pending.listing.folded;
        bids.append(&mut folded.bids);
        retracted_stored_bids.append(&mut folded.retracted_stored_bids);
        price_points.append(&mut folded.price_points);
    }
    let rows: Vec<SearchRow> = pending
        .iter()
        .flatten()
        .filter_map(|pending| pending.listing.document.as_ref())
        .filter_map(SearchRow::from_document)
        .collect();
    let documents_written = async {
        let bid_history = db.collection::<Document>("bid_history");
        insert_all_once(&bid_history, bids).await?;
        for key in &retracted_stored_bids {
            bid_history
                .update_one(doc! { "_id": key }, doc! { "$set": { "retracted": true } })
                .await?;
        }
        insert_all_once(&db.collection::<Document>("price_history"), price_points).await?;
        let mut writes = Vec::with_capacity(pending.len());
        for listing in pending {
            writes.push(write_listing(db, listing, documents));
        }
        Ok::<_, ProjectionError>(
            stream::iter(writes)
                .buffered(CONCURRENT_LISTINGS)
                .collect::<Vec<_>>()
                .await,
        )
    };
    let (outcomes, indexed) = futures::join!(documents_written, store.search().upsert(&rows));
    indexed?;
    outcomes
}

/// One listing's events folded against its document, waiting to be written.
struct PendingListing {
    id: String,
    listing: FoldedStream,
    /// A gap met after the folded events, reported once they are written.
    gap: Option<ProjectionError>,
}

/// Reads (or recalls) the document of the listing `envelopes` belong to and folds in the events
/// it has not applied.
async fn fold_stream(
    db: &Database,
    envelopes: &[EventEnvelope],
    documents: &ListingDocuments,
) -> Result<PendingListing, ProjectionError> {
    let id = envelopes
        .first()
        .map(|e| e.aggregate_id.clone())
        .unwrap_or_default();
    let folded = fold_events(db, &id, envelopes, documents).await;
    if folded.is_err() {
        documents.forget(&id);
    }
    folded
}

async fn fold_events(
    db: &Database,
    id: &str,
    envelopes: &[EventEnvelope],
    documents: &ListingDocuments,
) -> Result<PendingListing, ProjectionError> {
    let first_sequence = envelopes.first().map_or(0, |e| e.sequence);
    let document = match documents.next_after(id, first_sequence) {
        Some(remembered) => Some(remembered),
        None => {
            db.collection::<Document>("listings")
                .find_one(doc! { "_id": id })
                .await?
        }
    };
    let mut listing = FoldedStream::from(document);
    let mut gap = None;
    for envelope in envelopes {
        match listing.is_next(id, envelope.sequence) {
            Ok(true) => listing.add(id, &parse(envelope)?),
            Ok(false) => {}
            Err(error) => {
                gap = Some(error);
                break;
            }
        }
    }
    if let (Some(DocumentWrite::Insert(_)), Some(created)) =
        (&listing.folded.listing, listing.document.as_mut())
    {
        crate::inventory::add_remaining_stock(db, created).await?;
    }
    Ok(PendingListing {
        id: id.to_string(),
        listing,
        gap,
    })
}

/// Writes `listing`'s document, if it was folded, (its history is written by then) and remembers
/// it if the write landed; forgets it otherwise.
async fn write_listing(
    db: &Database,
    listing: Result<PendingListing, ProjectionError>,
    documents: &ListingDocuments,
) -> Result<Applied, ProjectionError> {
    let PendingListing { id, listing, gap } = listing?;
    let FoldedStream {
        read_at,
        applied,
        document,
        folded,
    } = listing;
    let written = write_document(db, &id, read_at, applied, folded.listing, &document).await;
    match (&written, document) {
        (Ok(Applied::Applied), Some(document)) => documents.remember(&id, document),
        _ => documents.forget(&id),
    }
    match (written, gap) {
        (Ok(_), Some(gap)) => Err(gap),
        (written, _) => written,
    }
}

/// Writes a listing's folded events, if any. A new listing is inserted as `document`, which the
/// folded events leave equal to the insert and which has its remaining stock by then.
async fn write_document(
    db: &Database,
    id: &str,
    read_at: i64,
    applied: i64,
    write: Option<DocumentWrite>,
    document: &Option<Document>,
) -> Result<Applied, ProjectionError> {
    let write = match (write, document) {
        (None, _) => return Ok(Applied::Duplicate),
        (Some(DocumentWrite::Insert(_)), Some(created)) => DocumentWrite::Insert(created.clone()),
        (Some(write), _) => write,
    };
    let listings = db.collection::<Document>("listings");
    write_versioned(&listings, id, read_at, applied, write).await
}

/// The version a listing document records, 0 for none.
fn version_of(document: Option<&Document>) -> i64 {
    document
        .and_then(|d| d.get_i64("version").ok())
        .unwrap_or(0)
}

/// One listing's consecutive events folded in order against its document: what the projector
/// writes after a batch, and what a rebuild writes once the listing's last event is in.
#[derive(Debug, Default)]
pub(crate) struct FoldedStream {
    /// The version the document was at when read or remembered.
    pub(crate) read_at: i64,
    /// The sequence of the last event folded in.
    pub(crate) applied: i64,
    /// The document as the folded events leave it.
    pub(crate) document: Option<Document>,
    pub(crate) folded: FoldedListing,
}

impl From<Option<Document>> for FoldedStream {
    /// Starts from `document` as read (none for a listing not yet projected).
    fn from(document: Option<Document>) -> Self {
        let read_at = version_of(document.as_ref());
        Self {
            read_at,
            applied: read_at,
            document,
            folded: FoldedListing::default(),
        }
    }
}

impl FoldedStream {
    /// Whether the event at `sequence` of listing `id` comes next (`true`) or is folded in
    /// already (`false`); an event past a gap is an error.
    pub(crate) fn is_next(&self, id: &str, sequence: i64) -> Result<bool, ProjectionError> {
        if sequence <= self.applied {
            return Ok(false);
        }
        if sequence != self.applied + 1 {
            return Err(ProjectionError::Gap {
                aggregate_id: id.to_string(),
                applied: self.applied,
                sequence,
            });
        }
        Ok(true)
    }

    /// Folds in `event`, the one [`is_next`](Self::is_next) said comes next, of listing `id`.
    pub(crate) fn add(&mut self, id: &str, event: &ListingEvent) {
        let sequence = self.applied + 1;
        let previous_price = self
            .document
            .as_ref()
            .and_then(|d| d.get_i64("price_minor").ok());
        self.folded.add(
            change_for(id, sequence, event, previous_price),
            &mut self.document,
            sequence,
        );
        self.applied = sequence;
    }
}

/// The changes of several consecutive events of one listing, merged into one write per document.
#[derive(Debug, Default)]
pub(crate) struct FoldedListing {
    /// The listing document to insert, or the fields to set; none until an event is folded in.
    listing: Option<DocumentWrite>,
    /// New bid history entries.
    pub(crate) bids: Vec<Document>,
    /// Retracted bids placed before this run, already in the bid history.
    retracted_stored_bids: Vec<String>,
    /// New price history entries.
    pub(crate) price_points: Vec<Document>,
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
