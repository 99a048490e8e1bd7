//! A stack of the test's own, for tests that stop and restart services.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use gavel_config::Settings;

/// PostgreSQL, Kafka and FerretDB started by `infra/stack.sh` on free ports with data in a
/// temporary folder, so stopping one of them disturbs no other test. Stopped when dropped.
pub struct PrivateStack {
    home: tempfile::TempDir,
    ports: [(&'static str, u16); 4],
}

impl PrivateStack {
    /// Starts every component and waits until each is ready.
    pub fn up() -> Self {
        let ports = [
            ("GAVEL_PG_PORT", free_port()),
            ("GAVEL_KAFKA_PORT", free_port()),
            ("GAVEL_KAFKA_CONTROLLER_PORT", free_port()),
            ("GAVEL_FERRETDB_PORT", free_port()),
        ];
        let stack = Self {
            home: tempfile::Builder::new()
                .prefix("gavel-stack-")
                .tempdir()
                .expect("temporary folder"),
            ports,
        };
        stack.run(&["up"]);
        stack
    }

    /// Settings pointing at this stack.
    pub fn settings(&self) -> Settings {
        let output = self.run(&["env"]);
        let mut settings = Settings::default();
        for line in output.lines() {
            match line.split_once('=') {
                Some(("GAVEL_POSTGRES_URL", v)) => settings.postgres_url = v.into(),
                Some(("GAVEL_KAFKA_BROKERS", v)) => settings.kafka_brokers = v.into(),
                Some(("GAVEL_MONGODB_URL", v)) => settings.mongodb_url = v.into(),
                _ => {}
            }
        }
        settings
    }

    /// Stops one component: `postgres`, `kafka` or `ferretdb`.
    pub fn stop(&self, component: &str) {
        self.run(&["stop", component]);
    }

    /// Starts one component again and waits until it is ready.
    pub fn start(&self, component: &str) {
        self.run(&["start", component]);
    }

    fn run(&self, args: &[&str]) -> String {
        let output = Command::new(stack_script())
            .args(args)
            .env("GAVEL_STACK_HOME", self.home.path())
            .envs(self.ports.iter().map(|(k, v)| (*k, v.to_string())))
            .output()
            .expect("running infra/stack.sh");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "infra/stack.sh {} failed:\n{stdout}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }
}

impl Drop for PrivateStack {
    fn drop(&mut self) {
        let _ = Command::new(stack_script())
            .arg("down")
            .env("GAVEL_STACK_HOME", self.home.path())
            .envs(self.ports.iter().map(|(k, v)| (*k, v.to_string())))
            .output();
    }
}

fn stack_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/stack.sh")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
