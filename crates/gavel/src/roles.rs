//! What each role does when it runs.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use gavel_api::auth::{Role, TokenKeys};
use gavel_api::payments::WebhookKey;
use gavel_api::AppState;
use gavel_bus::ReadinessProbe;
use gavel_commands::{CommandBus, RetryPolicy};
use gavel_config::Settings;
use gavel_domain::clock::{Clock, SystemClock};
use gavel_domain::inventory::{Inventory, InventoryServices};
use gavel_domain::listing::{Listing, ListingServices};
use gavel_domain::order::{Order, OrderServices};
use gavel_projections::ReadStore;
use gavel_purchases::PurchaseProcess;
use gavel_relay::Relay;
use gavel_store::projected::ProjectionWatch;
use sqlx::PgPool;
use tokio::sync::watch;

/// How many aggregates of each type each process keeps in its command cache.
const COMMAND_CACHE: u64 = 10_000;

/// The connections and shared parts a role needs, made once per process.
struct Parts {
    pool: PgPool,
    read_store: ReadStore,
    clock: Arc<dyn Clock>,
    listings: Arc<CommandBus<Listing>>,
    inventory: Arc<CommandBus<Inventory>>,
    orders: Arc<CommandBus<Order>>,
}

impl Parts {
    async fn new(settings: &Settings) -> anyhow::Result<Self> {
        let pool = gavel_store::connect_lazy(&settings.postgres_url)?;
        let read_store = ReadStore::connect(
            &settings.mongodb_url,
            &settings.mongodb_database,
            pool.clone(),
        )
        .await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let listings = Arc::new(CommandBus::new(
            pool.clone(),
            ListingServices {
                clock: clock.clone(),
            },
            COMMAND_CACHE,
            RetryPolicy::default(),
        ));
        let inventory = Arc::new(CommandBus::new(
            pool.clone(),
            InventoryServices {
                clock: clock.clone(),
            },
            COMMAND_CACHE,
            RetryPolicy::default(),
        ));
        let orders = Arc::new(CommandBus::new(
            pool.clone(),
            OrderServices {
                clock: clock.clone(),
            },
            COMMAND_CACHE,
            RetryPolicy::default(),
        ));
        Ok(Self {
            pool,
            read_store,
            clock,
            listings,
            inventory,
            orders,
        })
    }
}

/// `gavel migrate`: applies the event-store schema and creates the read-model collections.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let pool = gavel_store::connect_lazy(&settings.postgres_url)?;
    gavel_store::migrate(&pool)
        .await
        .context("migrating the event store")?;
    tracing::info!("event store schema is up to date");
    let read_store =
        ReadStore::connect(&settings.mongodb_url, &settings.mongodb_database, pool).await?;
    read_store
        .migrate()
        .await
        .context("creating read-model collections")?;
    tracing::info!(database = %settings.mongodb_database, "read-model collections and indexes are up to date");
    Ok(())
}

/// `gavel rebuild`: replays the whole event store into the (empty) configured read-model database.
pub async fn rebuild(settings: &Settings) -> anyhow::Result<()> {
    let pool = gavel_store::connect_lazy(&settings.postgres_url)?;
    let read_store = ReadStore::connect(
        &settings.mongodb_url,
        &settings.mongodb_database,
        pool.clone(),
    )
    .await?;
    let rebuilt = gavel_projector::rebuild(&pool, &read_store)
        .await
        .context("rebuilding the read models")?;
    println!(
        "replayed {} events into {} in {:.1} s ({:.0} events/s)",
        rebuilt.events,
        settings.mongodb_database,
        rebuilt.elapsed.as_secs_f64(),
        rebuilt.events_per_second()
    );
    Ok(())
}

/// `gavel api`: serves HTTP until Ctrl-C or SIGTERM.
pub async fn api(settings: &Settings) -> anyhow::Result<()> {
    let parts = Parts::new(settings).await?;
    serve_api(settings, &parts, shutdown_signal()).await
}

