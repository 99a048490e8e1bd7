//! The state of one order and the rules that move it along.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clock::Clock;
use crate::inventory::InventoryEvent;
use crate::money::Money;

/// What the order's rules need from outside.
#[derive(Clone)]
pub struct OrderServices {
    /// The clock every time rule reads.
    pub clock: Arc<dyn Clock>,
}

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Not placed.
    #[default]
    None,
    /// Stock is held; waiting for the payment provider.
    AwaitingPayment,
    /// Paid; the stock is being shipped.
    Paid,
    /// Paid and shipped.
    Completed,
    /// Payment failed; the stock goes back.
    Cancelled,
    /// No payment came in time; the stock goes back.
    Expired,
}

/// An order as placed, once its stock is held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacedOrder {
    /// The order's id (also the stock reservation's).
    pub order_id: Uuid,
    /// Who buys.
    pub buyer_id: Uuid,
    /// Who sells.
    pub seller_id: Uuid,
    /// The listing bought from.
    pub listing_id: Uuid,
    /// The seller's SKU the units come from.
    pub sku: String,
    /// How many units.
    pub quantity: u32,
    /// The price of one unit.
    pub unit_price: Money,
    /// What the buyer pays: unit price × quantity.
    pub total: Money,
    /// When the stock was reserved.
    pub reserved_at: DateTime<Utc>,
    /// When an unpaid order expires.
    pub expires_at: DateTime<Utc>,
}

impl PlacedOrder {
    /// The order a stock reservation stands for: `event` is a `StockReserved` of `seller_id`'s
    /// `sku`, and an unpaid order expires `payment_timeout` after it. Both the API (which places
    /// the order right after reserving) and the purchase process (which places it if the API did
    /// not get to) build it here, so they place the same order.
    pub fn for_reservation(
        event: &InventoryEvent,
        seller_id: Uuid,
        sku: &str,
        payment_timeout: Duration,
    ) -> Option<Self> {
        let InventoryEvent::StockReserved {
            order_id,
            buyer_id,
            listing_id,
            quantity,
            unit_price,
            at,
            ..
        } = event
        else {
            return None;
        };
        Some(Self {
            order_id: *order_id,
            buyer_id: *buyer_id,
            seller_id,
            listing_id: *listing_id,
            sku: sku.to_string(),
            quantity: *quantity,
            unit_price: *unit_price,
            total: unit_price.checked_times(*quantity).ok()?,
            reserved_at: *at,
            expires_at: *at + payment_timeout,
        })
    }
}

/// Everything that can be asked of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCommand {
    /// Records an order whose stock is reserved. A no-op when it exists.
    Place(PlacedOrder),
    /// The payment provider confirmed a payment. Confirming again is a no-op.
    ConfirmPayment {
        /// The provider's payment id.
        payment_id: String,
        /// What was paid.
        amount: Money,
    },
    /// The payment provider reported a failed payment.
    FailPayment {
        /// The provider's payment id.
        payment_id: String,
    },
    /// Gives up waiting for payment once the order's time is up.
    Expire,
    /// The paid order's stock has shipped.
    Complete,
}

/// Everything that can happen to an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderEvent {
    /// A buyer's order was placed with its stock held.
    OrderPlaced(PlacedOrder),
    /// The order was paid.
    OrderPaid {
        /// The provider's payment id.
        payment_id: String,
        /// What was paid.
        amount: Money,
        /// When.
        at: DateTime<Utc>,
    },
    /// Payment failed; the order is cancelled.
    OrderCancelled {
        /// The provider's payment id.
        payment_id: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// No payment came in time.
    OrderExpired {
        /// When.
        at: DateTime<Utc>,
    },
    /// The order was paid and its stock shipped.
    OrderCompleted {
        /// When.
        at: DateTime<Utc>,
    },
}

impl OrderEvent {
    /// The event's type name, as stored and published.
    pub fn name(&self) -> &'static str {
        match self {
            Self::OrderPlaced(_) => "OrderPlaced",
            Self::OrderPaid { .. } => "OrderPaid",
            Self::OrderCancelled { .. } => "OrderCancelled",
            Self::OrderExpired { .. } => "OrderExpired",
            Self::OrderCompleted { .. } => "OrderCompleted",
        }
    }
}

