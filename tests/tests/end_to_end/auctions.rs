//! Listings and auctions end to end, through GraphQL only: command → event store → outbox →
//! relay → Kafka → projector → MongoDB → query.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use gavel_api::auth::Role;
use gavel_projections::listing::pseudonym;
use gavel_tests::{isolated_settings, stack_settings, wait_until, TestApp, TestUser};
use serde_json::{json, Value};

const CREATE: &str = r#"
mutation($input: CreateListingInput!) {
  createListing(input: $input) { listingId version userErrors { code field message } }
}"#;

const BID: &str = r#"
mutation($id: ID!, $amount: String!) {
  placeBid(input: { listingId: $id, amount: { amount: $amount, currency: "USD" } }) {
    version userErrors { code field message }
  }
}"#;

const LISTING: &str = r#"
query($id: ID!, $version: Int) {
  listing(id: $id, minVersion: $version) {
    id version stale status format bidCount leader reserveMet hasReserve endsAt
    price { amount currency }
    result { sold winner price { amount currency } reason }
    bids(first: 10) { edges { node { bidder price { amount } retracted } } }
    priceHistory { price { amount } cause }
  }
}"#;

fn auction_input(ends_in: chrono::Duration, clock_now: chrono::DateTime<Utc>) -> Value {
    json!({
        "title": "Omega Speedmaster 311.30.42.30.01.005",
        "brand": "Omega",
        "model": "Speedmaster",
        "reference": "311.30.42.30.01.005",
        "condition": "VERY_GOOD",
        "year": 2019,
        "boxAndPapers": true,
        "auction": {
            "startPrice": { "amount": "100.00", "currency": "USD" },
            "endsAt": (clock_now + ends_in).to_rfc3339_opts(SecondsFormat::Secs, true),
        }
    })
}

async fn create(app: &TestApp, seller: &TestUser, input: Value) -> (String, i64) {
    let response = app
        .graphql_as(Some(&seller.token), CREATE, json!({ "input": input }))
        .await;
    let payload = &response["data"]["createListing"];
    assert_eq!(payload["userErrors"], json!([]), "{response}");
    (
        payload["listingId"].as_str().unwrap().to_string(),
        payload["version"].as_i64().unwrap(),
    )
}

async fn bid(app: &TestApp, bidder: &TestUser, id: &str, amount: &str) -> Value {
    let response = app
        .graphql_as(
            Some(&bidder.token),
            BID,
            json!({ "id": id, "amount": amount }),
        )
        .await;
    response["data"]["placeBid"].clone()
}

async fn listing(app: &TestApp, id: &str, version: Option<i64>) -> Value {
    let response = app
        .graphql(LISTING, json!({ "id": id, "version": version }))
        .await;
    response["data"]["listing"].clone()
}

#[tokio::test]
async fn the_worked_example_end_to_end() {
    let settings = isolated_settings(&stack_settings()).await;
    let app = TestApp::spawn_pipeline(&settings).await;
    let seller = app.user(&[Role::Seller, Role::VerifiedSeller]);
    let (a, b, c) = (
        app.user(&[Role::Buyer]),
        app.user(&[Role::Buyer]),
        app.user(&[Role::Buyer]),
    );
    let (id, _) = create(
        &app,
        &seller,
        auction_input(chrono::Duration::days(3), app.clock_now()),
    )
    .await;

    let mut version = 0;
    for (bidder, amount) in [(&a, "250.00"), (&b, "180.00"), (&c, "250.00")] {
        let payload = bid(&app, bidder, &id, amount).await;
        assert_eq!(payload["userErrors"], json!([]), "{payload}");
        version = payload["version"].as_i64().unwrap();
    }

    let view = listing(&app, &id, Some(version)).await;
    assert_eq!(view["stale"], false, "{view}");
    assert_eq!(
        view["price"],
        json!({ "amount": "250.00", "currency": "USD" })
    );
    assert_eq!(view["leader"], pseudonym(&id, &a.id));
    assert_eq!(view["bidCount"], 3);
    let bidders: Vec<&str> = view["bids"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["bidder"].as_str().unwrap())
        .collect();
    assert_eq!(
        bidders,
        [
            pseudonym(&id, &a.id),
            pseudonym(&id, &b.id),
            pseudonym(&id, &c.id)
        ]
    );
    let prices: Vec<&str> = view["bids"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["price"]["amount"].as_str().unwrap())
        .collect();
    assert_eq!(prices, ["100.00", "182.50", "250.00"]);
    // Nothing public names a bidder or shows a secret maximum.
    let text = view.to_string();
    for user in [&a, &b, &c] {
        assert!(
            !text.contains(&user.id.to_string()),
            "a bidder id leaked: {text}"
        );
    }
}

