//! The scheduler against the real event store: it acts on the deadlines the store keeps with the
//! events, with no read model running.

use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use gavel_commands::{Accepted, CommandBus, CommandContext, RetryPolicy};
use gavel_domain::clock::{Clock, ManualClock};
use gavel_domain::listing::{
    Actor, AuctionTerms, ClosePolicy, FixedPriceTerms, Listing, ListingCommand, ListingServices,
    ListingStatus, ListingTerms,
};
use gavel_domain::order::{Order, OrderCommand, OrderServices, OrderStatus, PlacedOrder};
use gavel_domain::Role;
use gavel_scheduler::{close_due_auctions, expire_due_orders};
use gavel_tests::listings::{create_listing, plain_auction, usd};
use gavel_tests::{isolated_settings, postgres_pool, stack_settings};
use sqlx::PgPool;
use uuid::Uuid;

struct Scheduled {
    pool: PgPool,
    clock: Arc<ManualClock>,
    listings: CommandBus<Listing>,
    orders: CommandBus<Order>,
}

async fn scheduled() -> Scheduled {
    let settings = isolated_settings(&stack_settings()).await;
    let pool = postgres_pool(&settings);
    // Whole seconds, because the store keeps deadlines to the microsecond.
    let clock = Arc::new(ManualClock::new(Utc::now().trunc_subsecs(0)));
    Scheduled {
        listings: CommandBus::new(
            pool.clone(),
            ListingServices {
                clock: clock.clone(),
            },
            100,
            RetryPolicy::default(),
        ),
        orders: CommandBus::new(
            pool.clone(),
            OrderServices {
                clock: clock.clone(),
            },
            100,
            RetryPolicy::default(),
        ),
        pool,
        clock,
    }
}

impl Scheduled {
    fn context(&self) -> CommandContext {
        CommandContext::new(None, self.clock.now())
    }

    /// Opens a listing on `terms`; returns its id.
    async fn open(&self, terms: ListingTerms) -> String {
        let id = Uuid::now_v7();
        let seller = Actor::new(Uuid::now_v7(), [Role::VerifiedSeller]);
        self.listings
            .execute(
                &id.to_string(),
                create_listing(id, seller, terms),
                &self.context(),
            )
            .await
            .expect("listing opened");
        id.to_string()
    }

    /// Opens an auction ending at `ends_at` under `close_policy`.
    async fn open_auction(&self, ends_at: DateTime<Utc>, close_policy: ClosePolicy) -> String {
        self.open(ListingTerms::Auction(AuctionTerms {
            close_policy,
            ..plain_auction(ends_at)
        }))
        .await
    }

    /// Bids 150.00 on `id` as a new bidder, now.
    async fn bid(&self, id: &str) -> Accepted<Listing> {
        let bid = ListingCommand::PlaceBid {
            bid_id: Uuid::now_v7(),
            bidder: Actor::new(Uuid::now_v7(), [Role::Buyer]),
            max_amount: usd(15_000),
        };
        self.listings
            .execute(id, bid, &self.context())
            .await
            .expect("bid")
    }

    /// Runs the scheduler's auction pass once; how many it closed.
    async fn close_due(&self) -> usize {
        close_due_auctions(&self.listings, &self.pool, self.clock.as_ref())
            .await
            .expect("deadlines readable")
    }

    async fn status(&self, id: &str) -> ListingStatus {
        self.listings.replay(id).await.expect("replay").0.status()
    }

    async fn deadlines(&self) -> Vec<(String, String, DateTime<Utc>)> {
        sqlx::query_as("SELECT aggregate_type, aggregate_id, due_at FROM deadlines ORDER BY 2")
            .fetch_all(&self.pool)
            .await
            .expect("deadlines")
    }
}

#[tokio::test]
async fn an_auction_closes_when_its_end_comes_and_not_before() {
    let app = scheduled().await;
    let end = app.clock.now() + Duration::minutes(10);
    let id = app.open_auction(end, ClosePolicy::HardClose).await;
    app.open(ListingTerms::FixedPrice(FixedPriceTerms {
        price: usd(50_000),
        quantity: 1,
        sku: None,
    }))
    .await;
    assert_eq!(
        app.deadlines().await,
        vec![("Listing".to_string(), id.clone(), end)],
        "only the auction waits for a time"
    );

    app.clock.set(end - Duration::seconds(1));
    assert_eq!(app.close_due().await, 0);
    assert_eq!(app.status(&id).await, ListingStatus::Active);

    app.clock.set(end);
    assert_eq!(app.close_due().await, 1);
    assert_eq!(app.status(&id).await, ListingStatus::Unsold);
    assert_eq!(
        app.deadlines().await,
        vec![],
        "a closed auction waits for nothing"
    );
    assert_eq!(app.close_due().await, 0);
}

#[tokio::test]
async fn an_end_between_two_microseconds_is_due_at_the_end_itself() {
    let app = scheduled().await;
    // PostgreSQL would round this end up to the next microsecond, after the end itself.
    let end = app.clock.now() + Duration::minutes(10) + Duration::nanoseconds(999);
    let id = app.open_auction(end, ClosePolicy::HardClose).await;
    app.clock.set(end);
    assert_eq!(app.close_due().await, 1);
    assert_eq!(app.status(&id).await, ListingStatus::Unsold);
}

