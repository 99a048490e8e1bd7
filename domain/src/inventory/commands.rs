//! What a seller or the purchase process can ask of a SKU's stock.

use uuid::Uuid;

use crate::listing::Actor;
use crate::money::Money;

/// What an order takes from stock, and for whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The order the units are held for.
    pub order_id: Uuid,
    /// Who buys.
    pub buyer_id: Uuid,
    /// The listing bought from.
    pub listing_id: Uuid,
    /// How many units.
    pub quantity: u32,
    /// The price of one unit when the order was placed.
    pub unit_price: Money,
}

/// Everything that can be asked of a SKU's stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InventoryCommand {
    /// Units arrived (the seller only; opens the SKU on first use).
    Receive {
        /// Who asks.
        actor: Actor,
        /// The seller's SKU.
        sku: String,
        /// How many units arrived.
        quantity: u32,
        /// Why, for the audit trail (e.g. a delivery note).
        reason: String,
    },
    /// A stock count: on hand is set to what was counted (the seller only).
    Count {
        /// Who asks.
        actor: Actor,
        /// The seller's SKU.
        sku: String,
        /// The units counted on hand.
        on_hand: u32,
        /// Why the count differs, for the audit trail.
        reason: String,
    },
    /// Sets or clears the low-stock threshold (the seller only).
    SetLowStockThreshold {
        /// Who asks.
        actor: Actor,
        /// The seller's SKU.
        sku: String,
        /// Available at or below this raises a low-stock event; `None` turns alerts off.
        threshold: Option<u32>,
    },
    /// Holds units for an order (the purchase process). Repeating it for the same order is a
    /// no-op.
    Reserve(Reservation),
    /// Returns an order's units to available stock (cancelled or expired). A no-op when the order
    /// holds nothing.
    Release {
        /// The order.
        order_id: Uuid,
    },
    /// Takes an order's units out of stock (the sale completed). A no-op when the order holds
    /// nothing.
    Ship {
        /// The order.
        order_id: Uuid,
    },
}