#[tokio::test]
async fn a_late_bid_extends_a_soft_close_auction_and_the_scheduler_closes_it() {
    let settings = isolated_settings(&stack_settings()).await;
    let app = TestApp::spawn_pipeline(&settings).await;
    let seller = app.user(&[Role::VerifiedSeller]);
    let winner = app.user(&[Role::Buyer]);
    let start = app.clock_now();
    let (id, _) = create(
        &app,
        &seller,
        auction_input(chrono::Duration::minutes(10), start),
    )
    .await;
    let original_end = start + chrono::Duration::minutes(10);

    // 30 s before the end, a bid moves the end to 2 minutes after it.
    app.clock.set(original_end - chrono::Duration::seconds(30));
    let payload = bid(&app, &winner, &id, "150.00").await;
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    let view = listing(&app, &id, payload["version"].as_i64()).await;
    let new_end = original_end + chrono::Duration::seconds(90);
    assert_eq!(
        view["endsAt"],
        new_end.to_rfc3339_opts(SecondsFormat::Millis, true)
    );

    app.clock.set(new_end);
    let closed = wait_until(
        "the scheduler to close the auction",
        Duration::from_secs(30),
        || async {
            let view = listing(&app, &id, None).await;
            (view["status"] != "ACTIVE").then_some(view)
        },
    )
    .await;
    assert_eq!(closed["status"], "SOLD");
    assert_eq!(closed["result"]["sold"], true);
    assert_eq!(closed["result"]["winner"], pseudonym(&id, &winner.id));
    assert_eq!(closed["result"]["price"]["amount"], "100.00");
}

#[tokio::test]
async fn a_fixed_price_reprice_appears_in_the_price_history() {
    let settings = isolated_settings(&stack_settings()).await;
    let app = TestApp::spawn_pipeline(&settings).await;
    let seller = app.user(&[Role::VerifiedSeller]);
    let (id, _) = create(
        &app,
        &seller,
        json!({
            "title": "Nike Air Jordan 1 Chicago", "brand": "Nike", "model": "Air Jordan 1",
            "reference": "555088-101", "condition": "NEW",
            "fixedPrice": { "price": { "amount": "1200.00", "currency": "USD" }, "quantity": 2 }
        }),
    )
    .await;
    let response = app
        .graphql_as(
            Some(&seller.token),
            r#"mutation($id: ID!) { repriceListing(input: { listingId: $id, amount: { amount: "1099.99", currency: "USD" } }) { version userErrors { code } } }"#,
            json!({ "id": id }),
        )
        .await;
    let version = response["data"]["repriceListing"]["version"].as_i64();
    let view = listing(&app, &id, version).await;
    assert_eq!(view["price"]["amount"], "1099.99");
    assert_eq!(
        view["priceHistory"],
        json!([
            { "price": { "amount": "1200.00" }, "cause": "LISTED" },
            { "price": { "amount": "1099.99" }, "cause": "REPRICED" },
        ])
    );
}

#[tokio::test]
async fn business_rejections_are_user_errors_and_strangers_are_refused() {
    let settings = isolated_settings(&stack_settings()).await;
    let app = TestApp::spawn(&settings).await;
    let seller = app.user(&[Role::VerifiedSeller]);
    let (id, _) = create(
        &app,
        &seller,
        auction_input(chrono::Duration::days(1), app.clock_now()),
    )
    .await;

    let own = bid(&app, &seller, &id, "500.00").await;
    assert_eq!(own["version"], Value::Null);
    assert_eq!(own["userErrors"][0]["code"], "SELLER_CANNOT_BID", "{own}");

    let buyer = app.user(&[Role::Buyer]);
    let low = bid(&app, &buyer, &id, "99.99").await;
    assert_eq!(low["userErrors"][0]["code"], "BID_TOO_LOW");
    assert_eq!(low["userErrors"][0]["field"], json!(["input", "amount"]));

    let garbage = bid(&app, &buyer, &id, "12,50").await;
    assert_eq!(garbage["userErrors"][0]["code"], "INVALID_INPUT");

    let unverified = app.user(&[Role::Seller]);
    let response = app
        .graphql_as(
            Some(&unverified.token),
            CREATE,
            json!({ "input": auction_input(chrono::Duration::days(1), app.clock_now()) }),
        )
        .await;
    assert_eq!(
        response["data"]["createListing"]["userErrors"][0]["code"],
        "SELLER_NOT_VERIFIED"
    );

    let anonymous = app
        .graphql(BID, json!({ "id": id, "amount": "500.00" }))
        .await;
    assert_eq!(
        anonymous["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );

    let stranger = app.user(&[Role::VerifiedSeller]);
    let response = app
        .graphql_as(
            Some(&stranger.token),
            r#"mutation($id: ID!) { withdrawListing(input: { listingId: $id }) { userErrors { code } } }"#,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        response["data"]["withdrawListing"]["userErrors"][0]["code"],
        "NOT_OWNER"
    );
}

#[tokio::test]
async fn read_your_writes_returns_the_fresh_state_and_says_when_it_is_stale() {
    let settings = isolated_settings(&stack_settings()).await;
    let app = TestApp::spawn_pipeline(&settings).await;
    let seller = app.user(&[Role::VerifiedSeller]);
    let buyer = app.user(&[Role::Buyer]);
    let (id, _) = create(
        &app,
        &seller,
        auction_input(chrono::Duration::days(1), app.clock_now()),
    )
    .await;
    for amount in ["120.00", "300.00"] {
        let payload = bid(&app, &buyer, &id, amount).await;
        let version = payload["version"].as_i64().unwrap();
        let view = listing(&app, &id, Some(version)).await;
        assert_eq!(view["stale"], false);
        assert!(view["version"].as_i64().unwrap() >= version);
        assert_eq!(view["bidCount"], version - 1);
    }
    // A version the read model will never reach is answered after the bound, marked stale.
    let view = listing(&app, &id, Some(1_000)).await;
    assert_eq!(view["stale"], true);
    assert_eq!(view["bidCount"], 2);
}