#[tokio::test]
async fn a_late_bid_moves_the_deadline_with_the_end() {
    let app = scheduled().await;
    let end = app.clock.now() + Duration::minutes(10);
    let id = app.open_auction(end, ClosePolicy::default()).await;

    app.clock.set(end - Duration::seconds(30));
    let bid = app.bid(&id).await;
    let new_end = bid.state.ends_at().expect("an auction has an end");
    assert!(new_end > end, "the late bid extended the auction");
    assert_eq!(app.deadlines().await[0].2, new_end);

    app.clock.set(end);
    assert_eq!(app.close_due().await, 0, "the old end no longer counts");
    app.clock.set(new_end);
    assert_eq!(app.close_due().await, 1);
    assert_eq!(app.status(&id).await, ListingStatus::Sold);
}

#[tokio::test]
async fn more_due_auctions_than_one_batch_all_close_in_one_pass() {
    let app = scheduled().await;
    let end = app.clock.now() + Duration::minutes(2);
    let mut ids = Vec::new();
    for _ in 0..600 {
        ids.push(app.open_auction(end, ClosePolicy::HardClose).await);
    }
    app.clock.set(end);
    assert_eq!(app.close_due().await, 600);
    for id in &ids {
        assert_eq!(app.status(id).await, ListingStatus::Unsold);
    }
}

#[tokio::test]
async fn an_unpaid_order_expires_at_its_deadline_and_a_paid_one_never() {
    let app = scheduled().await;
    let now = app.clock.now();
    let expires_at = now + Duration::minutes(15);
    let place = |order_id: Uuid| PlacedOrder {
        order_id,
        buyer_id: Uuid::now_v7(),
        seller_id: Uuid::now_v7(),
        listing_id: Uuid::now_v7(),
        sku: "SUB-124060".into(),
        quantity: 1,
        unit_price: usd(50_000),
        total: usd(50_000),
        reserved_at: now,
        expires_at,
    };
    let (unpaid, paid) = (Uuid::now_v7(), Uuid::now_v7());
    for id in [unpaid, paid] {
        app.orders
            .execute(
                &id.to_string(),
                OrderCommand::Place(place(id)),
                &app.context(),
            )
            .await
            .expect("order placed");
    }
    app.orders
        .execute(
            &paid.to_string(),
            OrderCommand::ConfirmPayment {
                payment_id: "pay_1".into(),
                amount: usd(50_000),
            },
            &app.context(),
        )
        .await
        .expect("payment confirmed");
    assert_eq!(
        app.deadlines().await,
        vec![("Order".to_string(), unpaid.to_string(), expires_at)]
    );

    app.clock.set(expires_at);
    let expired = expire_due_orders(&app.orders, &app.pool, app.clock.as_ref()).await;
    assert_eq!(expired.unwrap(), 1);
    let status = |id: Uuid| {
        let orders = &app.orders;
        async move { orders.replay(&id.to_string()).await.unwrap().0.status() }
    };
    assert_eq!(status(unpaid).await, OrderStatus::Expired);
    assert_eq!(status(paid).await, OrderStatus::Paid);
    assert_eq!(app.deadlines().await, vec![]);
}

#[tokio::test]
async fn a_deadline_left_by_a_store_written_otherwise_is_dropped_once_nothing_is_left_to_do() {
    let app = scheduled().await;
    let end = app.clock.now() + Duration::minutes(2);
    let id = app.open_auction(end, ClosePolicy::HardClose).await;
    app.clock.set(end);
    app.close_due().await;
    sqlx::query("INSERT INTO deadlines VALUES ('Listing', $1, $2)")
        .bind(&id)
        .bind(end)
        .execute(&app.pool)
        .await
        .unwrap();

    assert_eq!(app.close_due().await, 0);
    assert_eq!(app.deadlines().await, vec![]);
}

#[tokio::test]
async fn migrating_a_store_that_already_holds_events_gives_it_their_deadlines() {
    let app = scheduled().await;
    let now = app.clock.now();
    let extended = app
        .open_auction(now + Duration::hours(2), ClosePolicy::default())
        .await;
    app.open_auction(now + Duration::hours(1), ClosePolicy::HardClose)
        .await;
    app.clock
        .set(now + Duration::hours(2) - Duration::seconds(30));
    app.close_due().await;
    app.bid(&extended).await;
    let kept = app.deadlines().await;
    assert_eq!(
        kept.len(),
        1,
        "only the extended auction is still open: {kept:?}"
    );

    // The store as it was before deadlines existed: the same events, no table, no trigger.
    sqlx::raw_sql(
        "DROP TRIGGER events_to_deadlines ON events; DROP TABLE deadlines; \
         DELETE FROM _sqlx_migrations WHERE description = 'deadlines';",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    gavel_store::migrate(&app.pool).await.unwrap();

    assert_eq!(app.deadlines().await, kept);
}
