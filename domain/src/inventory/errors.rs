//! Why a stock command was refused.

/// A refused stock command; [`code`](Self::code) is stable for clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// Only sellers keep stock.
    #[error("only sellers keep stock")]
    NotASeller,
    /// Someone other than the SKU's seller asked.
    #[error("only the seller of this SKU may change its stock")]
    NotOwner,
    /// Nothing was ever received for this SKU.
    #[error("no stock is kept under this SKU")]
    NotFound,
    /// Fewer units are available than asked for.
    #[error("sold out: {available} available, {requested} requested")]
    SoldOut {
        /// Units available.
        available: u32,
        /// Units asked for.
        requested: u32,
    },
    /// A count below what is held for orders would make available negative.
    #[error("{reserved} units are held for orders; a count cannot be lower")]
    CountBelowReserved {
        /// Units held for orders.
        reserved: u32,
    },
    /// An input is malformed or out of range.
    #[error("{message}")]
    InvalidInput {
        /// The input field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

impl InventoryError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotASeller => "NOT_A_SELLER",
            Self::NotOwner => "NOT_OWNER",
            Self::NotFound => "NOT_FOUND",
            Self::SoldOut { .. } => "SOLD_OUT",
            Self::CountBelowReserved { .. } => "COUNT_BELOW_RESERVED",
            Self::InvalidInput { .. } => "INVALID_INPUT",
        }
    }

    /// The input field the error is about, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::InvalidInput { field, .. } => Some(field),
            Self::SoldOut { .. } => Some("quantity"),
            Self::CountBelowReserved { .. } => Some("onHand"),
            _ => None,
        }
    }

    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            field,
            message: message.into(),
        }
    }
}
