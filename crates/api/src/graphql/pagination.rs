//! Relay cursor pagination: opaque cursors, `first` capped at 100.

use async_graphql::{Error, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The most items one page may hold.
pub const MAX_PAGE: usize = 100;

/// The page size for `first` (20 when omitted); more than [`MAX_PAGE`] or less than 0 is refused.
pub fn page_size(first: Option<i32>) -> Result<usize> {
    match first {
        None => Ok(20),
        Some(n) if (0..=MAX_PAGE as i32).contains(&n) => Ok(n as usize),
        Some(n) => Err(Error::new(format!(
            "first must be between 0 and {MAX_PAGE}, got {n}"
        ))),
    }
}

/// The cursor after the item at `position` (1-based).
pub fn encode_cursor(position: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("offset:{position}"))
}

/// The position a cursor stands for.
pub fn decode_cursor(cursor: &str) -> Result<usize> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("offset:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| Error::new("invalid cursor"))
}
