//! What a signed-in user may do.

use serde::{Deserialize, Serialize};

/// A role granted to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// May bid and buy.
    Buyer,
    /// May manage their own stock.
    Seller,
    /// May publish listings.
    VerifiedSeller,
    /// Operations staff.
    Admin,
}

impl Role {
    /// The role's name as tokens and the API spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buyer => "buyer",
            Self::Seller => "seller",
            Self::VerifiedSeller => "verified_seller",
            Self::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Buyer, Self::Seller, Self::VerifiedSeller, Self::Admin]
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role '{s}': expected buyer, seller, verified_seller or admin")
            })
    }
}
