//! `gavel`: the Gavel marketplace backend. Each subcommand is one deployable role; `all` runs
//! every role in one process for local use.

mod roles;
mod telemetry;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use gavel_config::Settings;

/// Gavel: an event-sourced marketplace backend for collectibles.
#[derive(Debug, Parser)]
#[command(name = "gavel", version, about)]
struct Cli {
    /// TOML file with settings; `GAVEL_*` environment variables override it.
    #[arg(long, global = true, env = "GAVEL_CONFIG")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    role: Role,
}

/// The deployable roles.
#[derive(Debug, Subcommand)]
enum Role {
    /// Serve GraphQL over HTTP, plus /healthz and /readyz.
    Api,
    /// Publish the outbox to Kafka.
    Relay,
    /// Apply Kafka events to the MongoDB read models.
    Project,
    /// Close auctions when they end.
    Scheduler,
    /// Create or update the event-store tables, the outbox, and the read-model collections.
    Migrate,
    /// Run every role in one process (local use).
    All,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    telemetry::init(settings.log_format);
    match cli.role {
        Role::Api => roles::api(&settings).await,
        Role::Relay => roles::idle("relay"),
        Role::Project => roles::idle("project"),
        Role::Scheduler => roles::idle("scheduler"),
        Role::Migrate => roles::migrate(&settings).await,
        Role::All => roles::all(&settings).await,
    }
}
