//! The `Order` aggregate: one purchase from a fixed-price listing, from reserved stock to a paid
//! and shipped sale, or to its stock being released when payment fails or never comes. The
//! purchase process (`gavel purchases`) drives it from events; every command is idempotent so
//! that a crash at any step resumes correctly.

mod aggregate;
mod purchase;

pub use aggregate::{
    Order, OrderCommand, OrderError, OrderEvent, OrderServices, OrderStatus, PlacedOrder,
};
pub use purchase::{purchase_terms, PurchaseError, PurchaseTerms};

/// How long a reservation waits for payment unless configured otherwise.
pub const DEFAULT_PAYMENT_TIMEOUT: chrono::Duration = chrono::Duration::minutes(15);
