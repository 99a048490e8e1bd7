//! Helpers shared by Gavel's end-to-end tests.
//!
//! Every test runs against the real local stack (`infra/stack.sh up`) and isolates itself the way
//! zero2prod does: its own PostgreSQL database, its own Kafka topic prefix and its own MongoDB
//! database, so tests run in parallel without seeing each other's data. Tests that need to stop a
//! service start a private stack of their own ([`PrivateStack`]).

pub mod listings;
pub mod payments;
mod private_stack;
mod process;
pub mod tally;
mod wait;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use gavel_api::auth::{Role, TokenKeys};
use gavel_api::payments::WebhookKey;
use gavel_api::AppState;
use gavel_bus::ReadinessProbe;
use gavel_commands::{CommandBus, RetryPolicy};
use gavel_config::Settings;
use gavel_domain::clock::ManualClock;
use gavel_domain::inventory::InventoryServices;
use gavel_domain::listing::ListingServices;
use gavel_domain::order::OrderServices;
use gavel_projections::ReadStore;
use gavel_purchases::PurchaseProcess;
use gavel_store::projected::ProjectionWatch;
use mongodb::bson::{doc, Document};
use rdkafka::consumer::{BaseConsumer, Consumer};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

pub use private_stack::PrivateStack;
pub use process::{peak_rss_bytes, RoleProcess};
pub use wait::wait_until;

/// Waits until consumer group `group` is stable with a member, so that a test's first
/// read-your-writes query is not spent waiting for the group to form.
pub async fn wait_for_consumer_group(settings: &Settings, group: &str) {
    let consumer: BaseConsumer = gavel_bus::client_config(&settings.kafka_brokers)
        .create()
        .expect("kafka admin consumer");
    let consumer = Arc::new(consumer);
    let group = group.to_string();
    wait_until(
        &format!("consumer group {group} to be stable"),
        Duration::from_secs(60),
        || {
            let consumer = consumer.clone();
            let group = group.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    let list = consumer
                        .fetch_group_list(Some(&group), Duration::from_secs(5))
                        .ok()?;
                    let stable = list
                        .groups()
                        .iter()
                        .any(|g| g.state() == "Stable" && !g.members().is_empty());
                    stable.then_some(())
                })
                .await
                .expect("group probe")
            }
        },
    )
    .await;
}

/// Settings pointing at the shared local stack, as `gavel` itself would load them.
pub fn stack_settings() -> Settings {
    Settings::load(None).expect("settings from the environment")
}

/// A name no other test uses, for databases and topic prefixes.
pub fn unique_name(kind: &str) -> String {
    owned_name("test", kind)
}

/// A name nobody else uses, starting with `owner` (`test`, `bench`), so that whoever made it can
/// find what it left behind.
pub fn owned_name(owner: &str, kind: &str) -> String {
    format!("{owner}_{kind}_{}", Uuid::now_v7().simple())
}

/// Settings for one test: a fresh, migrated PostgreSQL database, a fresh MongoDB database and a
/// Kafka topic prefix of its own, on the stack `base` points at.
pub async fn isolated_settings(base: &Settings) -> Settings {
    isolated_settings_for("test", base).await
}

/// [`isolated_settings`] with names that start with `owner`.
pub async fn isolated_settings_for(owner: &str, base: &Settings) -> Settings {
    let mut settings = base.clone();
    settings.postgres_url = create_database(&base.postgres_url, &owned_name(owner, "store")).await;
    settings.mongodb_database = owned_name(owner, "read");
    settings.kafka_topic_prefix = format!("{}.", owned_name(owner, "topics"));
    let pool = gavel_store::connect_lazy(&settings.postgres_url).expect("pool");
    gavel_store::migrate(&pool)
        .await
        .expect("event store migration");
    settings
}

/// Creates the empty database `name` on the server of `server_url` and returns its URL.
pub async fn create_database(server_url: &str, name: &str) -> String {
    let options: PgConnectOptions = server_url.parse().expect("PostgreSQL URL");
    let mut admin = PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .expect("PostgreSQL must be running: start it with `infra/stack.sh up`");
    sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let mut url = url_without_database(server_url);
    url.push_str(name);
    url
}

fn url_without_database(url: &str) -> String {
    let (before_query, _) = url.split_once('?').unwrap_or((url, ""));
    let cut = before_query.rfind('/').expect("URL with a database path");
    before_query[..=cut].to_string()
}

/// Every document of `collection` in `store`, in `_id` order, for comparing read models.
pub async fn all_documents(store: &ReadStore, collection: &str) -> Vec<Document> {
    store
        .database()
        .collection::<Document>(collection)
        .find(doc! {})
        .sort(doc! { "_id": 1 })
        .await
        .expect("read-model query")
        .try_collect()
        .await
        .expect("read-model documents")
}

