//! Gavel's HTTP surface.
//!
//! One axum router serves the GraphQL API (`/graphql`, with the GraphiQL page on GET), liveness
//! (`/healthz`), readiness (`/readyz`, every backing service checked) and the payment provider's
//! signed webhooks (`/webhooks/payments`). The API is stateless:
//! scale it by running more copies.

pub mod auth;
mod graphql;
mod health;
pub mod payments;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use gavel_bus::ReadinessProbe;
use gavel_commands::CommandBus;
use gavel_domain::clock::Clock;
use gavel_domain::inventory::Inventory;
use gavel_domain::listing::Listing;
use gavel_domain::order::Order;
use gavel_projections::ReadStore;
use gavel_store::projected::ProjectionWatch;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

pub use graphql::{build_schema, GavelSchema, ParsedQueries, UserError, READ_YOUR_WRITES_BOUND};

/// What the handlers share: handles on the three backing services.
#[derive(Clone)]
pub struct AppState {
    /// The event store.
    pub postgres: PgPool,
    /// A probe on the Kafka cluster.
    pub kafka: Arc<ReadinessProbe>,
    /// The read models.
    pub read_store: ReadStore,
    /// Wakes queries waiting to read their own writes when a projector announces it wrote.
    pub projections: ProjectionWatch,
    /// Checks the bearer tokens of incoming requests.
    pub tokens: auth::TokenKeys,
    /// The GraphQL schema, built once.
    pub schema: GavelSchema,
    /// GraphQL documents parsed before, by their text.
    pub parsed_queries: ParsedQueries,
    /// Runs listing commands against the event store.
    pub listings: Arc<CommandBus<Listing>>,
    /// Runs stock commands against the event store.
    pub inventory: Arc<CommandBus<Inventory>>,
    /// Runs order commands against the event store.
    pub orders: Arc<CommandBus<Order>>,
    /// How long a purchase's reserved stock waits for payment.
    pub payment_timeout: chrono::Duration,
    /// Checks the signatures of payment webhooks.
    pub webhooks: payments::WebhookKey,
    /// The clock commands are stamped with.
    pub clock: Arc<dyn Clock>,
}

/// The client's `Idempotency-Key` header, recorded with the events its mutation produces.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub String);

/// Builds the router with every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/graphql", get(graphql::graphiql).post(graphql::handle))
        .route("/webhooks/payments", post(payments::receive))
        .with_state(state)
        .layer(TraceLayer::new_for_http())
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
