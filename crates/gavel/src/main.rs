//! `gavel`: the Gavel marketplace backend. Each subcommand is one deployable role; `all` runs
//! every role in one process for local use.

mod roles;
mod telemetry;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use gavel_api::auth::Role;
use gavel_config::Settings;

// With glibc's allocator the API spent about half as much processor time again per request
// (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Gavel: an event-sourced marketplace backend for collectibles.
#[derive(Debug, Parser)]
#[command(name = "gavel", version, about)]
struct Cli {
    /// TOML file with settings; `GAVEL_*` environment variables override it.
    #[arg(long, global = true, env = "GAVEL_CONFIG")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

/// The deployable roles, and the development tools.
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve GraphQL over HTTP, plus /healthz and /readyz.
    Api,
    /// Publish the outbox to Kafka.
    Relay,
    /// Apply Kafka events to the MongoDB read models.
    Project,
    /// Drive purchases: place orders for reserved stock, ship paid ones, release unpaid ones.
    Purchases,
    /// Close auctions when they end, and expire unpaid orders.
    Scheduler,
    /// Replay the whole event store into an empty read-model database.
    Rebuild,
    /// Create or update the event-store tables, the outbox, and the read-model collections.
    Migrate,
    /// Run every role in one process (local use).
    All,
    /// Print a signed bearer token, for local development and tests.
    Token {
        /// The user id the token names; a new one when omitted.
        #[arg(long)]
        user: Option<uuid::Uuid>,
        /// A role to grant (repeatable): buyer, seller, verified_seller, admin.
        #[arg(long = "role", required = true)]
        roles: Vec<Role>,
        /// How long the token stays valid, in hours.
        #[arg(long, default_value_t = 24)]
        hours: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    telemetry::init(settings.log_format);
    match cli.command {
        Command::Api => roles::api(&settings).await,
        Command::Relay => roles::relay(&settings).await,
        Command::Project => roles::project(&settings).await,
        Command::Purchases => roles::purchases(&settings).await,
        Command::Scheduler => roles::scheduler(&settings).await,
        Command::Migrate => roles::migrate(&settings).await,
        Command::Rebuild => roles::rebuild(&settings).await,
        Command::All => roles::all(&settings).await,
        Command::Token { user, roles, hours } => roles::token(
            &settings,
            user,
            &roles,
            std::time::Duration::from_secs(hours * 3600),
        ),
    }
}
