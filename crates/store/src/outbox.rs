//! Waking the relay when events were committed.
//!
//! The relay listens on [`CHANNEL`]. A notification is sent after the commit, on its own, never
//! inside the transaction that appends events: PostgreSQL serialises the commits of transactions
//! that notify and holds that lock while their commit record is flushed, so a notification inside
//! the append would make every command wait for every other command's disk write.

use std::sync::{Arc, Once};

use sqlx::PgPool;
use tokio::sync::Notify;

/// The PostgreSQL notification channel the relay listens on.
pub const CHANNEL: &str = "gavel_outbox";

/// Tells the relay that events were committed. Rings that come while a notification is being
/// sent are folded into the next one, so a busy process sends about one per round trip to
/// PostgreSQL, not one per command.
#[derive(Clone)]
pub struct OutboxBell {
    rung: Arc<Notify>,
    pool: PgPool,
    started: Arc<Once>,
}

impl OutboxBell {
    /// A bell that notifies on `pool`'s database.
    pub fn new(pool: PgPool) -> Self {
        Self {
            rung: Arc::new(Notify::new()),
            pool,
            started: Arc::new(Once::new()),
        }
    }

    /// Asks for a notification soon; returns at once. Must be called inside a Tokio runtime.
    pub fn ring(&self) {
        self.started.call_once(|| {
            tokio::spawn(send_notifications(self.rung.clone(), self.pool.clone()));
        });
        self.rung.notify_one();
    }
}

async fn send_notifications(rung: Arc<Notify>, pool: PgPool) {
    loop {
        rung.notified().await;
        if let Err(error) = sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&pool)
            .await
        {
            // The relay also looks at the outbox on its own every so often.
            tracing::warn!(%error, "could not wake the relay");
        }
    }
}
