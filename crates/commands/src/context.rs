//! Who issued a command, when, and why: recorded as every event's metadata.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

/// The circumstances of one command, stored with each event it produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandContext {
    /// The user acting, if any (the scheduler acts as no user).
    pub user_id: Option<Uuid>,
    /// When the command was accepted, from the injected clock.
    pub at: DateTime<Utc>,
    /// Ties together everything done on behalf of one client request.
    pub correlation_id: Uuid,
    /// The event or request that caused this command, if any (for an event:
    /// `<aggregate type>:<aggregate id>:<sequence>`).
    pub causation_id: Option<String>,
    /// The client's idempotency key, when it sent one.
    pub idempotency_key: Option<String>,
}

impl CommandContext {
    /// A context for `user_id` at `at`, with a fresh correlation id.
    pub fn new(user_id: Option<Uuid>, at: DateTime<Utc>) -> Self {
        Self {
            user_id,
            at,
            correlation_id: Uuid::now_v7(),
            causation_id: None,
            idempotency_key: None,
        }
    }

    /// The metadata map postgres-es stores next to each event.
    pub fn to_metadata(&self) -> HashMap<String, String> {
        let mut metadata = HashMap::from([
            (
                "recorded_at".to_string(),
                self.at.to_rfc3339_opts(SecondsFormat::Micros, true),
            ),
            (
                "correlation_id".to_string(),
                self.correlation_id.to_string(),
            ),
        ]);
        if let Some(user_id) = self.user_id {
            metadata.insert("user_id".into(), user_id.to_string());
        }
        if let Some(causation_id) = &self.causation_id {
            metadata.insert("causation_id".into(), causation_id.clone());
        }
        if let Some(key) = &self.idempotency_key {
            metadata.insert("idempotency_key".into(), key.clone());
        }
        metadata
    }
}
