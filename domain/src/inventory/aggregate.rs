//! The state of one SKU's stock and the rules that change it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::commands::{InventoryCommand, Reservation};
use super::errors::InventoryError;
use super::events::{InventoryEvent, StockLevels};
use super::MAX_SKU_LEN;
use crate::clock::Clock;
use crate::listing::Actor;
use crate::role::Role;

/// What the inventory's rules need from outside.
#[derive(Clone)]
pub struct InventoryServices {
    /// The clock events are stamped with.
    pub clock: Arc<dyn Clock>,
}

/// The aggregate id of `seller`'s stock of `sku`: a seller can only ever address their own SKUs.
pub fn inventory_id(seller_id: Uuid, sku: &str) -> String {
    format!("{seller_id}:{sku}")
}

/// One seller's stock of one SKU.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    seller_id: Option<Uuid>,
    sku: String,
    on_hand: u32,
    /// Units held per order awaiting payment.
    reservations: BTreeMap<Uuid, u32>,
    /// Orders whose units were released or shipped: repeating their command changes nothing.
    settled: BTreeSet<Uuid>,
    low_stock_threshold: Option<u32>,
    /// Whether a low-stock event was raised since available last rose above the threshold.
    low_stock_raised: bool,
}

impl Inventory {
    /// The current levels.
    pub fn levels(&self) -> StockLevels {
        let reserved = self.reservations.values().sum();
        StockLevels {
            on_hand: self.on_hand,
            reserved,
            available: self.on_hand - reserved,
        }
    }

    /// The seller, once the SKU is open.
    pub fn seller_id(&self) -> Option<Uuid> {
        self.seller_id
    }

    /// The units `order_id` holds, if any.
    pub fn reserved_for(&self, order_id: Uuid) -> Option<u32> {
        self.reservations.get(&order_id).copied()
    }

    /// Checks that `actor` is a seller and, once the SKU is open, its seller; returns the event
    /// that opens it when this is its first command.
    fn authorise(
        &self,
        actor: &Actor,
        sku: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<InventoryEvent>, InventoryError> {
        if !actor.has(Role::Seller) && !actor.has(Role::VerifiedSeller) {
            return Err(InventoryError::NotASeller);
        }
        match self.seller_id {
            Some(seller) if seller == actor.user_id => Ok(None),
            Some(_) => Err(InventoryError::NotOwner),
            None => {
                check_sku(sku)?;
                Ok(Some(InventoryEvent::InventoryOpened {
                    seller_id: actor.user_id,
                    sku: sku.to_string(),
                    at: now,
                }))
            }
        }
    }

    /// The low-stock event due when available falls to `available`, if any: one per crossing,
    /// so none while a previous one stands.
    fn low_stock_at(&self, available: u32, now: DateTime<Utc>) -> Option<InventoryEvent> {
        let threshold = self.low_stock_threshold?;
        (available <= threshold && !self.low_stock_raised).then_some(InventoryEvent::LowStock {
            available,
            threshold,
            at: now,
        })
    }

    fn with_on_hand(&self, on_hand: u32) -> StockLevels {
        let reserved = self.levels().reserved;
        StockLevels {
            on_hand,
            reserved,
            available: on_hand - reserved,
        }
    }

    fn reserve(
        &self,
        reservation: Reservation,
        now: DateTime<Utc>,
    ) -> Result<Vec<InventoryEvent>, InventoryError> {
        if self.seller_id.is_none() {
            return Err(InventoryError::NotFound);
        }
        if self.reservations.contains_key(&reservation.order_id)
            || self.settled.contains(&reservation.order_id)
        {
            return Ok(vec![]);
        }
        if reservation.quantity == 0 {
            return Err(InventoryError::invalid("quantity", "buy at least one unit"));
        }
        let before = self.levels();
        if reservation.quantity > before.available {
            return Err(InventoryError::SoldOut {
                available: before.available,
                requested: reservation.quantity,
            });
        }
        let levels = StockLevels {
            reserved: before.reserved + reservation.quantity,
            available: before.available - reservation.quantity,
            ..before
        };
        let mut events = vec![InventoryEvent::StockReserved {
            order_id: reservation.order_id,
            buyer_id: reservation.buyer_id,
            listing_id: reservation.listing_id,
            quantity: reservation.quantity,
            unit_price: reservation.unit_price,
            levels,
            at: now,
        }];
        events.extend(self.low_stock_at(levels.available, now));
        Ok(events)
    }
}

fn check_sku(sku: &str) -> Result<(), InventoryError> {
    let valid = !sku.is_empty()
        && sku.len() <= MAX_SKU_LEN
        && sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(InventoryError::invalid(
            "sku",
            format!("a SKU is 1 to {MAX_SKU_LEN} letters, digits, '-', '_' or '.'"),
        ))
    }
}

