//! Gavel's outbox relay.
//!
//! Every event appended to the event store is copied to the `outbox` table in the same
//! transaction (a trigger, see `schema/sql/`). The relay publishes outbox rows to Kafka in id
//! order, one topic per aggregate type (`<prefix><type in lowercase>`), the aggregate id as key,
//! with an idempotent producer that waits for all in-sync replicas, and deletes rows only after
//! the broker acknowledged them. A crash may therefore repeat events, never lose or reorder them
//! within an aggregate.
//!
//! Exactly one relay publishes at a time: it holds a PostgreSQL session advisory lock
//! ([`LEADER_LOCK_KEY`]) on a connection of its own. The others wait, and take over within about
//! half a second when the leader's connection goes away (a killed process closes it).

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::future::try_join_all;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Serialize;
use serde_json::value::RawValue;
use sqlx::postgres::{PgConnectOptions, PgListener};
use sqlx::{Connection, PgConnection, PgPool, Row};

/// The advisory-lock key the active relay holds ("gavelrly" in ASCII).
pub const LEADER_LOCK_KEY: i64 = 0x6761_7665_6c72_6c79;

/// The channel command buses notify on once their events are committed.
pub use gavel_store::outbox::CHANNEL as OUTBOX_CHANNEL;

/// How many outbox rows one round publishes at most.
const BATCH_SIZE: i64 = 500;

/// How often to look at the outbox without a notification, and to retry leadership.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Why the relay stopped or could not publish.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// PostgreSQL failed.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] sqlx::Error),
    /// Kafka failed.
    #[error("Kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// Topic creation failed.
    #[error(transparent)]
    Bus(#[from] gavel_bus::BusError),
    /// An outbox row's payload or metadata is not JSON; it stays in the outbox.
    #[error("outbox row {id} does not hold JSON: {source}")]
    NotJson {
        /// The outbox row.
        id: i64,
        /// What the parser found.
        source: serde_json::Error,
    },
}

/// The record value published for each event: the stored row.
#[derive(Debug, Serialize)]
struct Envelope<'a> {
    aggregate_type: &'a str,
    aggregate_id: &'a str,
    sequence: i64,
    event_type: &'a str,
    event_version: &'a str,
    payload: &'a RawValue,
    metadata: &'a RawValue,
    recorded_at: String,
}

/// One outbox row.
struct OutboxRow {
    id: i64,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: Box<RawValue>,
    metadata: Box<RawValue>,
    recorded_at: DateTime<Utc>,
}

pub use gavel_bus::topic_for;

/// A relay between one event store and one Kafka cluster.
pub struct Relay {
    postgres_url: String,
    pool: PgPool,
    brokers: String,
    topic_prefix: String,
    producer: FutureProducer,
    known_topics: HashSet<String>,
}

impl Relay {
    /// A relay for the store at `postgres_url` (with `pool` on it) and the cluster at `brokers`.
    pub fn new(
        postgres_url: &str,
        pool: PgPool,
        brokers: &str,
        topic_prefix: &str,
    ) -> Result<Self, RelayError> {
        let producer: FutureProducer = gavel_bus::client_config(brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "1")
            .set("message.timeout.ms", "30000")
            .create()?;
        Ok(Self {
            postgres_url: postgres_url.to_string(),
            pool,
            brokers: brokers.to_string(),
            topic_prefix: topic_prefix.to_string(),
            producer,
            known_topics: HashSet::new(),
        })
    }

