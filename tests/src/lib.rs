//! Helpers shared by Gavel's end-to-end tests.
//!
//! Every test runs against the real local stack (`infra/stack.sh up`) and isolates itself the way
//! zero2prod does: its own PostgreSQL database, its own Kafka topic prefix and its own MongoDB
//! database, so tests run in parallel without seeing each other's data. Tests that need to stop a
//! service start a private stack of their own ([`PrivateStack`]).

mod private_stack;
pub mod tally;
mod wait;

use std::net::SocketAddr;
use std::sync::Arc;

use gavel_api::AppState;
use gavel_bus::ReadinessProbe;
use gavel_config::Settings;
use gavel_projections::ReadStore;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

pub use private_stack::PrivateStack;
pub use wait::wait_until;

/// Settings pointing at the shared local stack, as `gavel` itself would load them.
pub fn stack_settings() -> Settings {
    Settings::load(None).expect("settings from the environment")
}

/// A name no other test uses, for databases and topic prefixes.
pub fn unique_name(kind: &str) -> String {
    format!("test_{kind}_{}", Uuid::now_v7().simple())
}

/// Settings for one test: a fresh, migrated PostgreSQL database, a fresh MongoDB database and a
/// Kafka topic prefix of its own, on the stack `base` points at.
pub async fn isolated_settings(base: &Settings) -> Settings {
    let mut settings = base.clone();
    settings.postgres_url = create_database(&base.postgres_url).await;
    settings.mongodb_database = unique_name("read");
    settings.kafka_topic_prefix = format!("{}.", unique_name("topics"));
    let pool = gavel_store::connect_lazy(&settings.postgres_url).expect("pool");
    gavel_store::migrate(&pool)
        .await
        .expect("event store migration");
    settings
}

/// Creates an empty database on the server of `server_url` and returns its URL.
pub async fn create_database(server_url: &str) -> String {
    let options: PgConnectOptions = server_url.parse().expect("PostgreSQL URL");
    let name = unique_name("store");
    let mut admin = PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .expect("PostgreSQL must be running: start it with `infra/stack.sh up`");
    sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let mut url = url_without_database(server_url);
    url.push_str(&name);
    url
}

fn url_without_database(url: &str) -> String {
    let (before_query, _) = url.split_once('?').unwrap_or((url, ""));
    let cut = before_query.rfind('/').expect("URL with a database path");
    before_query[..=cut].to_string()
}

/// A pool on `settings`' event-store database.
pub fn postgres_pool(settings: &Settings) -> PgPool {
    gavel_store::connect_lazy(&settings.postgres_url).expect("pool")
}

/// The Gavel API running inside the test process on a random port.
pub struct TestApp {
    /// Where it listens.
    pub address: SocketAddr,
    /// A client for talking to it.
    pub http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    /// Starts the API with `settings` on 127.0.0.1, port 0.
    pub async fn spawn(settings: &Settings) -> Self {
        let state = AppState {
            postgres: postgres_pool(settings),
            kafka: Arc::new(ReadinessProbe::new(&settings.kafka_brokers).expect("kafka client")),
            read_store: ReadStore::connect(&settings.mongodb_url, &settings.mongodb_database)
                .await
                .expect("mongodb client"),
            tokens: gavel_api::auth::TokenKeys::new(&settings.jwt_secret),
            schema: gavel_api::build_schema(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let address = listener.local_addr().expect("local address");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(gavel_api::serve(listener, state, async {
            let _ = rx.await;
        }));
        Self {
            address,
            http: reqwest::Client::new(),
            shutdown: Some(tx),
        }
    }

    /// The absolute URL of `path` on this app.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// Sends a GraphQL query and returns the whole JSON response.
    pub async fn graphql(&self, query: &str, variables: serde_json::Value) -> serde_json::Value {
        self.http
            .post(self.url("/graphql"))
            .json(&serde_json::json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("GraphQL request")
            .json()
            .await
            .expect("GraphQL response is JSON")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Path of the `gavel` binary, built on first use, for tests that run it as a real process.
///
/// The build runs without the `CARGO_*` variables `cargo test` gives a test process, so it shares
/// its artifacts with a plain `cargo build -p gavel` instead of rebuilding dependencies.
pub fn gavel_binary() -> std::path::PathBuf {
    static BINARY: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BINARY
        .get_or_init(|| {
            let test_exe = std::env::current_exe().expect("test executable path");
            let profile_dir = test_exe
                .parent()
                .and_then(|deps| deps.parent())
                .expect("target/<profile>/deps/<test>");
            let mut build = std::process::Command::new(env!("CARGO"));
            build
                .args(["build", "--quiet", "-p", "gavel", "--bin", "gavel"])
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            for (key, _) in std::env::vars_os() {
                let key = key.to_string_lossy();
                if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR" {
                    build.env_remove(key.as_ref());
                }
            }
            let status = build.status().expect("running cargo build -p gavel");
            assert!(status.success(), "cargo build -p gavel failed");
            profile_dir.join("gavel")
        })
        .clone()
}
