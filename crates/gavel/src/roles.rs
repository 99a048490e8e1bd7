//! What each role does when it runs.

use std::sync::Arc;

use anyhow::Context;
use gavel_api::auth::{Role, TokenKeys};
use gavel_api::AppState;
use gavel_bus::ReadinessProbe;
use gavel_config::Settings;
use gavel_projections::ReadStore;

/// `gavel migrate`: applies the event-store schema and creates the read-model collections.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let pool = gavel_store::connect_lazy(&settings.postgres_url)?;
    gavel_store::migrate(&pool)
        .await
        .context("migrating the event store")?;
    tracing::info!("event store schema is up to date");
    let read_store = ReadStore::connect(&settings.mongodb_url, &settings.mongodb_database).await?;
    read_store
        .migrate()
        .await
        .context("creating read-model collections")?;
    tracing::info!(database = %settings.mongodb_database, "read-model collections and indexes are up to date");
    Ok(())
}

/// `gavel api`: serves HTTP until Ctrl-C or SIGTERM.
pub async fn api(settings: &Settings) -> anyhow::Result<()> {
    let state = AppState {
        postgres: gavel_store::connect_lazy(&settings.postgres_url)?,
        kafka: Arc::new(ReadinessProbe::new(&settings.kafka_brokers)?),
        read_store: ReadStore::connect(&settings.mongodb_url, &settings.mongodb_database).await?,
        tokens: TokenKeys::new(&settings.jwt_secret),
        schema: gavel_api::build_schema(),
    };
    let listener = tokio::net::TcpListener::bind(settings.api_listen)
        .await
        .with_context(|| format!("binding {}", settings.api_listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "api listening");
    println!("GraphQL (GraphiQL in a browser): http://{addr}/graphql");
    gavel_api::serve(listener, state, shutdown_signal()).await?;
    Ok(())
}

/// A role that has nothing to do in this version says so and returns.
pub fn idle(role: &str) -> anyhow::Result<()> {
    tracing::info!(
        role,
        "nothing to do yet: no aggregate publishes events in this version"
    );
    Ok(())
}

/// `gavel all`: every role in one process.
pub async fn all(settings: &Settings) -> anyhow::Result<()> {
    for role in ["relay", "project", "scheduler"] {
        idle(role)?;
    }
    api(settings).await
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
