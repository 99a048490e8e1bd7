//! Running `gavel` roles as real processes, to kill them mid-stream.

use std::process::{Child, Command, Stdio};

use gavel_config::Settings;

use crate::gavel_binary;

/// A role's process, killed when the test ends however it ends.
pub struct RoleProcess(Child);

impl RoleProcess {
    /// Starts `gavel <role>` on `settings`' database, topics and read models.
    pub fn spawn(role: &str, settings: &Settings) -> Self {
        let child = Command::new(gavel_binary())
            .arg(role)
            .env("GAVEL_POSTGRES_URL", &settings.postgres_url)
            .env("GAVEL_KAFKA_BROKERS", &settings.kafka_brokers)
            .env("GAVEL_KAFKA_TOPIC_PREFIX", &settings.kafka_topic_prefix)
            .env("GAVEL_MONGODB_URL", &settings.mongodb_url)
            .env("GAVEL_MONGODB_DATABASE", &settings.mongodb_database)
            .env(
                "GAVEL_PAYMENT_TIMEOUT_SECS",
                settings.payment_timeout_secs.to_string(),
            )
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting gavel {role}: {e}"));
        Self(child)
    }

    /// Kills the process with SIGKILL: no shutdown, no flushing, no goodbye.
    pub fn sigkill(&mut self) {
        self.0.kill().expect("SIGKILL");
        self.0.wait().expect("reaping the killed process");
    }
}

impl Drop for RoleProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
