//! Gavel's read models.
//!
//! Read models are MongoDB documents shaped for the queries that read them: one lookup or one
//! filtered scan, no joins. They are built by projectors from the event stream and can always be
//! rebuilt from the event store. The code uses only what both MongoDB and FerretDB v1 support: no
//! transactions, no change streams, no `$lookup`, no text indexes.

pub mod store;

pub use store::{ReadStore, ReadStoreError};