async fn serve_api(
    settings: &Settings,
    parts: &Parts,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = AppState {
        postgres: parts.pool.clone(),
        kafka: Arc::new(ReadinessProbe::new(&settings.kafka_brokers)?),
        read_store: parts.read_store.clone(),
        projections: ProjectionWatch::start(parts.pool.clone(), settings.mongodb_database.clone()),
        tokens: TokenKeys::new(&settings.jwt_secret),
        schema: gavel_api::build_schema(),
        parsed_queries: gavel_api::ParsedQueries::default(),
        listings: parts.listings.clone(),
        inventory: parts.inventory.clone(),
        orders: parts.orders.clone(),
        payment_timeout: payment_timeout(settings),
        webhooks: WebhookKey::new(&settings.payment_webhook_secret),
        clock: parts.clock.clone(),
    };
    let listener = tokio::net::TcpListener::bind(settings.api_listen)
        .await
        .with_context(|| format!("binding {}", settings.api_listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "api listening");
    println!("GraphQL (GraphiQL in a browser): http://{addr}/graphql");
    gavel_api::serve(listener, state, shutdown).await?;
    Ok(())
}

/// `gavel relay`: publishes the outbox to Kafka until Ctrl-C or SIGTERM.
pub async fn relay(settings: &Settings) -> anyhow::Result<()> {
    let parts = Parts::new(settings).await?;
    run_relay(settings, &parts, shutdown_signal()).await
}

async fn run_relay(
    settings: &Settings,
    parts: &Parts,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    Relay::new(
        &settings.postgres_url,
        parts.pool.clone(),
        &settings.kafka_brokers,
        &settings.kafka_topic_prefix,
    )?
    .run(shutdown)
    .await;
    Ok(())
}

/// `gavel project`: keeps the read models up to date until Ctrl-C or SIGTERM.
pub async fn project(settings: &Settings) -> anyhow::Result<()> {
    let parts = Parts::new(settings).await?;
    run_projector(settings, &parts, shutdown_signal()).await
}

async fn run_projector(
    settings: &Settings,
    parts: &Parts,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    gavel_projector::run(
        &settings.kafka_brokers,
        &settings.kafka_topic_prefix,
        parts.read_store.clone(),
        parts.pool.clone(),
        shutdown,
    )
    .await?;
    Ok(())
}

fn payment_timeout(settings: &Settings) -> chrono::Duration {
    chrono::Duration::seconds(settings.payment_timeout_secs.min(i64::MAX as u64) as i64)
}

/// `gavel purchases`: drives purchases from reserved stock to shipped sales, until Ctrl-C or
/// SIGTERM.
pub async fn purchases(settings: &Settings) -> anyhow::Result<()> {
    let parts = Parts::new(settings).await?;
    run_purchases(settings, &parts, shutdown_signal()).await
}

async fn run_purchases(
    settings: &Settings,
    parts: &Parts,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let process = PurchaseProcess {
        inventory: parts.inventory.clone(),
        orders: parts.orders.clone(),
        payment_timeout: payment_timeout(settings),
        clock: parts.clock.clone(),
    };
    gavel_purchases::run(
        process,
        &settings.kafka_brokers,
        &settings.kafka_topic_prefix,
        shutdown,
    )
    .await?;
    Ok(())
}

/// `gavel scheduler`: closes auctions and expires unpaid orders when their time is up, until
/// Ctrl-C or SIGTERM.
pub async fn scheduler(settings: &Settings) -> anyhow::Result<()> {
    let parts = Parts::new(settings).await?;
    gavel_scheduler::run(
        parts.listings.clone(),
        parts.orders.clone(),
        parts.pool.clone(),
        parts.clock.clone(),
        shutdown_signal(),
    )
    .await;
    Ok(())
}

/// `gavel all`: every role in one process, sharing one command cache.
pub async fn all(settings: &Settings) -> anyhow::Result<()> {
    let parts = Parts::new(settings).await?;
    let (stop, stopped) = watch::channel(false);
    let signal = async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    };
    let when_stopped = || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    };
    let (_, api, relay, projector, purchases, ()) = tokio::join!(
        signal,
        serve_api(settings, &parts, when_stopped()),
        run_relay(settings, &parts, when_stopped()),
        run_projector(settings, &parts, when_stopped()),
        run_purchases(settings, &parts, when_stopped()),
        gavel_scheduler::run(
            parts.listings.clone(),
            parts.orders.clone(),
            parts.pool.clone(),
            parts.clock.clone(),
            when_stopped(),
        ),
    );
    api.and(relay).and(projector).and(purchases)
}

/// `gavel token`: prints a bearer token for local development and tests.
pub fn token(
    settings: &Settings,
    user: Option<uuid::Uuid>,
    roles: &[Role],
    valid_for: std::time::Duration,
) -> anyhow::Result<()> {
    if settings.jwt_secret != gavel_config::DEVELOPMENT_JWT_SECRET {
        tracing::warn!("signing with the configured secret: this token works on that deployment");
    }
    let user = user.unwrap_or_else(uuid::Uuid::now_v7);
    let token = TokenKeys::new(&settings.jwt_secret).issue(user, roles, valid_for)?;
    println!("{token}");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
