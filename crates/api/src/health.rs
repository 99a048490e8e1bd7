//! Liveness and readiness.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use crate::AppState;

/// How long one component may take to answer before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// `/healthz`: the process is alive and serving HTTP. Says nothing about its dependencies.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// The `/readyz` body.
#[derive(Debug, Serialize)]
pub struct Readiness {
    /// `ready` when every component answered, `unavailable` otherwise.
    status: &'static str,
    /// One entry per backing service.
    components: BTreeMap<&'static str, ComponentStatus>,
}

/// One backing service's state.
#[derive(Debug, Serialize)]
pub struct ComponentStatus {
    /// `up` or `down`.
    status: &'static str,
    /// Why it is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl<E: std::fmt::Display> From<Result<Result<(), E>, tokio::time::error::Elapsed>>
    for ComponentStatus
{
    fn from(result: Result<Result<(), E>, tokio::time::error::Elapsed>) -> Self {
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer within {}s", CHECK_TIMEOUT.as_secs())),
        };
        Self {
            status: if error.is_none() { "up" } else { "down" },
            error,
        }
    }
}

/// `/readyz`: 200 when PostgreSQL, Kafka and MongoDB all answer, 503 naming the ones that don't.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let (postgres, kafka, mongodb) = tokio::join!(
        tokio::time::timeout(CHECK_TIMEOUT, gavel_store::ping(&state.postgres)),
        tokio::time::timeout(CHECK_TIMEOUT, state.kafka.check(CHECK_TIMEOUT)),
        tokio::time::timeout(CHECK_TIMEOUT, state.read_store.ping()),
    );
    let components = BTreeMap::from([
        ("postgres", ComponentStatus::from(postgres)),
        ("kafka", ComponentStatus::from(kafka)),
        ("mongodb", ComponentStatus::from(mongodb)),
    ]);
    let ready = components.values().all(|c| c.error.is_none());
    if !ready {
        tracing::warn!(?components, "not ready");
    }
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let status = if ready { "ready" } else { "unavailable" };
    (code, Json(Readiness { status, components }))
}
