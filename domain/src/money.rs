//! Money: integer minor units plus an ISO 4217 currency. Never floats.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An ISO 4217 currency code such as `USD`.
///
/// Stored inline as three ASCII letters so that money is `Copy`: an auction holds every live bid's
/// maximum, and its state is cloned on every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

/// Currencies without minor units; every other currency has two decimals.
const ZERO_DECIMAL: &[&str] = &["JPY", "KRW", "CLP", "ISK", "VND"];

impl Currency {
    /// Checks that `code` is three uppercase ASCII letters.
    pub fn new(code: &str) -> Result<Self, MoneyError> {
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            let mut letters = [0; 3];
            letters.copy_from_slice(code.as_bytes());
            Ok(Self(letters))
        } else {
            Err(MoneyError::InvalidCurrency(code.to_string()))
        }
    }

    /// The code, e.g. `USD`.
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.0).expect("checked to be ASCII letters")
    }

    /// How many decimals the currency's minor unit has.
    pub fn exponent(&self) -> u32 {
        if ZERO_DECIMAL.contains(&self.code()) {
            0
        } else {
            2
        }
    }

    /// Minor units in one major unit (100 for USD, 1 for JPY).
    pub fn minor_per_major(&self) -> i64 {
        10_i64.pow(self.exponent())
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(code: String) -> Result<Self, Self::Error> {
        Self::new(&code)
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.code().to_string()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount of money in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The amount in minor units (cents for USD).
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

/// Why an amount or currency was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a three-letter ISO 4217 code.
    #[error("'{0}' is not a currency code (three capital letters, e.g. USD)")]
    InvalidCurrency(String),
    /// Not a decimal amount with at most the currency's number of decimals.
    #[error("'{amount}' is not an amount in {currency} (digits, at most {decimals} decimals)")]
    InvalidAmount {
        /// What was given.
        amount: String,
        /// The currency it was meant in.
        currency: String,
        /// How many decimals that currency allows.
        decimals: u32,
    },
    /// Two amounts in different currencies were combined or compared.
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(String, String),
    /// The result does not fit.
    #[error("amount out of range")]
    Overflow,
}

impl Money {
    /// `minor` units of `currency`.
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Parses a non-negative decimal string such as `182.50` in `currency`.
    pub fn parse_decimal(amount: &str, currency: Currency) -> Result<Self, MoneyError> {
        let invalid = || MoneyError::InvalidAmount {
            amount: amount.to_string(),
            currency: currency.code().to_string(),
            decimals: currency.exponent(),
        };
        let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !digits_only(whole)
            || !digits_only(fraction)
            || (amount.contains('.') && fraction.is_empty())
            || fraction.len() > currency.exponent() as usize
            || whole.len() > 15
        {
            return Err(invalid());
        }
        let whole: i64 = whole.parse().map_err(|_| invalid())?;
        let padded = format!("{fraction:0<width$}", width = currency.exponent() as usize);
        let fraction: i64 = if padded.is_empty() {
            0
        } else {
            padded.parse().map_err(|_| invalid())?
        };
        let minor = whole
            .checked_mul(currency.minor_per_major())
            .and_then(|m| m.checked_add(fraction))
            .ok_or(MoneyError::Overflow)?;
        Ok(Self { minor, currency })
    }

    /// The amount as a decimal string with the currency's decimals, e.g. `182.50`.
    pub fn to_decimal_string(&self) -> String {
        let exponent = self.currency.exponent() as usize;
        let per_major = self.currency.minor_per_major();
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        let whole = abs / per_major as u64;
        if exponent == 0 {
            format!("{sign}{whole}")
        } else {
            let fraction = abs % per_major as u64;
            format!("{sign}{whole}.{fraction:0exponent$}")
        }
    }

    /// Whether the amount is above zero.
    pub fn is_positive(&self) -> bool {
        self.minor > 0
    }

    /// `self + other`, both in the same currency.
    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::from_minor(minor, self.currency))
    }

    /// `self × count`, e.g. a unit price times a quantity.
    pub fn checked_times(&self, count: u32) -> Result<Money, MoneyError> {
        let minor = self
            .minor
            .checked_mul(i64::from(count))
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::from_minor(minor, self.currency))
    }

    /// Fails unless `other` is in the same currency.
    pub fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(
                self.currency.to_string(),
                other.currency.to_string(),
            ))
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::new("USD").unwrap()
    }

    #[test]
    fn decimal_strings_round_trip_in_minor_units() {
        for (text, minor) in [
            ("182.50", 18_250),
            ("0.05", 5),
            ("7", 700),
            ("1000.1", 100_010),
        ] {
            let money = Money::parse_decimal(text, usd()).unwrap();
            assert_eq!(money.minor, minor, "{text}");
        }
        assert_eq!(
            Money::from_minor(18_250, usd()).to_decimal_string(),
            "182.50"
        );
        assert_eq!(Money::from_minor(5, usd()).to_decimal_string(), "0.05");
        let yen = Currency::new("JPY").unwrap();
        assert_eq!(Money::parse_decimal("1500", yen).unwrap().minor, 1500);
        assert_eq!(Money::from_minor(1500, yen).to_decimal_string(), "1500");
    }

    #[test]
    fn malformed_amounts_and_currencies_are_refused() {
        for bad in [
            "",
            "-1",
            "1.005",
            "1e3",
            "1.",
            ".5",
            "12,50",
            "NaN",
            " 1",
            "1234567890123456",
        ] {
            assert!(
                Money::parse_decimal(bad, usd()).is_err(),
                "{bad:?} accepted"
            );
        }
        assert!(Money::parse_decimal("10.5", Currency::new("JPY").unwrap()).is_err());
        for bad in ["usd", "US", "USDX", "U$D"] {
            assert!(Currency::new(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn amounts_in_different_currencies_do_not_mix() {
        let eur = Money::from_minor(100, Currency::new("EUR").unwrap());
        let usd = Money::from_minor(100, usd());
        assert!(matches!(
            usd.checked_add(&eur),
            Err(MoneyError::CurrencyMismatch(..))
        ));
    }
}
