//! Money on the wire: a decimal string and a currency code (GraphQL's Int is only 32 bits).

use async_graphql::{InputObject, SimpleObject};
use gavel_domain::{Currency, Money as DomainMoney, MoneyError};

/// An amount of money.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct Money {
    /// The amount as a decimal string with the currency's decimals, e.g. `"182.50"`.
    pub amount: String,
    /// The ISO 4217 currency code, e.g. `"USD"`.
    pub currency: String,
}

impl Money {
    /// `minor` units of `currency`, as shown to clients.
    pub fn from_minor(minor: i64, currency: &str) -> Self {
        match Currency::new(currency) {
            Ok(code) => DomainMoney::from_minor(minor, code).into(),
            Err(_) => Self {
                amount: minor.to_string(),
                currency: currency.to_string(),
            },
        }
    }
}

impl From<DomainMoney> for Money {
    fn from(money: DomainMoney) -> Self {
        Self {
            amount: money.to_decimal_string(),
            currency: money.currency.code().to_string(),
        }
    }
}

/// An amount of money in a mutation's input.
#[derive(Debug, Clone, InputObject)]
pub struct MoneyInput {
    /// A non-negative decimal string with at most the currency's decimals, e.g. `"250.00"`.
    pub amount: String,
    /// The ISO 4217 currency code, e.g. `"USD"`.
    pub currency: String,
}

impl MoneyInput {
    /// The amount in minor units, or why it is not one.
    pub fn parse(&self) -> Result<DomainMoney, MoneyError> {
        DomainMoney::parse_decimal(self.amount.trim(), Currency::new(self.currency.trim())?)
    }
}
