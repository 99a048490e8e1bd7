//! The `Inventory` aggregate: one seller's stock of one SKU. Every rule of the "Inventory and
//! purchases" section of the marketplace rules that concerns stock is enforced in
//! [`Inventory::handle`](cqrs_es::Aggregate::handle); each refusal has a code in
//! [`InventoryError`].
//!
//! Available = on hand − reserved, and it never goes below zero: a reservation larger than what is
//! available is refused, and concurrent reservations are serialised by the event store's
//! optimistic concurrency on this one aggregate.

mod aggregate;
mod commands;
mod errors;
mod events;

pub use aggregate::{inventory_id, Inventory, InventoryServices};
pub use commands::{InventoryCommand, Reservation};
pub use errors::InventoryError;
pub use events::{InventoryEvent, StockLevels};

/// The longest SKU a seller may use.
pub const MAX_SKU_LEN: usize = 64;
