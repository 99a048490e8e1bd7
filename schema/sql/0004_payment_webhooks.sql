-- Payment-provider webhook events already handled, by the provider's event id: a replayed
-- webhook (the same event sent again) is refused instead of being acted on twice.
CREATE TABLE IF NOT EXISTS payment_webhooks
(
    event_id    text PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now()
);