impl DomainEvent for OrderEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// A refused order command; [`code`](Self::code) is stable for clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// No such order.
    #[error("no such order")]
    NotFound,
    /// The order is not waiting for payment any more.
    #[error("the order is {status:?}, not awaiting payment")]
    NotAwaitingPayment {
        /// Where it is.
        status: OrderStatus,
    },
    /// The amount paid is not the order's total.
    #[error("paid {paid}, but the order's total is {total}")]
    AmountMismatch {
        /// What was paid.
        paid: Money,
        /// What is due.
        total: Money,
    },
    /// The order's time is not up yet.
    #[error("the order does not expire before {expires_at}")]
    NotYetExpired {
        /// When it expires.
        expires_at: DateTime<Utc>,
    },
    /// Only a paid order can be completed.
    #[error("only a paid order can be completed")]
    NotPaid,
}

impl OrderError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "NOT_FOUND",
            Self::NotAwaitingPayment { .. } => "NOT_AWAITING_PAYMENT",
            Self::AmountMismatch { .. } => "AMOUNT_MISMATCH",
            Self::NotYetExpired { .. } => "NOT_YET_EXPIRED",
            Self::NotPaid => "NOT_PAID",
        }
    }
}

/// One purchase.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    placed: Option<PlacedOrder>,
    status: OrderStatus,
    payment_id: Option<String>,
}

impl Order {
    /// Where the order is.
    pub fn status(&self) -> OrderStatus {
        self.status
    }

    /// The order as placed.
    pub fn placed(&self) -> Option<&PlacedOrder> {
        self.placed.as_ref()
    }

    fn decide(
        &self,
        command: OrderCommand,
        now: DateTime<Utc>,
    ) -> Result<Vec<OrderEvent>, OrderError> {
        if let OrderCommand::Place(order) = command {
            return Ok(match self.status {
                OrderStatus::None => vec![OrderEvent::OrderPlaced(order)],
                _ => vec![],
            });
        }
        let Some(placed) = &self.placed else {
            return Err(OrderError::NotFound);
        };
        Ok(match (command, self.status) {
            (OrderCommand::Place(_), _) => unreachable!("handled above"),
            (OrderCommand::ConfirmPayment { .. }, OrderStatus::Paid | OrderStatus::Completed) => {
                vec![]
            }
            (OrderCommand::ConfirmPayment { payment_id, amount }, OrderStatus::AwaitingPayment) => {
                if amount != placed.total {
                    return Err(OrderError::AmountMismatch {
                        paid: amount,
                        total: placed.total,
                    });
                }
                vec![OrderEvent::OrderPaid {
                    payment_id,
                    amount,
                    at: now,
                }]
            }
            (OrderCommand::FailPayment { .. }, OrderStatus::Cancelled | OrderStatus::Expired) => {
                vec![]
            }
            (OrderCommand::FailPayment { payment_id }, OrderStatus::AwaitingPayment) => {
                vec![OrderEvent::OrderCancelled {
                    payment_id,
                    at: now,
                }]
            }
            (OrderCommand::ConfirmPayment { .. } | OrderCommand::FailPayment { .. }, status) => {
                return Err(OrderError::NotAwaitingPayment { status });
            }
            (OrderCommand::Expire, OrderStatus::AwaitingPayment) => {
                if now < placed.expires_at {
                    return Err(OrderError::NotYetExpired {
                        expires_at: placed.expires_at,
                    });
                }
                vec![OrderEvent::OrderExpired { at: now }]
            }
            (OrderCommand::Expire, _) => vec![],
            (OrderCommand::Complete, OrderStatus::Paid) => {
                vec![OrderEvent::OrderCompleted { at: now }]
            }
            (OrderCommand::Complete, OrderStatus::Completed) => vec![],
            (OrderCommand::Complete, _) => return Err(OrderError::NotPaid),
        })
    }
}

impl Aggregate for Order {
    const TYPE: &'static str = "Order";
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = OrderError;
    type Services = OrderServices;

    async fn handle(
        &mut self,
        command: OrderCommand,
        services: &OrderServices,
        sink: &EventSink<Self>,
    ) -> Result<(), OrderError> {
        for event in self.decide(command, services.clock.now())? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: OrderEvent) {
        match event {
            OrderEvent::OrderPlaced(order) => {
                self.placed = Some(order);
                self.status = OrderStatus::AwaitingPayment;
            }
            OrderEvent::OrderPaid { payment_id, .. } => {
                self.payment_id = Some(payment_id);
                self.status = OrderStatus::Paid;
            }
            OrderEvent::OrderCancelled { .. } => self.status = OrderStatus::Cancelled,
            OrderEvent::OrderExpired { .. } => self.status = OrderStatus::Expired,
            OrderEvent::OrderCompleted { .. } => self.status = OrderStatus::Completed,
        }
    }
}
