//! Gavel's purchase process.
//!
//! A process manager: the consumer group `<prefix>purchases` reads the inventory and order topics
//! and issues the next command of each purchase.
//!
//! | event | command |
//! |---|---|
//! | `StockReserved` | place the order (the API usually has already; placing twice is a no-op) |
//! | `OrderPaid` | ship the order's stock, then complete the order |
//! | `OrderCancelled`, `OrderExpired` | release the order's stock |
//!
//! Every command it issues is idempotent in the aggregate, and a record's offset is committed
//! only after its commands were accepted, so a crash at any step is resumed by handling the same
//! record again.

use std::future::Future;
use std::sync::Arc;

use gavel_bus::Handled;
use gavel_commands::{CommandBus, CommandContext, CommandError};
use gavel_domain::clock::Clock;
use gavel_domain::inventory::{inventory_id, Inventory, InventoryCommand, InventoryEvent};
use gavel_domain::order::{Order, OrderCommand, OrderEvent, PlacedOrder};
use gavel_projections::EventEnvelope;
use uuid::Uuid;

/// The purchase process's consumer group for `prefix`.
pub fn group_id(prefix: &str) -> String {
    format!("{prefix}purchases")
}

/// The purchase process: the aggregates it commands and the payment timeout.
#[derive(Clone)]
pub struct PurchaseProcess {
    /// Stock, per seller SKU.
    pub inventory: Arc<CommandBus<Inventory>>,
    /// Orders.
    pub orders: Arc<CommandBus<Order>>,
    /// How long a reservation waits for payment.
    pub payment_timeout: chrono::Duration,
    /// The clock commands are stamped with.
    pub clock: Arc<dyn Clock>,
}

impl PurchaseProcess {
    /// Issues the commands `envelope` calls for; `Retry` when the event store did not take them.
    pub async fn handle(&self, envelope: &EventEnvelope) -> Handled {
        let result = match envelope.aggregate_type.as_str() {
            "Inventory" => match serde_json::from_value(envelope.payload.clone()) {
                Ok(event) => self.on_inventory_event(envelope, &event).await,
                Err(error) => Err(format!("unreadable inventory event: {error}")),
            },
            "Order" => match serde_json::from_value(envelope.payload.clone()) {
                Ok(event) => self.on_order_event(envelope, &event).await,
                Err(error) => Err(format!("unreadable order event: {error}")),
            },
            _ => Ok(()),
        };
        match result {
            Ok(()) => Handled::Done,
            Err(reason) => Handled::Retry(reason),
        }
    }

    async fn on_inventory_event(
        &self,
        envelope: &EventEnvelope,
        event: &InventoryEvent,
    ) -> Result<(), String> {
        let InventoryEvent::StockReserved { order_id, .. } = event else {
            return Ok(());
        };
        let Some((seller, sku)) = envelope.aggregate_id.split_once(':') else {
            return Err(format!("not an inventory id: {}", envelope.aggregate_id));
        };
        let seller: Uuid = seller
            .parse()
            .map_err(|_| format!("not a seller id: {seller}"))?;
        let order = PlacedOrder::for_reservation(event, seller, sku, self.payment_timeout)
            .ok_or_else(|| format!("order {order_id}: total out of range"))?;
        let context = self.context(envelope);
        settle(
            self.orders
                .execute(&order_id.to_string(), OrderCommand::Place(order), &context)
                .await,
        )
    }

    async fn on_order_event(
        &self,
        envelope: &EventEnvelope,
        event: &OrderEvent,
    ) -> Result<(), String> {
        let order_id = envelope.aggregate_id.as_str();
        let stock_command = match event {
            OrderEvent::OrderPaid { .. } => InventoryCommand::Ship {
                order_id: order_id
                    .parse()
                    .map_err(|_| format!("not an order id: {order_id}"))?,
            },
            OrderEvent::OrderCancelled { .. } | OrderEvent::OrderExpired { .. } => {
                InventoryCommand::Release {
                    order_id: order_id
                        .parse()
                        .map_err(|_| format!("not an order id: {order_id}"))?,
                }
            }
            OrderEvent::OrderPlaced(_) | OrderEvent::OrderCompleted { .. } => return Ok(()),
        };
        let (order, _) = self
            .orders
            .current(order_id)
            .await
            .map_err(|e| e.to_string())?;
        let placed = order
            .placed()
            .ok_or_else(|| format!("order {order_id} has no placement"))?;
        let context = self.context(envelope);
        let is_ship = matches!(stock_command, InventoryCommand::Ship { .. });
        settle(
            self.inventory
                .execute(
                    &inventory_id(placed.seller_id, &placed.sku),
                    stock_command,
                    &context,
                )
                .await,
        )?;
        if is_ship {
            settle(
                self.orders
                    .execute(order_id, OrderCommand::Complete, &context)
                    .await,
            )?;
        }
        Ok(())
    }

    /// Commands caused by `envelope` carry its correlation id and name it as their cause.
    fn context(&self, envelope: &EventEnvelope) -> CommandContext {
        let mut context = CommandContext::new(None, self.clock.now());
        if let Some(correlation) = envelope
            .metadata
            .get("correlation_id")
            .and_then(|id| id.parse().ok())
        {
            context.correlation_id = correlation;
        }
        context.causation_id = Some(format!(
            "{}:{}:{}",
            envelope.aggregate_type, envelope.aggregate_id, envelope.sequence
        ));
        context
    }
}

/// Accepted and no-op commands settle a step; a business rejection also does, logged, because
/// repeating it cannot change the answer; store failures and contention are retried.
fn settle<T, E: std::error::Error>(outcome: Result<T, CommandError<E>>) -> Result<(), String> {
    match outcome {
        Ok(_) => Ok(()),
        Err(CommandError::Rejected(rejection)) => {
            tracing::error!(%rejection, "purchase step refused; moving on");
            Ok(())
        }
        Err(error) => Err(error.to_string()),
    }
}

/// Runs the purchase process until `shutdown` completes.
pub async fn run(
    process: PurchaseProcess,
    brokers: &str,
    topic_prefix: &str,
    shutdown: impl Future<Output = ()>,
) -> Result<(), gavel_bus::BusError> {
    let topics = [
        gavel_bus::topic_for(topic_prefix, "Inventory"),
        gavel_bus::topic_for(topic_prefix, "Order"),
    ];
    gavel_bus::consume(
        brokers,
        &group_id(topic_prefix),
        &topics,
        shutdown,
        |envelope: EventEnvelope| {
            let process = process.clone();
            async move { process.handle(&envelope).await }
        },
    )
    .await
}
