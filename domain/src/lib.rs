//! Gavel's marketplace rules, free of I/O.
//!
//! Aggregates, commands, events and money live here, so that every rule can be found by its name
//! and tested without a database, a broker or an async runtime. Nothing in this crate depends on
//! another Gavel crate.
//!
//! - [`money`]: amounts as integer minor units plus an ISO 4217 currency, never floats.
//! - [`increment`]: the bid increment table.
//! - [`clock`]: the injected source of time.
//! - [`listing`]: the `Listing` aggregate, fixed-price and auction, with proxy bidding.
//! - [`inventory`]: the `Inventory` aggregate, one seller's stock of one SKU.
//! - [`order`]: the `Order` aggregate, one purchase from reserved stock to a shipped sale.

pub mod clock;
pub mod increment;
pub mod inventory;
pub mod listing;
pub mod money;
pub mod order;
pub mod role;

pub use money::{Currency, Money, MoneyError};
pub use role::Role;
