//! The message the relay publishes for each stored event (one Kafka record per event, keyed by
//! aggregate id).

use std::collections::HashMap;

use serde::Deserialize;

/// One event as it travels on Kafka: the stored row of the event store.
#[derive(Debug, Clone, Deserialize)]
pub struct EventEnvelope {
    /// The aggregate type, e.g. `Listing`.
    pub aggregate_type: String,
    /// The aggregate's id.
    pub aggregate_id: String,
    /// The event's position in its aggregate's stream, from 1.
    pub sequence: i64,
    /// The event type, e.g. `BidPlaced`.
    pub event_type: String,
    /// The event's schema version.
    pub event_version: String,
    /// The event itself, as stored.
    pub payload: serde_json::Value,
    /// Who, when and why (see the command bus).
    #[serde(default)]
    pub metadata: HashMap<String, String>,
}

impl EventEnvelope {
    /// Parses a Kafka record's value.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}
