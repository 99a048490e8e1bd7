//! Secret-maximum ("proxy") bidding: who leads and at what price, from the live bids alone.
//!
//! The price is `min(leader_max, runner_up_max + increment(runner_up_max))`, the start price with
//! a single bidder, and at least the reserve once the leader's maximum reaches it. Ties go to the
//! earlier bid. Retraction simply removes bids and resolves again, so the runner-up's maximum
//! counts again.

use uuid::Uuid;

use super::aggregate::Bid;
use crate::increment::increment;
use crate::money::Money;

/// The result of resolving an auction's bids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The leader and their maximum, if anyone bid.
    pub leader: Option<(Uuid, Money)>,
    /// The current price.
    pub price: Money,
    /// Whether the leader's maximum reaches the reserve (always, without a reserve, once bid).
    pub reserve_met: bool,
}

/// Resolves `bids` (in the order they were accepted) against `start` and `reserve`.
pub fn resolve(start: &Money, reserve: Option<&Money>, bids: &[Bid]) -> Resolution {
    // Each bidder counts with their highest maximum, dated by the bid that set it.
    let mut best: Vec<(Uuid, i64, usize)> = Vec::new();
    for (order, bid) in bids.iter().enumerate() {
        match best
            .iter_mut()
            .find(|(bidder, _, _)| *bidder == bid.bidder_id)
        {
            Some(entry) if bid.max_amount.minor > entry.1 => {
                *entry = (bid.bidder_id, bid.max_amount.minor, order)
            }
            Some(_) => {}
            None => best.push((bid.bidder_id, bid.max_amount.minor, order)),
        }
    }
    best.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));

    let currency = start.currency;
    let Some(&(leader_id, leader_max, _)) = best.first() else {
        return Resolution {
            leader: None,
            price: *start,
            reserve_met: false,
        };
    };
    let mut price = match best.get(1) {
        None => start.minor,
        Some(&(_, runner_up_max, _)) => {
            let runner_up = Money::from_minor(runner_up_max, currency);
            leader_max.min(runner_up_max + increment(&runner_up).minor)
        }
    };
    let reserve_met = reserve.is_none_or(|reserve| leader_max >= reserve.minor);
    if let Some(reserve) = reserve.filter(|_| reserve_met) {
        price = price.max(reserve.minor);
    }
    Resolution {
        leader: Some((leader_id, Money::from_minor(leader_max, currency))),
        price: Money::from_minor(price.max(start.minor), currency),
        reserve_met,
    }
}
