//! Why a listing refused a command. Each error has a stable code the API shows as a `userError`.

use crate::money::MoneyError;

/// A business rule a command broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListingError {
    /// Only verified sellers may publish listings.
    #[error("only verified sellers may publish listings")]
    SellerNotVerified,
    /// The listing id is taken.
    #[error("this listing already exists")]
    AlreadyExists,
    /// There is no such listing.
    #[error("no such listing")]
    NotFound,
    /// Only the listing's seller may do this.
    #[error("only the seller of this listing may do this")]
    NotOwner,
    /// The seller may not bid on or buy their own listing.
    #[error("sellers cannot bid on or buy their own listing")]
    SellerCannotBid,
    /// The listing is withdrawn, sold or ended.
    #[error("this listing is no longer active")]
    NotActive,
    /// The command does not apply to this format (e.g. repricing an auction).
    #[error("{0}")]
    WrongFormat(&'static str),
    /// An amount is in another currency than the listing's.
    #[error("amounts must be in {expected}, the listing's currency")]
    CurrencyMismatch {
        /// The listing's currency.
        expected: String,
        /// The input field with the wrong currency.
        field: &'static str,
    },
    /// The bid is below the least acceptable amount.
    #[error("the bid must be at least {minimum}")]
    BidTooLow {
        /// The least acceptable maximum, as a decimal string with currency.
        minimum: String,
    },
    /// The auction's end time has passed.
    #[error("the auction has ended")]
    AuctionEnded,
    /// The auction's end time has not come yet.
    #[error("the auction has not ended yet")]
    NotYetEnded,
    /// A new reserve must be lower than the current one.
    #[error("the reserve can only be lowered")]
    ReserveCanOnlyBeLowered,
    /// The auction has no reserve to lower.
    #[error("this auction has no reserve")]
    NoReserve,
    /// An auction with bids can only be withdrawn more than 12 hours before it ends.
    #[error("an auction with bids can only be withdrawn more than 12 hours before it ends")]
    WithdrawTooLate,
    /// The retraction rules do not allow it (or the bidder has no bid).
    #[error("{0}")]
    RetractionNotAllowed(&'static str),
    /// Buy-it-now is not offered (any more).
    #[error("buy it now is not available on this listing")]
    BuyNowUnavailable,
    /// An input is malformed or out of range.
    #[error("{message}")]
    InvalidInput {
        /// The input field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

impl ListingError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::SellerNotVerified => "SELLER_NOT_VERIFIED",
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::NotFound => "NOT_FOUND",
            Self::NotOwner => "NOT_OWNER",
            Self::SellerCannotBid => "SELLER_CANNOT_BID",
            Self::NotActive => "LISTING_NOT_ACTIVE",
            Self::WrongFormat(_) => "WRONG_FORMAT",
            Self::CurrencyMismatch { .. } => "CURRENCY_MISMATCH",
            Self::BidTooLow { .. } => "BID_TOO_LOW",
            Self::AuctionEnded => "AUCTION_ENDED",
            Self::NotYetEnded => "NOT_YET_ENDED",
            Self::ReserveCanOnlyBeLowered => "RESERVE_CAN_ONLY_BE_LOWERED",
            Self::NoReserve => "NO_RESERVE",
            Self::WithdrawTooLate => "WITHDRAW_TOO_LATE",
            Self::RetractionNotAllowed(_) => "RETRACTION_NOT_ALLOWED",
            Self::BuyNowUnavailable => "BUY_NOW_UNAVAILABLE",
            Self::InvalidInput { .. } => "INVALID_INPUT",
        }
    }

    /// The input field the error is about, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::CurrencyMismatch { field, .. } | Self::InvalidInput { field, .. } => Some(field),
            Self::BidTooLow { .. } => Some("maxAmount"),
            Self::ReserveCanOnlyBeLowered => Some("reserve"),
            _ => None,
        }
    }

    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            field,
            message: message.into(),
        }
    }

    pub(crate) fn from_money(field: &'static str, error: MoneyError) -> Self {
        Self::invalid(field, error.to_string())
    }
}
