//! Gavel's PostgreSQL event store.
//!
//! The event store is the only source of truth. Its tables are the ones postgres-es expects
//! (`events`, `snapshots`), plus the `outbox` that a trigger fills in the same transaction as each
//! event, so that the relay can publish every committed event to Kafka, and the [`deadlines`] of
//! open auctions and unpaid orders, kept the same way for the scheduler. The SQL lives in
//! `schema/sql/` and is applied by [`migrate`].
//!
//! [`outbox`] wakes the relay once events are committed; [`projected`] carries the projectors'
//! announcements that read models moved, for queries that wait to read their own writes.

pub mod deadlines;
pub mod outbox;
pub mod projected;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

/// Why the event store could not be reached or prepared.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The connection string could not be parsed.
    #[error("invalid PostgreSQL URL: {0}")]
    InvalidUrl(#[source] sqlx::Error),
    /// A query or connection failed.
    #[error("PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the schema failed.
    #[error("PostgreSQL migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

/// Opens a connection pool without connecting yet, so a role can start while PostgreSQL is down
/// and report it as not ready instead of crashing.
pub fn connect_lazy(url: &str) -> Result<PgPool, StoreError> {
    let options: PgConnectOptions = url.parse().map_err(StoreError::InvalidUrl)?;
    Ok(PgPoolOptions::new()
        .max_connections(32)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(options))
}

/// Applies every migration in `schema/sql/` that has not run yet; safe to run any number of times.
pub async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::migrate!("../../schema/sql").run(pool).await?;
    Ok(())
}

/// Checks that PostgreSQL answers a query.
pub async fn ping(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}
