//! A stand-in aggregate for tests of the event-store machinery, independent of the marketplace.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// A stand-in aggregate: a tally that only counts up.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// The sum of every amount added.
    pub total: u64,
    /// How many events were applied; a double application shows here.
    pub applied: u64,
}

/// Adds an amount.
#[derive(Debug, Clone)]
pub struct Add(pub u64);

/// What happened to a tally.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TallyEvent {
    /// An amount was added.
    Added {
        /// How much.
        amount: u64,
    },
}

impl DomainEvent for TallyEvent {
    fn event_type(&self) -> String {
        "Added".into()
    }
    fn event_version(&self) -> String {
        "1.0".into()
    }
}

/// Adding nothing is refused.
#[derive(Debug, thiserror::Error)]
#[error("amount must be positive")]
pub struct ZeroAmount;

impl Aggregate for Tally {
    const TYPE: &'static str = "Tally";
    type Command = Add;
    type Event = TallyEvent;
    type Error = ZeroAmount;
    type Services = ();

    async fn handle(
        &mut self,
        Add(amount): Add,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ZeroAmount> {
        if amount == 0 {
            return Err(ZeroAmount);
        }
        sink.write(TallyEvent::Added { amount }, self).await;
        Ok(())
    }

    fn apply(&mut self, TallyEvent::Added { amount }: TallyEvent) {
        self.total += amount;
        self.applied += 1;
    }
}
