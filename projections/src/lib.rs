//! Gavel's read models.
//!
//! Read models are MongoDB documents shaped for the queries that read them: one lookup or one
//! filtered scan, no joins, plus a search index of listings in PostgreSQL for the searches that
//! filter, sort and count. They are built by projectors from the event stream and can always be
//! rebuilt from the event store. The code uses only what both MongoDB and FerretDB v1 support: no
//! transactions, no change streams, no `$lookup`, no text indexes.
//!
//! - [`listing`]: what each listing event changes (pure: event in, document changes out).
//! - [`inventory`]: stock levels per seller SKU, and the remaining stock shown on listings.
//! - [`orders`]: one document per order, for buyers and sellers.
//! - [`apply`]: writing those changes exactly once in effect, with gap detection.
//! - [`apply_listings`]: the listing read models written many listings at a time.
//! - [`fold`]: the listing read models built in memory, for rebuilding them in bulk.
//! - [`search`]: the listing search index, rows derived from the listing documents.
//! - [`store`]: the database, its collections and indexes, and its search index.

pub mod apply;
pub mod apply_listings;
pub mod envelope;
pub mod fold;
pub mod inventory;
pub mod listing;
pub mod orders;
pub mod search;
pub mod store;

pub use apply::{apply_event, Applied, ProjectionError};
pub use apply_listings::{
    apply_listing_event, apply_listing_events, apply_listing_streams, ListingDocuments,
};
pub use envelope::EventEnvelope;
pub use search::{SearchFilter, SearchIndex, SearchOrder, SearchPage, SearchRow};
pub use store::{ReadStore, ReadStoreError};