/// Asserts that the listing read models of `store` and `replay` hold the same documents and
/// search rows; `replayed` says how `replay` was built, for the failure message.
pub async fn assert_listing_read_models_equal(
    store: &ReadStore,
    replay: &ReadStore,
    replayed: &str,
) {
    for collection in ["listings", "bid_history", "price_history"] {
        assert_eq!(
            all_documents(store, collection).await,
            all_documents(replay, collection).await,
            "{collection} differs from {replayed}"
        );
    }
    let search_rows = store.search().rows().await.expect("search rows");
    assert_eq!(
        search_rows.len() as u64,
        store
            .database()
            .collection::<Document>("listings")
            .count_documents(doc! {})
            .await
            .expect("listing count"),
        "every listing has a search row"
    );
    assert_eq!(
        search_rows,
        replay.search().rows().await.expect("search rows"),
        "the search index differs from {replayed}"
    );
}

/// The read models in MongoDB database `database` on `settings`' stack, with their search index
/// in `settings`' event-store database (which must be migrated to write it).
pub async fn read_store(settings: &Settings, database: &str) -> ReadStore {
    ReadStore::connect(&settings.mongodb_url, database, postgres_pool(settings))
        .await
        .expect("read store client")
}

/// A pool on `settings`' event-store database.
pub fn postgres_pool(settings: &Settings) -> PgPool {
    gavel_store::connect_lazy(&settings.postgres_url).expect("pool")
}

/// Gavel running inside the test process: the API on a random port, plus the relay, the
/// projector and the scheduler, all on the test's own database, topics and read models, with a
/// clock the test moves.
pub struct TestApp {
    /// Where the API listens.
    pub address: SocketAddr,
    /// A client for talking to it.
    pub http: reqwest::Client,
    /// The clock every command and the scheduler read.
    pub clock: Arc<ManualClock>,
    /// The settings it runs with.
    pub settings: Settings,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
}

/// Which background roles a [`TestApp`] runs next to the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roles {
    /// The API alone.
    ApiOnly,
    /// The API, relay, projector, scheduler and purchase process.
    All,
    /// Everything but the purchase process, for tests that run it as a real process.
    AllButPurchases,
}

impl TestApp {
    /// Starts the API alone (no relay, projector or scheduler) with `settings`.
    pub async fn spawn(settings: &Settings) -> Self {
        Self::start(settings, Roles::ApiOnly).await
    }

    /// Starts the API with the relay, the projector and the scheduler.
    pub async fn spawn_pipeline(settings: &Settings) -> Self {
        Self::start(settings, Roles::All).await
    }

