//! What happened to a SKU's stock. Every event that moves stock carries the levels it led to, so
//! that read models never recompute them.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::Money;

/// A SKU's stock after an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevels {
    /// Units physically held.
    pub on_hand: u32,
    /// Units held for orders awaiting payment.
    pub reserved: u32,
    /// Units a buyer can still take: on hand − reserved.
    pub available: u32,
}

/// Everything that can happen to a SKU's stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InventoryEvent {
    /// A seller started keeping stock under a SKU.
    InventoryOpened {
        /// The seller.
        seller_id: Uuid,
        /// The seller's SKU.
        sku: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Units arrived.
    StockReceived {
        /// How many.
        quantity: u32,
        /// Why, as the seller gave it.
        reason: String,
        /// Stock after it.
        levels: StockLevels,
        /// When.
        at: DateTime<Utc>,
    },
    /// A count set on hand to what was found.
    StockCounted {
        /// On hand as counted.
        counted: u32,
        /// Counted minus the previous on hand.
        difference: i64,
        /// Why, as the seller gave it.
        reason: String,
        /// Stock after it.
        levels: StockLevels,
        /// When.
        at: DateTime<Utc>,
    },
    /// The low-stock threshold changed.
    LowStockThresholdSet {
        /// The threshold; `None` when alerts are off.
        threshold: Option<u32>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Units were held for an order.
    StockReserved {
        /// The order.
        order_id: Uuid,
        /// Who buys.
        buyer_id: Uuid,
        /// The listing bought from.
        listing_id: Uuid,
        /// How many units.
        quantity: u32,
        /// The price of one unit.
        unit_price: Money,
        /// Stock after it.
        levels: StockLevels,
        /// When.
        at: DateTime<Utc>,
    },
    /// An order's units went back to available stock.
    StockReleased {
        /// The order.
        order_id: Uuid,
        /// How many units.
        quantity: u32,
        /// Stock after it.
        levels: StockLevels,
        /// When.
        at: DateTime<Utc>,
    },
    /// An order's units left the warehouse.
    StockShipped {
        /// The order.
        order_id: Uuid,
        /// How many units.
        quantity: u32,
        /// Stock after it.
        levels: StockLevels,
        /// When.
        at: DateTime<Utc>,
    },
    /// Available stock fell to or below the threshold (once per crossing).
    LowStock {
        /// Units available.
        available: u32,
        /// The threshold crossed.
        threshold: u32,
        /// When.
        at: DateTime<Utc>,
    },
}

impl InventoryEvent {
    /// The event's type name, as stored and published.
    pub fn name(&self) -> &'static str {
        match self {
            Self::InventoryOpened { .. } => "InventoryOpened",
            Self::StockReceived { .. } => "StockReceived",
            Self::StockCounted { .. } => "StockCounted",
            Self::LowStockThresholdSet { .. } => "LowStockThresholdSet",
            Self::StockReserved { .. } => "StockReserved",
            Self::StockReleased { .. } => "StockReleased",
            Self::StockShipped { .. } => "StockShipped",
            Self::LowStock { .. } => "LowStock",
        }
    }

    /// The stock levels the event led to, when it moved stock.
    pub fn levels(&self) -> Option<StockLevels> {
        match self {
            Self::StockReceived { levels, .. }
            | Self::StockCounted { levels, .. }
            | Self::StockReserved { levels, .. }
            | Self::StockReleased { levels, .. }
            | Self::StockShipped { levels, .. } => Some(*levels),
            _ => None,
        }
    }
}

impl DomainEvent for InventoryEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}
