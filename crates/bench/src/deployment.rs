//! Gavel under test: its roles as real processes on a database, topics and read models of their
//! own, and a GraphQL client to talk to it.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use gavel_api::auth::{Role, TokenKeys};
use gavel_config::Settings;
use gavel_tests::{isolated_settings_for, wait_for_consumer_group, wait_until, RoleProcess};
use serde_json::{json, Value};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

/// What the names of the benchmark's databases and topics start with.
pub const BENCH: &str = "bench";

/// The `gavel` binary next to this one (same build profile).
pub fn gavel_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let binary = me.with_file_name("gavel");
    if !binary.is_file() {
        bail!(
            "{} not found: build it first (cargo build --release -p gavel)",
            binary.display()
        );
    }
    Ok(binary)
}

fn free_port() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// A running Gavel: the role processes and where its API answers.
pub struct Deployment {
    /// The settings every role runs with.
    pub settings: Settings,
    roles: Vec<(String, RoleProcess)>,
    client: Client,
}

impl Deployment {
    /// Starts `roles` (e.g. `api`, `relay`) on fresh isolated settings and waits until the API is
    /// ready and the consumer groups have formed.
    pub async fn start(binary: &Path, base: &Settings, roles: &[&str]) -> anyhow::Result<Self> {
        let mut settings = isolated_settings_for(BENCH, base).await;
        settings.api_listen = free_port()?;
        let migrate = std::process::Command::new(binary)
            .arg("migrate")
            .env("GAVEL_POSTGRES_URL", &settings.postgres_url)
            .env("GAVEL_MONGODB_URL", &settings.mongodb_url)
            .env("GAVEL_MONGODB_DATABASE", &settings.mongodb_database)
            .env("RUST_LOG", "warn")
            .status()
            .context("running gavel migrate")?;
        if !migrate.success() {
            bail!("gavel migrate failed");
        }
        let processes = roles
            .iter()
            .map(|role| {
                (
                    role.to_string(),
                    RoleProcess::spawn_from(binary, role, &settings),
                )
            })
            .collect();
        let client = Client::new(&settings);
        let deployment = Self {
            settings,
            roles: processes,
            client,
        };
        if roles.contains(&"api") {
            let url = format!("http://{}/readyz", deployment.settings.api_listen);
            let http = reqwest::Client::new();
            wait_until("the API to be ready", Duration::from_secs(60), || async {
                let response = http.get(&url).send().await.ok()?;
                response.status().is_success().then_some(())
            })
            .await;
        }
        let prefix = &deployment.settings.kafka_topic_prefix;
        if roles.contains(&"project") {
            wait_for_consumer_group(&deployment.settings, &format!("{prefix}projector")).await;
        }
        if roles.contains(&"purchases") {
            wait_for_consumer_group(&deployment.settings, &format!("{prefix}purchases")).await;
        }
        Ok(deployment)
    }

