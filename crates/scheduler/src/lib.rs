//! Gavel's scheduler.
//!
//! Every tick it asks the listing read model for active auctions whose end time has passed and
//! sends each a `CloseAuction` command, and asks the orders read model for orders still awaiting
//! payment past their expiry and sends each an `Expire` command (the purchase process then
//! releases their stock). The read model may lag, so it only nominates candidates:
//! the aggregate re-checks the end time (a soft close may have moved it, which the command refuses
//! with `NOT_YET_ENDED`) and closing an already-closed auction does nothing; orders likewise. Running several
//! schedulers is therefore safe, merely redundant.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use gavel_commands::{CommandBus, CommandContext, CommandError};
use gavel_domain::clock::Clock;
use gavel_domain::listing::{Listing, ListingCommand, ListingError};
use gavel_domain::order::{Order, OrderCommand};
use gavel_projections::ReadStore;
use mongodb::bson::{doc, Document};

/// How often the scheduler looks for auctions to close.
pub const TICK: Duration = Duration::from_millis(500);

/// Closes every auction the read model shows as due; returns how many it closed.
pub async fn close_due_auctions(
    bus: &CommandBus<Listing>,
    read_store: &ReadStore,
    clock: &dyn Clock,
) -> Result<usize, mongodb::error::Error> {
    let now = clock.now();
    let due: Vec<Document> = read_store
        .database()
        .collection::<Document>("listings")
        .find(doc! {
            "status": "active",
            "format": "auction",
            "ends_at": { "$lte": mongodb::bson::DateTime::from_chrono(now) },
        })
        .projection(doc! { "_id": 1 })
        .await?
        .try_collect()
        .await?;
    let mut closed = 0;
    for listing in due {
        let Ok(id) = listing.get_str("_id") else {
            continue;
        };
        let context = CommandContext::new(None, now);
        match bus
            .execute(id, ListingCommand::CloseAuction, &context)
            .await
        {
            Ok(accepted) if !accepted.events.is_empty() => {
                closed += 1;
                tracing::info!(listing = id, "auction closed");
            }
            Ok(_) | Err(CommandError::Rejected(ListingError::NotYetEnded)) => {}
            Err(error) => tracing::warn!(listing = id, %error, "could not close auction"),
        }
    }
    Ok(closed)
}

/// Expires every order the read model shows as unpaid past its expiry; returns how many.
pub async fn expire_due_orders(
    bus: &CommandBus<Order>,
    read_store: &ReadStore,
    clock: &dyn Clock,
) -> Result<usize, mongodb::error::Error> {
    let now = clock.now();
    let due: Vec<Document> = read_store
        .database()
        .collection::<Document>("orders")
        .find(doc! {
            "status": "awaiting_payment",
            "expires_at": { "$lte": mongodb::bson::DateTime::from_chrono(now) },
        })
        .projection(doc! { "_id": 1 })
        .await?
        .try_collect()
        .await?;
    let mut expired = 0;
    for order in due {
        let Ok(id) = order.get_str("_id") else {
            continue;
        };
        let context = CommandContext::new(None, now);
        match bus.execute(id, OrderCommand::Expire, &context).await {
            Ok(accepted) if !accepted.events.is_empty() => {
                expired += 1;
                tracing::info!(order = id, "unpaid order expired");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(order = id, %error, "could not expire order"),
        }
    }
    Ok(expired)
}

/// Runs the scheduler until `shutdown` completes.
pub async fn run(
    listings: Arc<CommandBus<Listing>>,
    orders: Arc<CommandBus<Order>>,
    read_store: ReadStore,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = ticks.tick() => {}
        }
        if let Err(error) = close_due_auctions(&listings, &read_store, clock.as_ref()).await {
            tracing::warn!(%error, "scheduler could not read the listings");
        }
        if let Err(error) = expire_due_orders(&orders, &read_store, clock.as_ref()).await {
            tracing::warn!(%error, "scheduler could not read the orders");
        }
    }
}
