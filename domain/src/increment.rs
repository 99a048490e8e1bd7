//! The bid increment table (eBay US), in the listing's currency units.

use crate::money::Money;

/// `(price from, increment)` in hundredths of a currency unit, highest band first.
const BANDS: &[(i64, i64)] = &[
    (500_000, 10_000),
    (250_000, 5_000),
    (100_000, 2_500),
    (50_000, 1_000),
    (25_000, 500),
    (10_000, 250),
    (2_500, 100),
    (500, 50),
    (100, 25),
    (0, 5),
];

/// The increment that applies at `price`.
pub fn increment(price: &Money) -> Money {
    // The table is in currency units; a zero-decimal currency scales by 1, two decimals by 100.
    let per_major = price.currency.minor_per_major();
    let hundredths = price.minor.saturating_mul(100) / per_major;
    let step = BANDS
        .iter()
        .find(|(from, _)| hundredths >= *from)
        .map_or(5, |(_, step)| *step);
    let minor = (step * per_major / 100).max(1);
    Money::from_minor(minor, price.currency)
}

/// `price + increment(price)`: the least a new bid may offer once there is a price.
pub fn price_plus_increment(price: &Money) -> Money {
    Money::from_minor(
        price.minor.saturating_add(increment(price).minor),
        price.currency,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn usd(text: &str) -> Money {
        Money::parse_decimal(text, Currency::new("USD").unwrap()).unwrap()
    }

    #[test]
    fn each_band_starts_where_the_table_says() {
        let cases = [
            ("0.01", "0.05"),
            ("0.99", "0.05"),
            ("1.00", "0.25"),
            ("4.99", "0.25"),
            ("5.00", "0.50"),
            ("24.99", "0.50"),
            ("25.00", "1.00"),
            ("99.99", "1.00"),
            ("100.00", "2.50"),
            ("249.99", "2.50"),
            ("250.00", "5.00"),
            ("499.99", "5.00"),
            ("500.00", "10.00"),
            ("999.99", "10.00"),
            ("1000.00", "25.00"),
            ("2499.99", "25.00"),
            ("2500.00", "50.00"),
            ("4999.99", "50.00"),
            ("5000.00", "100.00"),
            ("250000.00", "100.00"),
        ];
        for (price, step) in cases {
            assert_eq!(increment(&usd(price)), usd(step), "at {price}");
        }
    }

    #[test]
    fn zero_decimal_currencies_use_whole_units() {
        let yen = Money::from_minor(30_000, Currency::new("JPY").unwrap());
        assert_eq!(increment(&yen).minor, 100);
        assert_eq!(price_plus_increment(&yen).minor, 30_100);
    }
}
