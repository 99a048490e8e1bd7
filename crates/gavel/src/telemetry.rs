//! Structured logs: JSON lines or human-readable, filtered by `RUST_LOG` (default `info`).

use gavel_config::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the global log subscriber.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Pretty => builder.init(),
    }
}
