//! Whether a buyer may buy from a listing, and on what terms.

use uuid::Uuid;

use crate::listing::{Actor, Listing, ListingStatus, ListingTerms};
use crate::money::Money;
use crate::role::Role;

/// What a purchase takes: whose stock, which SKU and at what unit price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseTerms {
    /// The seller.
    pub seller_id: Uuid,
    /// The seller's SKU the units come from.
    pub sku: String,
    /// The listing's asking price per unit now.
    pub unit_price: Money,
}

/// Why a buyer cannot buy from a listing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PurchaseError {
    /// Only buyers buy.
    #[error("only buyers can buy")]
    NotABuyer,
    /// No such listing.
    #[error("no such listing")]
    NotFound,
    /// The listing is withdrawn or sold.
    #[error("this listing is no longer active")]
    NotActive,
    /// Auctions are won, not bought (buy it now has its own mutation).
    #[error("only fixed-price listings can be bought this way")]
    NotFixedPrice,
    /// The listing is not linked to a SKU, so there is no stock to sell from.
    #[error("this listing is not linked to stock")]
    NotStocked,
    /// Sellers cannot buy their own listing.
    #[error("sellers cannot buy their own listing")]
    OwnListing,
    /// The quantity is out of range.
    #[error("buy between 1 and {max} units")]
    InvalidQuantity {
        /// The most one order may take.
        max: u32,
    },
}

impl PurchaseError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotABuyer => "NOT_A_BUYER",
            Self::NotFound => "NOT_FOUND",
            Self::NotActive => "LISTING_NOT_ACTIVE",
            Self::NotFixedPrice => "WRONG_FORMAT",
            Self::NotStocked => "NOT_STOCKED",
            Self::OwnListing => "SELLER_CANNOT_BUY",
            Self::InvalidQuantity { .. } => "INVALID_INPUT",
        }
    }

    /// The input field the error is about, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::InvalidQuantity { .. } => Some("quantity"),
            Self::NotFound => Some("listingId"),
            _ => None,
        }
    }
}

/// The terms on which `buyer` may buy `quantity` units from `listing`: an active fixed-price
/// listing linked to a SKU, not the buyer's own, and at most the listing's quantity per order.
pub fn purchase_terms(
    listing: &Listing,
    buyer: &Actor,
    quantity: u32,
) -> Result<PurchaseTerms, PurchaseError> {
    if !buyer.has(Role::Buyer) {
        return Err(PurchaseError::NotABuyer);
    }
    let (Some(seller_id), Some(terms)) = (listing.seller_id(), listing.terms()) else {
        return Err(PurchaseError::NotFound);
    };
    if listing.status() != ListingStatus::Active {
        return Err(PurchaseError::NotActive);
    }
    let ListingTerms::FixedPrice(fixed) = terms else {
        return Err(PurchaseError::NotFixedPrice);
    };
    let Some(sku) = &fixed.sku else {
        return Err(PurchaseError::NotStocked);
    };
    if seller_id == buyer.user_id {
        return Err(PurchaseError::OwnListing);
    }
    if quantity == 0 || quantity > fixed.quantity {
        return Err(PurchaseError::InvalidQuantity {
            max: fixed.quantity,
        });
    }
    Ok(PurchaseTerms {
        seller_id,
        sku: sku.clone(),
        unit_price: listing.price().copied().unwrap_or(fixed.price),
    })
}
