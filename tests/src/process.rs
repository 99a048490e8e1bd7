//! Running `gavel` roles as real processes, to kill them mid-stream.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use gavel_config::Settings;

use crate::gavel_binary;

/// A role's process, killed when the test ends however it ends.
pub struct RoleProcess(Child);

impl RoleProcess {
    /// Starts `gavel <role>` on `settings`' database, topics and read models.
    pub fn spawn(role: &str, settings: &Settings) -> Self {
        Self::spawn_from(&gavel_binary(), role, settings)
    }

    /// Starts `<binary> <role>` with every setting of `settings`.
    pub fn spawn_from(binary: &Path, role: &str, settings: &Settings) -> Self {
        let child = Command::new(binary)
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
            .env(
                "GAVEL_PAYMENT_WEBHOOK_SECRET",
                &settings.payment_webhook_secret,
            )
            .env("GAVEL_JWT_SECRET", &settings.jwt_secret)
            .env("GAVEL_API_LISTEN", settings.api_listen.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting gavel {role}: {e}"));
        Self(child)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// The most resident memory the process has used so far (`VmHWM`), in bytes, while it runs.
    pub fn peak_rss_bytes(&self) -> Option<u64> {
        peak_rss_bytes(self.pid())
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

/// The most resident memory process `pid` has used so far (`VmHWM`), in bytes, while it runs.
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