    /// Waits for leadership, publishes while leader, and repeats until `shutdown` completes.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let round = async {
                match self.lead().await {
                    Ok(()) => {}
                    Err(error) => tracing::warn!(%error, "relay lost its footing; retrying"),
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = round => tokio::time::sleep(POLL_INTERVAL).await,
            }
        }
    }

    /// Becomes the leader (waiting as long as it takes), then publishes until an error.
    async fn lead(&mut self) -> Result<(), RelayError> {
        let options: PgConnectOptions = self.postgres_url.parse()?;
        let mut lock_connection = PgConnection::connect_with(&options).await?;
        loop {
            let acquired: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(LEADER_LOCK_KEY)
                .fetch_one(&mut lock_connection)
                .await?;
            if acquired {
                break;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        tracing::info!("relay is the active publisher");
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(OUTBOX_CHANNEL).await?;
        loop {
            while self.publish_batch().await? == BATCH_SIZE as usize {}
            // The lock lives as long as this connection: check it is still there.
            sqlx::query("SELECT 1")
                .execute(&mut lock_connection)
                .await?;
            let _ = tokio::time::timeout(POLL_INTERVAL, listener.try_recv()).await;
        }
    }

    /// Publishes up to one batch of the oldest outbox rows; returns how many it published.
    pub async fn publish_batch(&mut self) -> Result<usize, RelayError> {
        let rows: Vec<OutboxRow> = sqlx::query(
            "SELECT id, aggregate_type, aggregate_id, sequence, event_type, event_version,
                    payload::text AS payload, metadata::text AS metadata, recorded_at
             FROM outbox ORDER BY id LIMIT $1",
        )
        .bind(BATCH_SIZE)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|row| {
            let id: i64 = row.get("id");
            // Passed through as stored: PostgreSQL checked the JSON when it was appended. Casting
            // it to jsonb to parse it into values, only to write it out again, took two thirds of
            // this query's time in PostgreSQL.
            let json = |column: &str| {
                RawValue::from_string(row.get(column))
                    .map_err(|source| RelayError::NotJson { id, source })
            };
            Ok(OutboxRow {
                id,
                aggregate_type: row.get("aggregate_type"),
                aggregate_id: row.get("aggregate_id"),
                sequence: row.get("sequence"),
                event_type: row.get("event_type"),
                event_version: row.get("event_version"),
                payload: json("payload")?,
                metadata: json("metadata")?,
                recorded_at: row.get("recorded_at"),
            })
        })
        .collect::<Result<_, RelayError>>()?;
        if rows.is_empty() {
            return Ok(0);
        }
        self.ensure_topics(&rows).await?;

        // Sent in id order on one idempotent producer: per partition, Kafka keeps that order.
        let deliveries = rows.iter().map(|row| {
            let topic = topic_for(&self.topic_prefix, &row.aggregate_type);
            let recorded_at = row.recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true);
            let value = serde_json::to_vec(&Envelope {
                aggregate_type: &row.aggregate_type,
                aggregate_id: &row.aggregate_id,
                sequence: row.sequence,
                event_type: &row.event_type,
                event_version: &row.event_version,
                payload: &row.payload,
                metadata: &row.metadata,
                recorded_at: recorded_at.clone(),
            })
            .expect("an envelope of JSON values serialises");
            let sequence = row.sequence.to_string();
            let headers = OwnedHeaders::new()
                .insert(header("event_type", &row.event_type))
                .insert(header("event_version", &row.event_version))
                .insert(header("aggregate_type", &row.aggregate_type))
                .insert(header("aggregate_id", &row.aggregate_id))
                .insert(header("sequence", &sequence))
                .insert(header("recorded_at", &recorded_at));
            let producer = self.producer.clone();
            let key = row.aggregate_id.clone();
            async move {
                producer
                    .send(
                        FutureRecord::to(&topic)
                            .key(&key)
                            .payload(&value)
                            .headers(headers),
                        Duration::from_secs(30),
                    )
                    .await
                    .map_err(|(error, _)| error)
            }
        });
        try_join_all(deliveries).await?;

        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        sqlx::query("DELETE FROM outbox WHERE id = ANY($1)")
            .bind(&ids)
            .execute(&self.pool)
            .await?;
        tracing::debug!(count = rows.len(), "published outbox rows");
        Ok(rows.len())
    }

    async fn ensure_topics(&mut self, rows: &[OutboxRow]) -> Result<(), RelayError> {
        let missing: Vec<String> = rows
            .iter()
            .map(|row| topic_for(&self.topic_prefix, &row.aggregate_type))
            .filter(|topic| !self.known_topics.contains(topic))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !missing.is_empty() {
            gavel_bus::ensure_topics(&self.brokers, &missing, 3).await?;
            self.known_topics.extend(missing);
        }
        Ok(())
    }
}

fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}
