//! Payment webhooks: the payment provider tells Gavel that an order's payment succeeded or failed
//! by POSTing a signed event to `/webhooks/payments`.
//!
//! The signature works as Stripe's does. The `Gavel-Signature` header is `t=<unix seconds>,v1=<hex
//! HMAC-SHA256 of "<t>.<raw body>" under the shared secret>`. A webhook is refused, before anything
//! is stored, when the header is missing or malformed (400), when the signature does not match
//! (401, forged) or when its timestamp is more than [`TOLERANCE`] away from now (401, stale).
//! Each provider event id is acted on once: sending the same event again is refused (409,
//! replayed). Two different events confirming the same payment count once, because the order
//! records a payment only while it awaits one.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use gavel_commands::{CommandContext, CommandError};
use gavel_domain::order::{OrderCommand, OrderError};
use gavel_domain::{Currency, Money};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;
use uuid::Uuid;

use crate::AppState;

/// The header carrying the timestamp and signature.
pub const SIGNATURE_HEADER: &str = "gavel-signature";

/// How far a webhook's timestamp may be from now before it is refused as stale.
pub const TOLERANCE: chrono::Duration = chrono::Duration::minutes(5);

/// The secret shared with the payment provider.
#[derive(Clone)]
pub struct WebhookKey(Vec<u8>);

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No header, or not `t=...,v1=...`.
    #[error("missing or malformed Gavel-Signature header")]
    Malformed,
    /// The signature does not match the body and timestamp.
    #[error("signature does not match")]
    Forged,
    /// The timestamp is outside the tolerance.
    #[error("timestamp outside the {} s tolerance", TOLERANCE.num_seconds())]
    Stale,
}

impl WebhookKey {
    /// A key from the shared secret.
    pub fn new(secret: &str) -> Self {
        Self(secret.as_bytes().to_vec())
    }

    fn mac(&self, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any size");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `Gavel-Signature` header value for `body` sent at `timestamp` (unix seconds), as the
    /// payment provider computes it.
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        let signature = hex::encode(self.mac(timestamp, body).finalize().into_bytes());
        format!("t={timestamp},v1={signature}")
    }

    /// Checks `header` against `body` at `now`, in constant time.
    pub fn verify(
        &self,
        header: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), SignatureError> {
        let mut timestamp = None;
        let mut signatures = vec![];
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
                Some(("v1", value)) => signatures.extend(hex::decode(value).ok()),
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
        if signatures.is_empty() {
            return Err(SignatureError::Malformed);
        }
        let matches = signatures
            .iter()
            .any(|signature| self.mac(timestamp, body).verify_slice(signature).is_ok());
        if !matches {
            return Err(SignatureError::Forged);
        }
        if (now.timestamp() - timestamp).abs() > TOLERANCE.num_seconds() {
            return Err(SignatureError::Stale);
        }
        Ok(())
    }
}

/// A payment event as the provider sends it.
#[derive(Debug, Deserialize)]
pub struct PaymentEvent {
    /// The provider's id for this event; each is acted on once.
    pub id: String,
    /// `payment.succeeded` or `payment.failed`.
    #[serde(rename = "type")]
    pub kind: PaymentEventKind,
    /// What it is about.
    pub data: PaymentData,
}

/// What happened to the payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum PaymentEventKind {
    /// The buyer paid.
    #[serde(rename = "payment.succeeded")]
    Succeeded,
    /// The payment was declined or abandoned.
    #[serde(rename = "payment.failed")]
    Failed,
}

/// The payment an event is about.
#[derive(Debug, Deserialize)]
pub struct PaymentData {
    /// The provider's payment id.
    pub payment_id: String,
    /// The Gavel order paid for.
    pub order_id: Uuid,
    /// The amount, as a decimal string.
    pub amount: String,
    /// The ISO 4217 currency code.
    pub currency: String,
}

type Answer = (StatusCode, Json<Value>);

fn answer(status: StatusCode, message: impl std::fmt::Display) -> Answer {
    let key = if status.is_success() {
        "result"
    } else {
        "error"
    };
    (status, Json(json!({ key: message.to_string() })))
}

/// `POST /webhooks/payments`.
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    let Some(header) = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
    else {
        return answer(StatusCode::BAD_REQUEST, SignatureError::Malformed);
    };
    match state.webhooks.verify(header, &body, state.clock.now()) {
        Ok(()) => {}
        Err(error @ SignatureError::Malformed) => return answer(StatusCode::BAD_REQUEST, error),
        Err(error) => {
            tracing::warn!(%error, "payment webhook refused");
            return answer(StatusCode::UNAUTHORIZED, error);
        }
    }
    let event: PaymentEvent = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(error) => {
            return answer(
                StatusCode::BAD_REQUEST,
                format!("not a payment event: {error}"),
            )
        }
    };
    let amount = match Currency::new(&event.data.currency)
        .and_then(|currency| Money::parse_decimal(&event.data.amount, currency))
    {
        Ok(amount) => amount,
        Err(error) => return answer(StatusCode::BAD_REQUEST, error),
    };
    let first_time = sqlx::query(
        "INSERT INTO payment_webhooks (event_id) VALUES ($1) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(&event.id)
    .execute(&state.postgres)
    .await;
    match first_time {
        Ok(result) if result.rows_affected() == 0 => {
            tracing::warn!(event = %event.id, "replayed payment webhook refused");
            return answer(StatusCode::CONFLICT, "this event was already received");
        }
        Ok(_) => {}
        Err(error) => {
            tracing::error!(%error, "could not record a payment webhook");
            return answer(StatusCode::SERVICE_UNAVAILABLE, "try again later");
        }
    }
    let reply = act_on(&state, &event, amount).await;
    if !reply.0.is_success() {
        // Not acted on: the provider may send the same event again once the cause is fixed.
        if let Err(error) = sqlx::query("DELETE FROM payment_webhooks WHERE event_id = $1")
            .bind(&event.id)
            .execute(&state.postgres)
            .await
        {
            tracing::error!(%error, event = %event.id, "could not forget a refused webhook");
        }
    }
    reply
}

async fn act_on(state: &AppState, event: &PaymentEvent, amount: Money) -> Answer {
    let payment_id = event.data.payment_id.clone();
    let command = match event.kind {
        PaymentEventKind::Succeeded => OrderCommand::ConfirmPayment { payment_id, amount },
        PaymentEventKind::Failed => OrderCommand::FailPayment { payment_id },
    };
    let mut context = CommandContext::new(None, state.clock.now());
    context.causation_id = Some(format!("payment-webhook:{}", event.id));
    match state
        .orders
        .execute(&event.data.order_id.to_string(), command, &context)
        .await
    {
        Ok(_) => answer(StatusCode::OK, "received"),
        Err(CommandError::Rejected(error @ OrderError::NotFound)) => {
            answer(StatusCode::NOT_FOUND, error)
        }
        Err(CommandError::Rejected(error)) => answer(StatusCode::UNPROCESSABLE_ENTITY, error),
        Err(error) => {
            tracing::error!(%error, "payment webhook not applied");
            answer(StatusCode::SERVICE_UNAVAILABLE, "try again later")
        }
    }
}