    /// Waits until the listing read model has applied every stored listing event (the projector
    /// has drained its backlog); returns how long that took and how many events it applied then.
    pub async fn drain(&self, timeout: Duration) -> anyhow::Result<(Duration, i64)> {
        let pool = gavel_tests::postgres_pool(&self.settings);
        let store = gavel_projections::ReadStore::connect(
            &self.settings.mongodb_url,
            &self.settings.mongodb_database,
            pool.clone(),
        )
        .await?;
        let listings = store
            .database()
            .collection::<mongodb::bson::Document>("listings");
        let started = std::time::Instant::now();
        let mut first_applied = None;
        loop {
            let stored: i64 =
                sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_type = 'Listing'")
                    .fetch_one(&pool)
                    .await?;
            let mut applied = 0;
            let mut cursor = listings
                .find(mongodb::bson::doc! {})
                .projection(mongodb::bson::doc! { "version": 1 })
                .await?;
            while cursor.advance().await? {
                applied += cursor.current().get_i64("version").unwrap_or(0);
            }
            let first = *first_applied.get_or_insert(applied);
            if applied >= stored {
                return Ok((started.elapsed(), applied - first));
            }
            if started.elapsed() > timeout {
                bail!("the projector did not catch up within {timeout:?} ({applied} of {stored} events)");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// A client of this deployment's API.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Stops the roles and drops the deployment's event store and read models.
    pub async fn remove(self) -> anyhow::Result<()> {
        let Self {
            settings, roles, ..
        } = self;
        drop(roles);
        drop_data(&settings, &[&settings.mongodb_database]).await
    }

    /// The peak resident memory of each role so far, in MiB.
    pub fn peak_rss_mib(&self) -> Vec<(String, f64)> {
        self.roles
            .iter()
            .map(|(role, process)| {
                let bytes = process.peak_rss_bytes().unwrap_or(0);
                (role.clone(), bytes as f64 / (1024.0 * 1024.0))
            })
            .collect()
    }
}

/// Drops the event-store database of `settings` and the read-model databases `read_databases`
/// on its stack. A benchmark's data is measured once, and at the full suite's sizes it is
/// gigabytes: left behind, a few runs fill a development machine's disk.
pub async fn drop_data(settings: &Settings, read_databases: &[&str]) -> anyhow::Result<()> {
    let options: PgConnectOptions = settings.postgres_url.parse()?;
    let database = options
        .get_database()
        .context("the PostgreSQL URL names no database")?
        .to_string();
    let mut admin = PgConnection::connect_with(&options.database("postgres")).await?;
    sqlx::query(&format!(
        r#"DROP DATABASE IF EXISTS "{database}" WITH (FORCE)"#
    ))
    .execute(&mut admin)
    .await?;
    let client = mongodb::Client::with_uri_str(&settings.mongodb_url).await?;
    for name in read_databases {
        client.database(name).drop().await?;
    }
    Ok(())
}

/// What a mutation came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted; the aggregate's new version.
    Accepted(i64),
    /// Refused for a business reason (the user error code).
    Rejected(String),
    /// A top-level error or a transport failure (contention, outage): never expected.
    Failed(String),
}

/// A GraphQL client with a connection pool.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    keys: TokenKeys,
}

impl Client {
    fn new(settings: &Settings) -> Self {
        Self {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()
                .expect("HTTP client"),
            url: format!("http://{}/graphql", settings.api_listen),
            keys: TokenKeys::new(&settings.jwt_secret),
        }
    }

    /// A token for a new user with `roles`.
    pub fn token(&self, roles: &[Role]) -> String {
        self.keys
            .issue(Uuid::now_v7(), roles, Duration::from_secs(6 * 3600))
            .expect("token")
    }

    /// Sends a GraphQL request; the JSON response, or why there is none.
    pub async fn graphql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Result<Value, String> {
        let mut request = self
            .http
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        response.json().await.map_err(|e| e.to_string())
    }

    /// Runs mutation `field` and classifies what came back.
    pub async fn mutate(&self, token: &str, field: &str, query: &str, variables: Value) -> Outcome {
        match self.graphql(Some(token), query, variables).await {
            Err(error) => Outcome::Failed(error),
            Ok(response) => {
                if let Some(errors) = response.get("errors") {
                    return Outcome::Failed(errors.to_string());
                }
                let payload = &response["data"][field];
                match payload["version"].as_i64() {
                    Some(version) => Outcome::Accepted(version),
                    None => Outcome::Rejected(
                        payload["userErrors"][0]["code"]
                            .as_str()
                            .unwrap_or("UNKNOWN")
                            .to_string(),
                    ),
                }
            }
        }
    }

    /// Creates an auction ending in 30 days as the seller with `token`; its id.
    pub async fn create_auction(&self, token: &str) -> anyhow::Result<String> {
        let ends = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
        let response = self
            .graphql(
                Some(token),
                r#"mutation($ends: String!) { createListing(input: {
                    title: "Rolex Submariner 124060", brand: "Rolex", model: "Submariner",
                    reference: "124060", condition: VERY_GOOD,
                    auction: { startPrice: { amount: "100.00", currency: "USD" }, endsAt: $ends,
                               closePolicy: HARD_CLOSE } }) { listingId userErrors { code message } } }"#,
                json!({ "ends": ends }),
            )
            .await
            .map_err(anyhow::Error::msg)?;
        response["data"]["createListing"]["listingId"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("createListing failed: {response}"))
    }

    /// Places a bid with maximum `minor` cents on `listing`.
    pub async fn bid(&self, token: &str, listing: &str, minor: i64) -> Outcome {
        let amount = format!("{}.{:02}", minor / 100, minor % 100);
        self.mutate(
            token,
            "placeBid",
            r#"mutation($id: ID!, $amount: String!) { placeBid(input: { listingId: $id,
                amount: { amount: $amount, currency: "USD" } }) { version userErrors { code } } }"#,
            json!({ "id": listing, "amount": amount }),
        )
        .await
    }
}
