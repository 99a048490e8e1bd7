//! Gavel's Kafka side.
//!
//! Client settings shared by every producer and consumer, topic naming and creation, and the
//! readiness probe, and [`consume`] for consumer groups that handle records in order. One topic per aggregate type, the aggregate id as message key, so each
//! aggregate's events stay ordered in one partition.

mod consume;

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

pub use consume::{consume, consume_batches, Handled, MAX_BATCH};

/// Why Kafka could not be reached or prepared.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// librdkafka reported an error.
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// A blocking Kafka call could not be run.
    #[error("Kafka call interrupted: {0}")]
    Interrupted(#[from] tokio::task::JoinError),
}

/// Base client settings for `brokers`: fast reconnects, so a restarted broker is seen again within
/// about a second.
pub fn client_config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("reconnect.backoff.ms", "100")
        .set("reconnect.backoff.max.ms", "1000")
        .set("socket.connection.setup.timeout.ms", "3000");
    config
}

/// A long-lived client that asks the cluster for its metadata, which only succeeds while a broker
/// answers.
pub struct ReadinessProbe {
    consumer: std::sync::Arc<BaseConsumer>,
}

impl ReadinessProbe {
    /// Creates the probe; it connects on first use.
    pub fn new(brokers: &str) -> Result<Self, BusError> {
        let consumer: BaseConsumer = client_config(brokers).create()?;
        Ok(Self {
            consumer: std::sync::Arc::new(consumer),
        })
    }

    /// Checks that a broker answers within `timeout`.
    pub async fn check(&self, timeout: Duration) -> Result<(), BusError> {
        let consumer = self.consumer.clone();
        tokio::task::spawn_blocking(move || {
            let metadata = consumer.fetch_metadata(None, timeout)?;
            if metadata.brokers().is_empty() {
                return Err(KafkaError::MetadataFetch(RDKafkaErrorCode::AllBrokersDown).into());
            }
            Ok(())
        })
        .await?
    }
}

/// The topic that carries events of `aggregate_type` (e.g. `Listing` → `<prefix>listing`).
pub fn topic_for(prefix: &str, aggregate_type: &str) -> String {
    format!("{prefix}{}", aggregate_type.to_lowercase())
}

/// Creates `topics` with `partitions` partitions each, leaving existing ones alone.
pub async fn ensure_topics(
    brokers: &str,
    topics: &[String],
    partitions: i32,
) -> Result<(), BusError> {
    let admin: AdminClient<DefaultClientContext> = client_config(brokers).create()?;
    let new_topics: Vec<NewTopic> = topics
        .iter()
        .map(|name| NewTopic::new(name, partitions, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&new_topics, &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                tracing::error!(%topic, ?code, "could not create topic");
                return Err(KafkaError::AdminOp(code).into());
            }
        }
    }
    Ok(())
}
