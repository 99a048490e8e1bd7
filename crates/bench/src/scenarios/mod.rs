//! The measurements, one module each.

pub mod freshness;
pub mod hot_auction;
pub mod rebuild;
pub mod search;
pub mod stream_length;
pub mod throughput;

use gavel_domain::increment::price_plus_increment;
use gavel_domain::{Currency, Money};

/// The next maximum a rival bidder must offer after a maximum of `minor` cents: above the price
/// plus its increment whatever the price is, so every bid in such a sequence is valid.
pub fn next_max(minor: i64) -> i64 {
    let usd = Currency::new("USD").expect("USD");
    price_plus_increment(&Money::from_minor(minor, usd)).minor + 1
}
