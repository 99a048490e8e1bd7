//! Gavel's scheduler.
//!
//! Every tick it asks the event store's deadlines (kept by a trigger in the same transaction as
//! the events that set them, see [`gavel_store::deadlines`]) which auctions have reached their end
//! and which orders their payment expiry, and sends each a `CloseAuction` or `Expire` command (the
//! purchase process then releases an expired order's stock). The aggregate re-checks the time:
//! closing an already-closed auction or expiring a paid order does nothing, and such a deadline is
//! dropped. Running several schedulers is therefore safe, merely redundant. The read models play
//! no part, so an auction closes on time however far the projector lags.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use cqrs_es::Aggregate;
use gavel_commands::{CommandBus, CommandContext};
use gavel_domain::clock::Clock;
use gavel_domain::listing::{Listing, ListingCommand};
use gavel_domain::order::{Order, OrderCommand};
use gavel_store::deadlines;
use sqlx::PgPool;

/// How often the scheduler looks for deadlines that have come.
pub const TICK: Duration = Duration::from_millis(500);

/// How many deadlines one query fetches; a longer backlog is worked through in turns.
const BATCH: i64 = 500;

/// Closes every auction whose end has come; returns how many it closed.
pub async fn close_due_auctions(
    bus: &CommandBus<Listing>,
    pool: &PgPool,
    clock: &dyn Clock,
) -> Result<usize, sqlx::Error> {
    settle_due(
        bus,
        pool,
        clock,
        ListingCommand::CloseAuction,
        "auction closed",
    )
    .await
}

/// Expires every order still unpaid when its payment time ran out; returns how many.
pub async fn expire_due_orders(
    bus: &CommandBus<Order>,
    pool: &PgPool,
    clock: &dyn Clock,
) -> Result<usize, sqlx::Error> {
    settle_due(
        bus,
        pool,
        clock,
        OrderCommand::Expire,
        "unpaid order expired",
    )
    .await
}

/// Sends `command` to every aggregate of `A` whose deadline has come, in deadline order, and
/// returns how many it changed.
async fn settle_due<A>(
    bus: &CommandBus<A>,
    pool: &PgPool,
    clock: &dyn Clock,
    command: A::Command,
    done: &'static str,
) -> Result<usize, sqlx::Error>
where
    A: Aggregate + Clone + 'static,
    A::Command: Clone + Send + Sync + 'static,
    A::Error: Send + Sync + 'static,
    A::Services: 'static,
{
    let now = clock.now();
    let context = CommandContext::new(None, now);
    let mut changed = 0;
    loop {
        let due = deadlines::due(pool, A::TYPE, now, BATCH).await?;
        let mut unsettled = 0;
        for deadline in &due {
            let id = &deadline.aggregate_id;
            match bus.execute(id, command.clone(), &context).await {
                Ok(accepted) if !accepted.events.is_empty() => {
                    changed += 1;
                    tracing::info!(aggregate = %id, "{done}");
                }
                // Nothing was left to do. The trigger removes a deadline with the event that
                // settles it, so only a store written some other way gets here, and asking again
                // would not change the answer.
                Ok(_) => deadlines::drop_settled(pool, A::TYPE, deadline).await?,
                Err(error) => {
                    unsettled += 1;
                    tracing::warn!(aggregate = %id, %error, "not settled at its deadline");
                }
            }
        }
        // A full batch that was all settled may have more behind it; anything left unsettled is
        // tried again on the next tick rather than at once.
        if (due.len() as i64) < BATCH || unsettled > 0 {
            return Ok(changed);
        }
    }
}

/// Runs the scheduler until `shutdown` completes.
pub async fn run(
    listings: Arc<CommandBus<Listing>>,
    orders: Arc<CommandBus<Order>>,
    pool: PgPool,
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
        if let Err(error) = close_due_auctions(&listings, &pool, clock.as_ref()).await {
            tracing::warn!(%error, "scheduler could not read the auctions' deadlines");
        }
        if let Err(error) = expire_due_orders(&orders, &pool, clock.as_ref()).await {
            tracing::warn!(%error, "scheduler could not read the orders' deadlines");
        }
    }
}
