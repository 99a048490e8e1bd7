//! The orders read model: one document per order, found by buyer or by seller.

use bson::{doc, Bson, Document};
use chrono::{DateTime, Utc};
use gavel_domain::order::OrderEvent;
use mongodb::Database;

use crate::apply::{parse, position, write_versioned, Applied, DocumentWrite, Position};
use crate::{EventEnvelope, ProjectionError};

fn time(at: &DateTime<Utc>) -> Bson {
    Bson::DateTime(bson::DateTime::from_chrono(*at))
}

/// Applies one `Order` event envelope to the orders read model.
pub async fn apply_order_event(
    db: &Database,
    envelope: &EventEnvelope,
) -> Result<Applied, ProjectionError> {
    let event: OrderEvent = parse(envelope)?;
    let id = envelope.aggregate_id.as_str();
    let sequence = envelope.sequence;
    let orders = db.collection::<Document>("orders");
    if let Position::Duplicate = position(&orders, id, sequence).await? {
        return Ok(Applied::Duplicate);
    }
    let write = match &event {
        OrderEvent::OrderPlaced(order) => DocumentWrite::Insert(doc! {
            "_id": id,
            "version": sequence,
            "buyer_id": order.buyer_id.to_string(),
            "seller_id": order.seller_id.to_string(),
            "listing_id": order.listing_id.to_string(),
            "sku": &order.sku,
            "quantity": i64::from(order.quantity),
            "unit_price_minor": order.unit_price.minor,
            "total_minor": order.total.minor,
            "currency": order.total.currency.code(),
            "status": "awaiting_payment",
            "placed_at": time(&order.reserved_at),
            "expires_at": time(&order.expires_at),
            "updated_at": time(&order.reserved_at),
        }),
        OrderEvent::OrderPaid { payment_id, at, .. } => DocumentWrite::Set(doc! {
            "status": "paid", "payment_id": payment_id, "paid_at": time(at), "updated_at": time(at),
        }),
        OrderEvent::OrderCancelled { at, .. } => {
            DocumentWrite::Set(doc! { "status": "cancelled", "updated_at": time(at) })
        }
        OrderEvent::OrderExpired { at } => {
            DocumentWrite::Set(doc! { "status": "expired", "updated_at": time(at) })
        }
        OrderEvent::OrderCompleted { at } => {
            DocumentWrite::Set(doc! { "status": "completed", "updated_at": time(at) })
        }
    };
    write_versioned(&orders, id, sequence - 1, sequence, write).await
}
