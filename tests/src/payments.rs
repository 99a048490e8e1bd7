//! A small payment-provider simulator: it sends real, signed HTTP webhooks to a Gavel API, the way
//! a provider such as Stripe does, and can also forge, backdate and replay them.

use chrono::{DateTime, Utc};
use gavel_api::payments::{WebhookKey, SIGNATURE_HEADER};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::TestApp;

/// One webhook as it goes over the wire: the raw body and its signature header.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// The JSON body, byte for byte as signed.
    pub body: Vec<u8>,
    /// The `Gavel-Signature` header.
    pub signature: String,
}

/// The simulated payment provider, sharing the app's webhook secret.
pub struct PaymentProvider {
    http: reqwest::Client,
    url: String,
    key: WebhookKey,
}

impl PaymentProvider {
    /// A provider that posts to `app`'s webhook endpoint with the app's secret.
    pub fn for_app(app: &TestApp) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: app.url("/webhooks/payments"),
            key: WebhookKey::new(&app.settings.payment_webhook_secret),
        }
    }

    /// A new provider event (`payment.succeeded` or `payment.failed`) for `order_id`, signed with
    /// `key` at `at`.
    pub fn event_signed_with(
        key: &WebhookKey,
        kind: &str,
        order_id: &str,
        amount: &str,
        at: DateTime<Utc>,
    ) -> Webhook {
        let body = serde_json::to_vec(&serde_json::json!({
            "id": format!("evt_{}", Uuid::now_v7().simple()),
            "type": kind,
            "data": {
                "payment_id": format!("pay_{order_id}"),
                "order_id": order_id,
                "amount": amount,
                "currency": "USD",
            }
        }))
        .expect("JSON body");
        let signature = key.sign(at.timestamp(), &body);
        Webhook { body, signature }
    }

    /// A genuine `payment.succeeded` event for `order_id`, signed at `at`.
    pub fn payment(&self, order_id: &str, amount: &str, at: DateTime<Utc>) -> Webhook {
        Self::event_signed_with(&self.key, "payment.succeeded", order_id, amount, at)
    }

    /// Sends `webhook` and returns the HTTP status the API answered.
    pub async fn deliver(&self, webhook: &Webhook) -> StatusCode {
        self.http
            .post(&self.url)
            .header(SIGNATURE_HEADER, &webhook.signature)
            .header("content-type", "application/json")
            .body(webhook.body.clone())
            .send()
            .await
            .expect("webhook delivery")
            .status()
    }
}
