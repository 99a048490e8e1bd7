//! Announcements that read models moved, so that a query waiting to read its own write wakes when
//! the projector wrote instead of asking the read store over and over.
//!
//! After each batch it applied, a projector sends one PostgreSQL notification on
//! [`CHANNEL`] naming the read-store database and the aggregates it wrote ([`announce`]). An API
//! process listens once ([`ProjectionWatch`]) and wakes the queries waiting on those aggregates.
//! Notifications can be lost (a dropped connection, a projector of another version), so a waiting
//! query also looks again every [`FALLBACK_POLL`]: an announcement only makes a wait shorter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgNotification};
use sqlx::PgPool;
use tokio::sync::Notify;

/// The PostgreSQL notification channel projectors announce on.
pub const CHANNEL: &str = "gavel_projected";

/// How often a waiting query looks again when no announcement came.
pub const FALLBACK_POLL: Duration = Duration::from_millis(100);

/// PostgreSQL refuses notification payloads of 8,000 bytes or more.
const MAX_PAYLOAD: usize = 7_900;

/// Tells listeners that the read models in `read_database` reflect new events of `aggregate_ids`.
/// Payloads are the database name then one id per line, split to fit PostgreSQL's limit.
pub async fn announce<'a>(
    pool: &PgPool,
    read_database: &str,
    aggregate_ids: impl IntoIterator<Item = &'a str>,
) -> Result<(), sqlx::Error> {
    let mut payload = String::from(read_database);
    for id in aggregate_ids {
        if payload.len() + 1 + id.len() > MAX_PAYLOAD {
            notify(pool, &payload).await?;
            payload = String::from(read_database);
        }
        payload.push('\n');
        payload.push_str(id);
    }
    if payload.len() > read_database.len() {
        notify(pool, &payload).await?;
    }
    Ok(())
}

async fn notify(pool: &PgPool, payload: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(pool)
        .await?;
    Ok(())
}

/// The aggregates queries are waiting on, each with what wakes them.
type Waiters = Mutex<HashMap<String, Weak<Notify>>>;

/// Listens for announcements about one read-store database and wakes the queries waiting on the
/// aggregates they name.
#[derive(Clone)]
pub struct ProjectionWatch {
    waiters: Arc<Waiters>,
}

impl ProjectionWatch {
    /// Starts listening on `pool`'s database for announcements about `read_database`. The
    /// listener runs on its own task for as long as the process; it reconnects after an outage
    /// and then wakes every waiting query, since announcements may have been missed.
    pub fn start(pool: PgPool, read_database: String) -> Self {
        let waiters: Arc<Waiters> = Arc::default();
        tokio::spawn(listen(pool, read_database, Arc::downgrade(&waiters)));
        Self { waiters }
    }

    /// What wakes a query waiting on `aggregate_id`. Register it (with
    /// [`tokio::sync::futures::Notified::enable`]) before reading, so that an announcement
    /// between the read and the wait is not missed.
    pub fn changes_of(&self, aggregate_id: &str) -> Arc<Notify> {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(notify) = waiters.get(aggregate_id).and_then(Weak::upgrade) {
            return notify;
        }
        let notify = Arc::new(Notify::new());
        if waiters.len() >= 4_096 {
            waiters.retain(|_, waiting| waiting.strong_count() > 0);
        }
        waiters.insert(aggregate_id.to_string(), Arc::downgrade(&notify));
        notify
    }
}

async fn listen(pool: PgPool, read_database: String, waiters: Weak<Waiters>) {
    let mut listener = loop {
        match connect(&pool).await {
            Ok(listener) => break listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for projector announcements yet; retrying");
                tokio::time::sleep(FALLBACK_POLL * 10).await;
            }
        }
    };
    loop {
        let received = listener.try_recv().await;
        let Some(waiting) = waiters.upgrade() else {
            return;
        };
        let failed = received.is_err();
        wake(&waiting, &read_database, received.ok().flatten().as_ref());
        if failed {
            tokio::time::sleep(FALLBACK_POLL).await;
        }
    }
}

/// Wakes the queries waiting on the aggregates `notification` names, or, when there is none
/// (the connection dropped and whatever was announced meanwhile is lost), every waiting query.
fn wake(waiters: &Waiters, read_database: &str, notification: Option<&PgNotification>) {
    let waiters = waiters.lock().unwrap_or_else(|e| e.into_inner());
    let Some(notification) = notification else {
        for notify in waiters.values().filter_map(Weak::upgrade) {
            notify.notify_waiters();
        }
        return;
    };
    let mut lines = notification.payload().lines();
    if lines.next() != Some(read_database) {
        return;
    }
    for id in lines {
        if let Some(notify) = waiters.get(id).and_then(Weak::upgrade) {
            notify.notify_waiters();
        }
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
