//! The inventory read model (stock levels per seller SKU) and the remaining stock it shows on
//! fixed-price listings linked to a SKU.

use bson::{doc, Bson, Document};
use chrono::{DateTime, Utc};
use gavel_domain::inventory::{inventory_id, InventoryEvent, StockLevels};
use mongodb::Database;

use crate::apply::{parse, position, write_versioned, Applied, DocumentWrite, Position};
use crate::{EventEnvelope, ProjectionError, ReadStore};

fn time(at: &DateTime<Utc>) -> Bson {
    Bson::DateTime(bson::DateTime::from_chrono(*at))
}

fn levels_fields(levels: &StockLevels) -> Document {
    doc! {
        "on_hand": i64::from(levels.on_hand),
        "reserved": i64::from(levels.reserved),
        "available": i64::from(levels.available),
    }
}

fn is_low(threshold: Option<i64>, available: i64) -> bool {
    threshold.is_some_and(|threshold| available <= threshold)
}

/// Applies one `Inventory` event envelope: the SKU's levels, and the remaining stock of the
/// listings that sell from it, in their documents and in the search index.
pub async fn apply_inventory_event(
    store: &ReadStore,
    envelope: &EventEnvelope,
) -> Result<Applied, ProjectionError> {
    let db = store.database();
    let event: InventoryEvent = parse(envelope)?;
    let id = envelope.aggregate_id.as_str();
    let sequence = envelope.sequence;
    let inventory = db.collection::<Document>("inventory");
    let current = match position(&inventory, id, sequence).await? {
        Position::Duplicate => return Ok(Applied::Duplicate),
        Position::Next(current) => current,
    };
    let threshold = current
        .as_ref()
        .and_then(|d| d.get_i64("low_stock_threshold").ok());
    let write = match &event {
        InventoryEvent::InventoryOpened { seller_id, sku, at } => DocumentWrite::Insert(doc! {
            "_id": id,
            "version": sequence,
            "seller_id": seller_id.to_string(),
            "sku": sku,
            "on_hand": 0_i64,
            "reserved": 0_i64,
            "available": 0_i64,
            "low_stock_threshold": Bson::Null,
            "low_stock": false,
            "opened_at": time(at),
            "updated_at": time(at),
        }),
        InventoryEvent::LowStockThresholdSet { threshold, at } => {
            let available = current
                .as_ref()
                .and_then(|d| d.get_i64("available").ok())
                .unwrap_or(0);
            let threshold = threshold.map(i64::from);
            DocumentWrite::Set(doc! {
                "low_stock_threshold": threshold,
                "low_stock": is_low(threshold, available),
                "updated_at": time(at),
            })
        }
        InventoryEvent::LowStock { at, .. } => DocumentWrite::Set(doc! {
            "low_stock": true,
            "low_stock_raised_at": time(at),
        }),
        InventoryEvent::StockReceived { levels, at, .. }
        | InventoryEvent::StockCounted { levels, at, .. }
        | InventoryEvent::StockReserved { levels, at, .. }
        | InventoryEvent::StockReleased { levels, at, .. }
        | InventoryEvent::StockShipped { levels, at, .. } => {
            // Listings first: if the process dies here, the redelivered event does it again.
            let seller = current.as_ref().and_then(|d| d.get_str("seller_id").ok());
            let sku = current.as_ref().and_then(|d| d.get_str("sku").ok());
            if let (Some(seller), Some(sku)) = (seller, sku) {
                db.collection::<Document>("listings")
                    .update_many(
                        doc! { "seller_id": seller, "sku": sku, "format": "fixed_price" },
                        doc! { "$set": remaining(i64::from(levels.available)) },
                    )
                    .await?;
                store
                    .search()
                    .set_remaining_stock(seller, sku, i64::from(levels.available))
                    .await?;
            }
            let mut set = levels_fields(levels);
            set.insert("low_stock", is_low(threshold, i64::from(levels.available)));
            set.insert("updated_at", time(at));
            DocumentWrite::Set(set)
        }
    };
    write_versioned(&inventory, id, sequence - 1, sequence, write).await
}

fn remaining(available: i64) -> Document {
    doc! { "remaining_stock": available, "sold_out": available == 0 }
}

/// Adds the remaining stock to a new fixed-price listing `document` linked to a SKU, from the
/// SKU's current levels (none yet means nothing to sell).
pub(crate) async fn add_remaining_stock(
    db: &Database,
    document: &mut Document,
) -> Result<(), ProjectionError> {
    let (Ok(seller), Ok(sku)) = (document.get_str("seller_id"), document.get_str("sku")) else {
        return Ok(());
    };
    let Ok(seller) = seller.parse() else {
        return Ok(());
    };
    let available = db
        .collection::<Document>("inventory")
        .find_one(doc! { "_id": inventory_id(seller, sku) })
        .await?
        .and_then(|d| d.get_i64("available").ok())
        .unwrap_or(0);
    document.extend(remaining(available));
    Ok(())
}