fn check_reason(reason: &str) -> Result<(), InventoryError> {
    if reason.trim().is_empty() || reason.len() > 500 {
        Err(InventoryError::invalid(
            "reason",
            "give a reason of 1 to 500 characters",
        ))
    } else {
        Ok(())
    }
}

impl Aggregate for Inventory {
    const TYPE: &'static str = "Inventory";
    type Command = InventoryCommand;
    type Event = InventoryEvent;
    type Error = InventoryError;
    type Services = InventoryServices;

    async fn handle(
        &mut self,
        command: InventoryCommand,
        services: &InventoryServices,
        sink: &EventSink<Self>,
    ) -> Result<(), InventoryError> {
        let now = services.clock.now();
        let events = match command {
            InventoryCommand::Receive {
                actor,
                sku,
                quantity,
                reason,
            } => {
                let opened = self.authorise(&actor, &sku, now)?;
                check_reason(&reason)?;
                if quantity == 0 {
                    return Err(InventoryError::invalid(
                        "quantity",
                        "receive at least one unit",
                    ));
                }
                let on_hand = self.on_hand.checked_add(quantity).ok_or_else(|| {
                    InventoryError::invalid("quantity", "more stock than can be counted")
                })?;
                let mut events: Vec<_> = opened.into_iter().collect();
                events.push(InventoryEvent::StockReceived {
                    quantity,
                    reason,
                    levels: self.with_on_hand(on_hand),
                    at: now,
                });
                events
            }
            InventoryCommand::Count {
                actor,
                sku,
                on_hand,
                reason,
            } => {
                let opened = self.authorise(&actor, &sku, now)?;
                check_reason(&reason)?;
                let before = self.levels();
                if on_hand < before.reserved {
                    return Err(InventoryError::CountBelowReserved {
                        reserved: before.reserved,
                    });
                }
                let levels = self.with_on_hand(on_hand);
                let mut events: Vec<_> = opened.into_iter().collect();
                events.push(InventoryEvent::StockCounted {
                    counted: on_hand,
                    difference: i64::from(on_hand) - i64::from(self.on_hand),
                    reason,
                    levels,
                    at: now,
                });
                events.extend(self.low_stock_at(levels.available, now));
                events
            }
            InventoryCommand::SetLowStockThreshold {
                actor,
                sku,
                threshold,
            } => {
                let opened = self.authorise(&actor, &sku, now)?;
                let mut events: Vec<_> = opened.into_iter().collect();
                if threshold != self.low_stock_threshold {
                    events.push(InventoryEvent::LowStockThresholdSet { threshold, at: now });
                }
                events
            }
            InventoryCommand::Reserve(reservation) => self.reserve(reservation, now)?,
            InventoryCommand::Release { order_id } => match self.reservations.get(&order_id) {
                Some(&quantity) => {
                    let before = self.levels();
                    vec![InventoryEvent::StockReleased {
                        order_id,
                        quantity,
                        levels: StockLevels {
                            reserved: before.reserved - quantity,
                            available: before.available + quantity,
                            ..before
                        },
                        at: now,
                    }]
                }
                None => vec![],
            },
            InventoryCommand::Ship { order_id } => match self.reservations.get(&order_id) {
                Some(&quantity) => {
                    let before = self.levels();
                    vec![InventoryEvent::StockShipped {
                        order_id,
                        quantity,
                        levels: StockLevels {
                            on_hand: before.on_hand - quantity,
                            reserved: before.reserved - quantity,
                            available: before.available,
                        },
                        at: now,
                    }]
                }
                None => vec![],
            },
        };
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: InventoryEvent) {
        match event {
            InventoryEvent::InventoryOpened { seller_id, sku, .. } => {
                self.seller_id = Some(seller_id);
                self.sku = sku;
            }
            InventoryEvent::StockReceived { levels, .. }
            | InventoryEvent::StockCounted { levels, .. } => self.on_hand = levels.on_hand,
            InventoryEvent::LowStockThresholdSet { threshold, .. } => {
                // Setting a threshold is not a crossing: stock already below it alerts only after
                // it has risen above and fallen again.
                self.low_stock_threshold = threshold;
                self.low_stock_raised = threshold.is_some_and(|t| self.levels().available <= t);
            }
            InventoryEvent::StockReserved {
                order_id, quantity, ..
            } => {
                self.reservations.insert(order_id, quantity);
            }
            InventoryEvent::StockReleased { order_id, .. } => {
                self.reservations.remove(&order_id);
                self.settled.insert(order_id);
            }
            InventoryEvent::StockShipped {
                order_id, levels, ..
            } => {
                self.reservations.remove(&order_id);
                self.settled.insert(order_id);
                self.on_hand = levels.on_hand;
            }
            InventoryEvent::LowStock { .. } => self.low_stock_raised = true,
        }
        if let Some(threshold) = self.low_stock_threshold {
            if self.levels().available > threshold {
                self.low_stock_raised = false;
            }
        }
    }
}
