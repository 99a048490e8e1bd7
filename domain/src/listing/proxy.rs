//! Secret-maximum ("proxy") bidding: who leads and at what price, from the live bids alone.
//!
//! The price is `min(leader_max, runner_up_max + increment(runner_up_max))`, the start price with
//! a single bidder, and at least the reserve once the leader's maximum reaches it. Ties go to the
//! earlier bid. Retraction simply removes bids and resolves again, so the runner-up's maximum
//! counts again.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
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
    BidderMaxima::from_bids(bids).resolve(start, reserve)
}

/// Each bidder's highest maximum and the acceptance order of the bid that set it: all that
/// resolving an auction needs. The auction keeps it as bids arrive, so a command costs the same
/// on its ten-thousandth bid as on its first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BidderMaxima(HashMap<Uuid, (i64, usize)>);

impl BidderMaxima {
    /// The maxima of `bids`, in the order they were accepted.
    pub fn from_bids<'a>(bids: impl IntoIterator<Item = &'a Bid>) -> Self {
        let mut maxima = Self::default();
        for (order, bid) in bids.into_iter().enumerate() {
            maxima.add(bid, order);
        }
        maxima
    }

    /// Counts `bid`, accepted after every bid counted so far (`order` above all of theirs).
    pub fn add(&mut self, bid: &Bid, order: usize) {
        let entry = self
            .0
            .entry(bid.bidder_id)
            .or_insert((bid.max_amount.minor, order));
        if bid.max_amount.minor > entry.0 {
            *entry = (bid.max_amount.minor, order);
        }
    }

    /// Who leads and at what price against `start` and `reserve`. The higher maximum leads; of
    /// two equal ones, the earlier.
    pub fn resolve(&self, start: &Money, reserve: Option<&Money>) -> Resolution {
        let ranks_before =
            |a: (i64, usize), b: (i64, usize)| a.0 > b.0 || (a.0 == b.0 && a.1 < b.1);
        let mut leader: Option<(Uuid, (i64, usize))> = None;
        let mut runner_up: Option<(i64, usize)> = None;
        for (&bidder, &entry) in &self.0 {
            match leader {
                Some((_, best)) if !ranks_before(entry, best) => {
                    if runner_up.is_none_or(|second| ranks_before(entry, second)) {
                        runner_up = Some(entry);
                    }
                }
                _ => {
                    runner_up = leader.map(|(_, best)| best);
                    leader = Some((bidder, entry));
                }
            }
        }

        let currency = start.currency;
        let Some((leader_id, (leader_max, _))) = leader else {
            return Resolution {
                leader: None,
                price: *start,
                reserve_met: false,
            };
        };
        let mut price = match runner_up {
            None => start.minor,
            Some((runner_up_max, _)) => {
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
}
