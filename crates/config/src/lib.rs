//! Gavel's settings.
//!
//! Settings are layered, later layers winning: built-in defaults that point at the local stack
//! started by `infra/stack.sh`, then an optional TOML file, then `GAVEL_*` environment variables
//! (`GAVEL_POSTGRES_URL`, `GAVEL_API_LISTEN`, ...). `docs/configuration.md` lists every key.

use std::net::SocketAddr;
use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Everything a Gavel role needs to find its services and serve its clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// PostgreSQL database holding the event store, the outbox and the listing search index.
    pub postgres_url: String,
    /// Kafka bootstrap servers, comma separated.
    pub kafka_brokers: String,
    /// Prefix of every Kafka topic and consumer group name, so several deployments (or tests)
    /// can share one cluster.
    pub kafka_topic_prefix: String,
    /// MongoDB (or FerretDB) connection string for the read models.
    pub mongodb_url: String,
    /// MongoDB database holding the read models.
    pub mongodb_database: String,
    /// Address the HTTP API listens on.
    pub api_listen: SocketAddr,
    /// Log line format.
    pub log_format: LogFormat,
    /// HS256 secret that signs and checks bearer tokens. The default is for local development
    /// only; every real deployment sets its own.
    pub jwt_secret: String,
    /// Secret shared with the payment provider: webhooks are signed with it (HMAC-SHA256). The
    /// default is for local development only.
    pub payment_webhook_secret: String,
    /// How long a purchase's reserved stock waits for payment before the order expires and the
    /// stock is released, in seconds.
    pub payment_timeout_secs: u64,
}

/// The token secret used when none is configured; fine on a laptop, never in production.
pub const DEVELOPMENT_JWT_SECRET: &str = "gavel-local-development-secret";

/// The webhook secret used when none is configured; fine on a laptop, never in production.
pub const DEVELOPMENT_WEBHOOK_SECRET: &str = "gavel-local-webhook-secret";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, for machines.
    Json,
    /// Human-readable lines, for a terminal.
    Pretty,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            postgres_url: "postgres://gavel@127.0.0.1:55432/gavel".into(),
            kafka_brokers: "127.0.0.1:59092".into(),
            kafka_topic_prefix: "gavel.".into(),
            mongodb_url: "mongodb://127.0.0.1:57017/".into(),
            mongodb_database: "gavel".into(),
            api_listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            log_format: LogFormat::Pretty,
            jwt_secret: DEVELOPMENT_JWT_SECRET.into(),
            payment_webhook_secret: DEVELOPMENT_WEBHOOK_SECRET.into(),
            payment_timeout_secs: 15 * 60,
        }
    }
}

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(Box<figment::Error>);

impl Settings {
    /// Loads defaults, then `file` if given (it must exist), then `GAVEL_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError(Box::new(figment::Error::from(format!(
                    "configuration file {} does not exist",
                    file.display()
                )))));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment
            .merge(Env::prefixed("GAVEL_"))
            .extract()
            .map_err(|e| ConfigError(Box::new(e)))
    }
}

#[cfg(test)]
// figment's Jail closures must return figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_point_at_the_local_stack() {
        Jail::expect_with(|_| {
            let settings = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(settings, Settings::default());
            assert_eq!(settings.kafka_brokers, "127.0.0.1:59092");
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "gavel.toml",
                r#"
                    mongodb_database = "from_file"
                    api_listen = "127.0.0.1:9000"
                "#,
            )?;
            jail.set_env("GAVEL_MONGODB_DATABASE", "from_env");
            let settings =
                Settings::load(Some(Path::new("gavel.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(settings.mongodb_database, "from_env");
            assert_eq!(
                settings.api_listen,
                SocketAddr::from(([127, 0, 0, 1], 9000))
            );
            Ok(())
        });
    }

    #[test]
    fn bad_values_and_missing_files_are_clear_errors() {
        Jail::expect_with(|jail| {
            jail.set_env("GAVEL_API_LISTEN", "not an address");
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.to_lowercase().contains("api_listen"), "{err}");
            let err = Settings::load(Some(Path::new("missing.toml")))
                .unwrap_err()
                .to_string();
            assert!(err.contains("missing.toml"), "{err}");
            Ok(())
        });
    }
}