    /// Starts the API with `roles` beside it.
    pub async fn start(settings: &Settings, roles: Roles) -> Self {
        let pipeline = roles != Roles::ApiOnly;
        let pool = postgres_pool(settings);
        let read_store = read_store(settings, &settings.mongodb_database).await;
        read_store.migrate().await.expect("read-model collections");
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let listings = Arc::new(CommandBus::new(
            pool.clone(),
            ListingServices {
                clock: clock.clone(),
            },
            1_000,
            RetryPolicy::default(),
        ));
        let inventory = Arc::new(CommandBus::new(
            pool.clone(),
            InventoryServices {
                clock: clock.clone(),
            },
            1_000,
            RetryPolicy::default(),
        ));
        let orders = Arc::new(CommandBus::new(
            pool.clone(),
            OrderServices {
                clock: clock.clone(),
            },
            1_000,
            RetryPolicy::default(),
        ));
        let payment_timeout = chrono::Duration::seconds(settings.payment_timeout_secs as i64);
        let state = AppState {
            postgres: pool.clone(),
            kafka: Arc::new(ReadinessProbe::new(&settings.kafka_brokers).expect("kafka client")),
            read_store: read_store.clone(),
            projections: ProjectionWatch::start(pool.clone(), settings.mongodb_database.clone()),
            tokens: TokenKeys::new(&settings.jwt_secret),
            schema: gavel_api::build_schema(),
            parsed_queries: gavel_api::ParsedQueries::default(),
            listings: listings.clone(),
            inventory: inventory.clone(),
            orders: orders.clone(),
            payment_timeout,
            webhooks: WebhookKey::new(&settings.payment_webhook_secret),
            clock: clock.clone(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let address = listener.local_addr().expect("local address");
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let when_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        };
        tokio::spawn(gavel_api::serve(listener, state, when_stopped()));
        if pipeline {
            let relay = gavel_relay::Relay::new(
                &settings.postgres_url,
                pool.clone(),
                &settings.kafka_brokers,
                &settings.kafka_topic_prefix,
            )
            .expect("relay");
            tokio::spawn(relay.run(when_stopped()));
            tokio::spawn({
                let brokers = settings.kafka_brokers.clone();
                let prefix = settings.kafka_topic_prefix.clone();
                let read_store = read_store.clone();
                let event_store = pool.clone();
                let stopped = when_stopped();
                async move {
                    gavel_projector::run(&brokers, &prefix, read_store, event_store, stopped)
                        .await
                        .expect("projector");
                }
            });
            if roles == Roles::All {
                let process = PurchaseProcess {
                    inventory,
                    orders: orders.clone(),
                    payment_timeout,
                    clock: clock.clone(),
                };
                let brokers = settings.kafka_brokers.clone();
                let prefix = settings.kafka_topic_prefix.clone();
                let stopped = when_stopped();
                tokio::spawn(async move {
                    gavel_purchases::run(process, &brokers, &prefix, stopped)
                        .await
                        .expect("purchase process");
                });
            }
            tokio::spawn(gavel_scheduler::run(
                listings,
                orders,
                pool.clone(),
                clock.clone(),
                when_stopped(),
            ));
            let prefix = &settings.kafka_topic_prefix;
            wait_for_consumer_group(settings, &gavel_projector::group_id(prefix)).await;
            if roles == Roles::All {
                wait_for_consumer_group(settings, &gavel_purchases::group_id(prefix)).await;
            }
        }
        Self {
            address,
            http: reqwest::Client::new(),
            clock,
            settings: settings.clone(),
            shutdown: Some(stop),
        }
    }

    /// The absolute URL of `path` on this app.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// Sends a GraphQL request anonymously and returns the whole JSON response.
    pub async fn graphql(&self, query: &str, variables: serde_json::Value) -> serde_json::Value {
        self.graphql_as(None, query, variables).await
    }

    /// Sends a GraphQL request with `token` (if any) and returns the whole JSON response.
    pub async fn graphql_as(
        &self,
        token: Option<&str>,
        query: &str,
        variables: serde_json::Value,
    ) -> serde_json::Value {
        let mut request = self
            .http
            .post(self.url("/graphql"))
            .json(&serde_json::json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
            .send()
            .await
            .expect("GraphQL request")
            .json()
            .await
            .expect("GraphQL response is JSON")
    }

    /// What the app's clock says now.
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        gavel_domain::clock::Clock::now(self.clock.as_ref())
    }

    /// A token for a new user with `roles`, signed with this app's secret.
    pub fn user(&self, roles: &[Role]) -> TestUser {
        let id = Uuid::now_v7();
        let token = TokenKeys::new(&self.settings.jwt_secret)
            .issue(id, roles, std::time::Duration::from_secs(3600))
            .expect("token");
        TestUser { id, token }
    }
}

/// A signed-in user of a [`TestApp`].
pub struct TestUser {
    /// The user's id.
    pub id: Uuid,
    /// Their bearer token.
    pub token: String,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(true);
        }
    }
}

/// Path of the `gavel` binary, built on first use, for tests that run it as a real process.
pub fn gavel_binary() -> std::path::PathBuf {
    workspace_binaries().join("gavel")
}

/// Path of the `gavel-bench` binary, built on first use (with `gavel`, which it runs).
pub fn bench_binary() -> std::path::PathBuf {
    workspace_binaries().join("gavel-bench")
}

/// The folder holding the workspace's binaries, built on first use.
fn workspace_binaries() -> std::path::PathBuf {
    static PROFILE_DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    PROFILE_DIR.get_or_init(build_workspace_binaries).clone()
}

/// Builds every binary of the workspace and returns the folder that holds them.
///
/// The build selects the whole workspace, as `make test` does, and runs without the `CARGO_*`
/// variables `cargo test` gives a test process, so it shares its artifacts with the normal build
/// instead of resolving features its own way and rebuilding dependencies.
fn build_workspace_binaries() -> std::path::PathBuf {
    let test_exe = std::env::current_exe().expect("test executable path");
    let profile_dir = test_exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>")
        .to_path_buf();
    let mut build = std::process::Command::new(env!("CARGO"));
    build
        .args(["build", "--quiet", "--workspace", "--bins"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR" {
            build.env_remove(key.as_ref());
        }
    }
    let status = build
        .status()
        .unwrap_or_else(|e| panic!("running cargo build --workspace --bins: {e}"));
    assert!(status.success(), "cargo build --workspace --bins failed");
    profile_dir
}
