//! `gavel rebuild` replays the event store into empty read models that equal the live ones.

use std::time::Duration;

use gavel_api::auth::Role;
use gavel_projections::ReadStore;
use gavel_tests::payments::PaymentProvider;
use gavel_tests::{
    all_documents, isolated_settings, postgres_pool, read_store, stack_settings, unique_name,
    wait_until, TestApp,
};
use serde_json::json;

async fn documents(store: &ReadStore, collection: &str) -> Vec<serde_json::Value> {
    all_documents(store, collection)
        .await
        .into_iter()
        .map(|d| serde_json::to_value(d).unwrap())
        .collect()
}

#[tokio::test]
async fn a_rebuild_from_the_event_store_equals_the_live_read_models() {
    let settings = isolated_settings(&stack_settings()).await;
    let app = TestApp::spawn_pipeline(&settings).await;
    let seller = app.user(&[Role::Seller, Role::VerifiedSeller]);
    let buyer = app.user(&[Role::Buyer]);
    let ends = (app.clock_now() + chrono::Duration::days(2)).to_rfc3339();
    let auction = app
        .graphql_as(
            Some(&seller.token),
            r#"mutation($ends: String!) { createListing(input: { title: "Omega Speedmaster", brand: "Omega",
                model: "Speedmaster", reference: "311.30.42.30.01.005", condition: GOOD,
                auction: { startPrice: { amount: "100.00", currency: "USD" }, endsAt: $ends } }) { listingId } }"#,
            json!({ "ends": ends }),
        )
        .await["data"]["createListing"]["listingId"]
        .clone();
    for amount in ["150.00", "180.00"] {
        let bidder = app.user(&[Role::Buyer]);
        app.graphql_as(
            Some(&bidder.token),
            r#"mutation($id: ID!, $a: String!) { placeBid(input: { listingId: $id, amount: { amount: $a, currency: "USD" } }) { version } }"#,
            json!({ "id": auction, "a": amount }),
        )
        .await;
    }
    // A bid taken back stays in the history, marked as retracted.
    let retracting = app.user(&[Role::Buyer]);
    app.graphql_as(
        Some(&retracting.token),
        r#"mutation($id: ID!) { placeBid(input: { listingId: $id, amount: { amount: "220.00", currency: "USD" } }) { version } }"#,
        json!({ "id": auction }),
    )
    .await;
    let retracted = app
        .graphql_as(
            Some(&retracting.token),
            r#"mutation($id: ID!) { retractBid(input: { listingId: $id }) { version userErrors { code } } }"#,
            json!({ "id": auction }),
        )
        .await;
    assert_eq!(
        retracted["data"]["retractBid"]["userErrors"],
        json!([]),
        "{retracted}"
    );
    app.graphql_as(
        Some(&seller.token),
        r#"mutation { receiveStock(input: { sku: "AJ1", quantity: 3, reason: "delivery" }) { version } }"#,
        json!({}),
    )
    .await;
    let fixed = app
        .graphql_as(
            Some(&seller.token),
            r#"mutation { createListing(input: { title: "Air Jordan 1", brand: "Nike", model: "AJ1",
                reference: "555088-101", condition: NEW,
                fixedPrice: { price: { amount: "180.00", currency: "USD" }, quantity: 1, sku: "AJ1" } }) { listingId } }"#,
            json!({}),
        )
        .await["data"]["createListing"]["listingId"]
        .clone();
    let order = app
        .graphql_as(
            Some(&buyer.token),
            r#"mutation($id: ID!) { buy(input: { listingId: $id }) { orderId } }"#,
            json!({ "id": fixed }),
        )
        .await["data"]["buy"]["orderId"]
        .as_str()
        .unwrap()
        .to_string();
    let provider = PaymentProvider::for_app(&app);
    provider
        .deliver(&provider.payment(&order, "180.00", app.clock_now()))
        .await;
    let live = read_store(&settings, &settings.mongodb_database).await;
    wait_until("the order to complete", Duration::from_secs(30), || async {
        let status = app
            .graphql_as(
                Some(&buyer.token),
                r#"query($id: ID!) { order(id: $id) { status } }"#,
                json!({ "id": order }),
            )
            .await["data"]["order"]["status"]
            .clone();
        (status == "COMPLETED").then_some(())
    })
    .await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&postgres_pool(&settings))
        .await
        .unwrap();
    wait_until(
        "the live read models to catch up",
        Duration::from_secs(30),
        || async {
            let listing_versions: i64 = documents(&live, "listings")
                .await
                .iter()
                .map(|d| d["version"].as_i64().unwrap())
                .sum();
            let inventory_versions: i64 = documents(&live, "inventory")
                .await
                .iter()
                .map(|d| d["version"].as_i64().unwrap())
                .sum();
            let order_versions: i64 = documents(&live, "orders")
                .await
                .iter()
                .map(|d| d["version"].as_i64().unwrap())
                .sum();
            (listing_versions + inventory_versions + order_versions == stored).then_some(())
        },
    )
    .await;

    let rebuilt = read_store(&settings, &unique_name("rebuilt")).await;
    let report = gavel_projector::rebuild(&postgres_pool(&settings), &rebuilt)
        .await
        .unwrap();
    assert_eq!(report.events as i64, stored);
    let bids = documents(&rebuilt, "bid_history").await;
    assert_eq!(
        bids.iter().filter(|b| b["retracted"] == true).count(),
        1,
        "{bids:?}"
    );
    for collection in ReadStore::collection_names() {
        assert_eq!(
            documents(&rebuilt, collection).await,
            documents(&live, collection).await,
            "{collection}"
        );
    }
    let live_rows = live.search().rows().await.unwrap();
    assert!(!live_rows.is_empty());
    assert_eq!(rebuilt.search().rows().await.unwrap(), live_rows);
    let again = gavel_projector::rebuild(&postgres_pool(&settings), &rebuilt).await;
    assert!(matches!(
        again,
        Err(gavel_projector::RebuildError::NotEmpty)
    ));
}
