//! The HTTP API answers liveness, readiness and GraphQL like a client expects.

use gavel_tests::{isolated_settings, stack_settings, TestApp};
use serde_json::{json, Value};

#[tokio::test]
async fn healthz_answers_ok() {
    let settings = isolated_settings(&stack_settings()).await;
    let app = TestApp::spawn(&settings).await;
    let response = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "ok");
}

#[tokio::test]
async fn readyz_reports_every_component_up_on_the_running_stack() {
    let settings = isolated_settings(&stack_settings()).await;
    let app = TestApp::spawn(&settings).await;
    let response = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    for component in ["postgres", "kafka", "mongodb"] {
        assert_eq!(body["components"][component]["status"], "up", "{body}");
    }
}

#[tokio::test]
async fn graphql_answers_queries_and_serves_graphiql() {
    let settings = isolated_settings(&stack_settings()).await;
    let app = TestApp::spawn(&settings).await;

    let answer = app.graphql("{ serverVersion }", json!({})).await;
    assert_eq!(answer["data"]["serverVersion"], env!("CARGO_PKG_VERSION"));

    let malformed = app.graphql("{ serverVersion", json!({})).await;
    assert!(malformed["errors"][0]["message"].is_string(), "{malformed}");

    let page = app.http.get(app.url("/graphql")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("graphiql"));
}

#[tokio::test]
async fn me_names_the_bearer_and_a_bad_token_is_refused() {
    let settings = isolated_settings(&stack_settings()).await;
    let app = TestApp::spawn(&settings).await;

    let anonymous = app.graphql("{ me { id } }", json!({})).await;
    assert_eq!(anonymous["data"]["me"], Value::Null);

    let user = uuid::Uuid::now_v7();
    let token = gavel_api::auth::TokenKeys::new(&settings.jwt_secret)
        .issue(
            user,
            &[gavel_api::auth::Role::Buyer],
            std::time::Duration::from_secs(60),
        )
        .unwrap();
    let me: Value = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ me { id roles } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["me"]["id"], user.to_string());
    assert_eq!(me["data"]["me"]["roles"], json!(["buyer"]));

    let forged = gavel_api::auth::TokenKeys::new("not the server's secret")
        .issue(
            user,
            &[gavel_api::auth::Role::Admin],
            std::time::Duration::from_secs(60),
        )
        .unwrap();
    let refused: Value = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&forged)
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        refused["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    assert!(refused.get("data").is_none_or(Value::is_null), "{refused}");
}
