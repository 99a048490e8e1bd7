//! `/readyz` follows the real services: it names the one that stopped and recovers when it is back.
//!
//! The test runs a private stack, so stopping its services disturbs no other test.

use std::time::Duration;

use gavel_tests::{wait_until, PrivateStack, TestApp};
use serde_json::Value;

async fn readiness(app: &TestApp) -> (u16, Value) {
    let response = app.http.get(app.url("/readyz")).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn wait_for_status(app: &TestApp, expected: u16, what: &str) -> Value {
    wait_until(what, Duration::from_secs(60), || async {
        let (status, body) = readiness(app).await;
        (status == expected).then_some(body)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_names_a_stopped_component_and_recovers_when_it_returns() {
    let stack = tokio::task::spawn_blocking(PrivateStack::up).await.unwrap();
    let app = TestApp::spawn(&stack.settings()).await;
    wait_for_status(&app, 200, "the private stack to be ready").await;

    // FerretDB goes before PostgreSQL, its backend, so its outage has exactly one cause.
    for component in ["ferretdb", "kafka", "postgres"] {
        let name = if component == "ferretdb" {
            "mongodb"
        } else {
            component
        };
        let stop = {
            let stack = &stack;
            move || stack.stop(component)
        };
        tokio::task::block_in_place(stop);

        let body = wait_for_status(&app, 503, &format!("503 after stopping {component}")).await;
        assert_eq!(body["status"], "unavailable");
        assert_eq!(body["components"][name]["status"], "down", "{body}");
        assert!(body["components"][name]["error"].is_string(), "{body}");
        // Locally FerretDB keeps its documents in PostgreSQL, so a PostgreSQL outage may take
        // MongoDB down with it; every other component must still answer.
        let depends_on_stopped = |other: &str| component == "postgres" && other == "mongodb";
        for other in ["postgres", "kafka", "mongodb"]
            .into_iter()
            .filter(|c| *c != name && !depends_on_stopped(c))
        {
            assert_eq!(body["components"][other]["status"], "up", "{body}");
        }

        tokio::task::block_in_place(|| stack.start(component));
        wait_for_status(&app, 200, &format!("200 after restarting {component}")).await;
    }
}
