//! Stock and purchases end to end, through GraphQL and signed webhooks only: buyers race for
//! stock, pay or let their orders expire, and the stock adds up in every event and read model.

use std::collections::HashMap;
use std::time::Duration;

use gavel_api::auth::Role;
use gavel_api::payments::WebhookKey;
use gavel_commands::{CommandBus, CommandContext, RetryPolicy};
use gavel_domain::inventory::{
    inventory_id, Inventory, InventoryCommand, InventoryServices, Reservation,
};
use gavel_domain::{Currency, Money};
use gavel_tests::payments::PaymentProvider;
use gavel_tests::{
    isolated_settings, postgres_pool, stack_settings, wait_until, RoleProcess, Roles, TestApp,
    TestUser,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

const RECEIVE: &str = r#"
mutation($sku: String!, $quantity: Int!) {
  receiveStock(input: { sku: $sku, quantity: $quantity, reason: "delivery 42" }) {
    sku version userErrors { code field message }
  }
}"#;

const CREATE: &str = r#"
mutation($input: CreateListingInput!) {
  createListing(input: $input) { listingId version userErrors { code field message } }
}"#;

const BUY: &str = r#"
mutation($id: ID!) {
  buy(input: { listingId: $id, quantity: 1 }) {
    orderId version userErrors { code field message }
  }
}"#;

const INVENTORY: &str = r#"
query($sku: String!) { inventory(sku: $sku) { onHand reserved available version } }"#;

const ORDER: &str = r#"
query($id: ID!, $version: Int) {
  order(id: $id, minVersion: $version) { id status total { amount currency } stale }
}"#;

const LISTING_STOCK: &str = r#"
query($id: ID!) { listing(id: $id) { remainingStock soldOut } }"#;

const SKU: &str = "AJ1-CHI-42";

const SEARCHED_STOCK: &str = r#"
query($seller: ID!) {
  listings(filter: { sellerId: $seller }) { edges { node { remainingStock soldOut } } }
}"#;

/// Waits until a search for `seller`'s listings shows `expected` (`remainingStock` and `soldOut`)
/// for their one listing: the search index follows the stock like the listing does.
async fn wait_for_searched_stock(app: &TestApp, seller: &TestUser, expected: Value) {
    wait_until(
        &format!("a search to show the stock {expected}"),
        Duration::from_secs(30),
        || async {
            let response = app
                .graphql(SEARCHED_STOCK, json!({ "seller": seller.id.to_string() }))
                .await;
            (response["data"]["listings"]["edges"][0]["node"] == expected).then_some(())
        },
    )
    .await;
}

/// A seller with `units` of [`SKU`] and a fixed-price listing at 180.00 selling from it.
async fn stocked_listing(app: &TestApp, units: i64) -> (TestUser, String) {
    let seller = app.user(&[Role::Seller, Role::VerifiedSeller]);
    let received = app
        .graphql_as(
            Some(&seller.token),
            RECEIVE,
            json!({ "sku": SKU, "quantity": units }),
        )
        .await;
    assert_eq!(
        received["data"]["receiveStock"]["userErrors"],
        json!([]),
        "{received}"
    );
    let created = app
        .graphql_as(
            Some(&seller.token),
            CREATE,
            json!({ "input": {
                "title": "Nike Air Jordan 1 Chicago, size 42", "brand": "Nike",
                "model": "Air Jordan 1", "reference": "555088-101", "condition": "NEW",
                "fixedPrice": {
                    "price": { "amount": "180.00", "currency": "USD" }, "quantity": 1, "sku": SKU
                }
            }}),
        )
        .await;
    let payload = &created["data"]["createListing"];
    assert_eq!(payload["userErrors"], json!([]), "{created}");
    (seller, payload["listingId"].as_str().unwrap().to_string())
}

/// Buys one unit as `buyer`: the order id, or the user error code.
async fn buy(app: &TestApp, buyer: &TestUser, listing: &str) -> Result<String, String> {
    let response = app
        .graphql_as(Some(&buyer.token), BUY, json!({ "id": listing }))
        .await;
    let payload = &response["data"]["buy"];
    match payload["orderId"].as_str() {
        Some(id) => Ok(id.to_string()),
        None => Err(payload["userErrors"][0]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("neither an order nor a user error: {response}"))
            .to_string()),
    }
}

async fn inventory(app: &TestApp, seller: &TestUser) -> Value {
    app.graphql_as(Some(&seller.token), INVENTORY, json!({ "sku": SKU }))
        .await["data"]["inventory"]
        .clone()
}

async fn order_status(app: &TestApp, buyer: &TestUser, id: &str) -> Value {
    app.graphql_as(Some(&buyer.token), ORDER, json!({ "id": id }))
        .await["data"]["order"]["status"]
        .clone()
}

/// Every stock level any stored inventory event records: none may be negative or inconsistent.
async fn stored_levels(app: &TestApp) -> Vec<Value> {
    let payloads: Vec<Value> = sqlx::query_scalar(
        "SELECT payload::jsonb FROM events WHERE aggregate_type = 'Inventory' ORDER BY sequence",
    )
    .fetch_all(&postgres_pool(&app.settings))
    .await
    .unwrap();
    payloads
        .iter()
        .filter_map(|payload| {
            let (_, event) = payload.as_object()?.iter().next()?;
            event.get("levels").cloned()
        })
        .collect()
}

async fn count_events(app: &TestApp, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(&postgres_pool(&app.settings))
        .await
        .unwrap()
}

#[tokio::test]
async fn fifty_buyers_race_for_seven_units_then_five_pay_and_two_expire() {
    let settings = isolated_settings(&stack_settings()).await;
    let app = TestApp::spawn_pipeline(&settings).await;
    let (seller, listing) = stocked_listing(&app, 7).await;
    wait_for_searched_stock(
        &app,
        &seller,
        json!({ "remainingStock": 7, "soldOut": false }),
    )
    .await;

    let buyers: Vec<TestUser> = (0..50).map(|_| app.user(&[Role::Buyer])).collect();
    let outcomes =
        futures::future::join_all(buyers.iter().map(|buyer| buy(&app, buyer, &listing))).await;
    let mut orders = vec![];
    let mut refusals: HashMap<String, usize> = HashMap::new();
    for (buyer, outcome) in buyers.iter().zip(outcomes) {
        match outcome {
            Ok(order) => orders.push((buyer, order)),
            Err(code) => *refusals.entry(code).or_default() += 1,
        }
    }
    assert_eq!(orders.len(), 7, "refusals: {refusals:?}");
    assert_eq!(refusals, HashMap::from([("SOLD_OUT".to_string(), 43)]));

    let sold_out = wait_until(
        "the listing to show it is sold out",
        Duration::from_secs(30),
        || async {
            let view = app.graphql(LISTING_STOCK, json!({ "id": listing })).await["data"]
                ["listing"]
                .clone();
            (view["soldOut"] == true).then_some(view)
        },
    )
    .await;
    assert_eq!(sold_out["remainingStock"], 0);
    wait_for_searched_stock(
        &app,
        &seller,
        json!({ "remainingStock": 0, "soldOut": true }),
    )
    .await;
    wait_until(
        "the inventory read model to hold 7",
        Duration::from_secs(30),
        || async {
            let view = inventory(&app, &seller).await;
            (view["reserved"] == 7).then_some(())
        },
    )
    .await;
    assert_eq!(
        inventory(&app, &seller).await["available"],
        0,
        "nothing left, and never below zero"
    );

    // Five pay; the other two never do.
    let provider = PaymentProvider::for_app(&app);
    for (buyer, order) in &orders[..5] {
        let status = provider
            .deliver(&provider.payment(order, "180.00", app.clock_now()))
            .await;
        assert_eq!(status, StatusCode::OK);
        wait_until(
            "a paid order to complete",
            Duration::from_secs(30),
            || async { (order_status(&app, buyer, order).await == "COMPLETED").then_some(()) },
        )
        .await;
    }
    app.clock
        .advance(chrono::Duration::minutes(15) + chrono::Duration::seconds(1));
    for (buyer, order) in &orders[5..] {
        wait_until(
            "an unpaid order to expire",
            Duration::from_secs(30),
            || async { (order_status(&app, buyer, order).await == "EXPIRED").then_some(()) },
        )
        .await;
    }
    let settled = wait_until(
        "the expired stock to return",
        Duration::from_secs(30),
        || async {
            let view = inventory(&app, &seller).await;
            (view["reserved"] == 0 && view["available"] == 2).then_some(view)
        },
    )
    .await;
    assert_eq!(settled["onHand"], 2, "7 received − 5 shipped");
    let listing_view = wait_until(
        "the listing to show the returned stock",
        Duration::from_secs(30),
        || async {
            let view = app.graphql(LISTING_STOCK, json!({ "id": listing })).await["data"]
                ["listing"]
                .clone();
            (view["remainingStock"] == 2).then_some(view)
        },
    )
    .await;
    assert_eq!(listing_view["soldOut"], false);
    wait_for_searched_stock(
        &app,
        &seller,
        json!({ "remainingStock": 2, "soldOut": false }),
    )
    .await;

    for levels in stored_levels(&app).await {
        let (on_hand, reserved, available) = (
            levels["on_hand"].as_i64().unwrap(),
            levels["reserved"].as_i64().unwrap(),
            levels["available"].as_i64().unwrap(),
        );
        assert!(
            available >= 0 && reserved >= 0 && reserved <= on_hand,
            "{levels}"
        );
        assert_eq!(available, on_hand - reserved, "{levels}");
    }
    assert_eq!(count_events(&app, "StockReserved").await, 7);
    assert_eq!(count_events(&app, "StockShipped").await, 5);
    assert_eq!(count_events(&app, "StockReleased").await, 2);
}

#[tokio::test]
async fn forged_stale_and_replayed_webhooks_are_refused_and_leave_no_trace() {
    let settings = isolated_settings(&stack_settings()).await;
    let app = TestApp::spawn_pipeline(&settings).await;
    let (_, listing) = stocked_listing(&app, 1).await;
    let buyer = app.user(&[Role::Buyer]);
    let order = buy(&app, &buyer, &listing).await.unwrap();
    let provider = PaymentProvider::for_app(&app);
    let now = app.clock_now();
    let stored = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events")
            .fetch_one(&postgres_pool(&app.settings))
            .await
            .unwrap()
    };
    let before = stored().await;

    let forged = PaymentProvider::event_signed_with(
        &WebhookKey::new("not-the-shared-secret"),
        "payment.succeeded",
        &order,
        "180.00",
        now,
    );
    assert_eq!(provider.deliver(&forged).await, StatusCode::UNAUTHORIZED);
    let mut tampered = provider.payment(&order, "1.00", now);
    tampered.body = provider.payment(&order, "180.00", now).body;
    assert_eq!(provider.deliver(&tampered).await, StatusCode::UNAUTHORIZED);
    let stale = provider.payment(&order, "180.00", now - chrono::Duration::minutes(10));
    assert_eq!(provider.deliver(&stale).await, StatusCode::UNAUTHORIZED);
    let mut unsigned = provider.payment(&order, "180.00", now);
    unsigned.signature = "v1=".into();
    assert_eq!(provider.deliver(&unsigned).await, StatusCode::BAD_REQUEST);
    let underpaid = provider.payment(&order, "1.00", now);
    assert_eq!(
        provider.deliver(&underpaid).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(stored().await, before, "refused webhooks leave no event");
    wait_until(
        "the order to show, unpaid",
        Duration::from_secs(30),
        || async { (order_status(&app, &buyer, &order).await == "AWAITING_PAYMENT").then_some(()) },
    )
    .await;

    let genuine = provider.payment(&order, "180.00", now);
    assert_eq!(provider.deliver(&genuine).await, StatusCode::OK);
    let after_payment = stored().await;
    assert!(after_payment > before);
    assert_eq!(
        provider.deliver(&genuine).await,
        StatusCode::CONFLICT,
        "replay"
    );
    // The provider confirming the same payment again in a new event counts once.
    let again = provider.payment(&order, "180.00", now);
    assert_eq!(provider.deliver(&again).await, StatusCode::OK);
    wait_until(
        "the paid order to complete",
        Duration::from_secs(30),
        || async { (order_status(&app, &buyer, &order).await == "COMPLETED").then_some(()) },
    )
    .await;
    assert_eq!(count_events(&app, "OrderPaid").await, 1);
    assert_eq!(count_events(&app, "StockShipped").await, 1);
}

#[tokio::test]
async fn stock_mutations_are_for_sellers_on_their_own_skus_with_clear_errors() {
    let settings = isolated_settings(&stack_settings()).await;
    let app = TestApp::spawn(&settings).await;
    let buyer = app.user(&[Role::Buyer]);
    let refused = app
        .graphql_as(
            Some(&buyer.token),
            RECEIVE,
            json!({ "sku": SKU, "quantity": 3 }),
        )
        .await;
    assert_eq!(
        refused["data"]["receiveStock"]["userErrors"][0]["code"],
        "NOT_A_SELLER"
    );
    let seller = app.user(&[Role::Seller]);
    let bad_sku = app
        .graphql_as(
            Some(&seller.token),
            RECEIVE,
            json!({ "sku": "no spaces", "quantity": 3 }),
        )
        .await;
    assert_eq!(
        bad_sku["data"]["receiveStock"]["userErrors"][0],
        json!({ "code": "INVALID_INPUT", "field": ["input", "sku"],
                "message": "a SKU is 1 to 64 letters, digits, '-', '_' or '.'" })
    );
    let anonymous = app
        .graphql(RECEIVE, json!({ "sku": SKU, "quantity": 3 }))
        .await;
    assert_eq!(
        anonymous["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    // Another seller's SKU of the same name is their own stock, never this seller's.
    let received = app
        .graphql_as(
            Some(&seller.token),
            RECEIVE,
            json!({ "sku": SKU, "quantity": 3 }),
        )
        .await;
    assert_eq!(received["data"]["receiveStock"]["version"], 2);
    let other = app.user(&[Role::Seller]);
    let count = app
        .graphql_as(
            Some(&other.token),
            r#"mutation { countStock(input: { sku: "AJ1-CHI-42", onHand: 0, reason: "lost" }) { version userErrors { code } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(count["data"]["countStock"]["userErrors"], json!([]));
    assert_eq!(
        count["data"]["countStock"]["version"], 2,
        "a new SKU of its own"
    );
}

#[tokio::test]
async fn killing_the_purchase_process_between_reservation_and_payment_loses_no_order() {
    let mut settings = isolated_settings(&stack_settings()).await;
    settings.payment_timeout_secs = 3600;
    let app = TestApp::start(&settings, Roles::AllButPurchases).await;
    let mut purchases = RoleProcess::spawn("purchases", &settings);
    let (seller, listing) = stocked_listing(&app, 10).await;
    let buyers: Vec<TestUser> = (0..6).map(|_| app.user(&[Role::Buyer])).collect();
    let mut orders = vec![];
    for buyer in &buyers {
        orders.push(buy(&app, buyer, &listing).await.unwrap());
    }
    // Killed between reservation and payment: the payments arrive while it is down.
    purchases.sigkill();
    let provider = PaymentProvider::for_app(&app);
    for order in &orders {
        let status = provider
            .deliver(&provider.payment(order, "180.00", app.clock_now()))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    // And an API that died right after reserving, before placing its order: the purchase
    // process places it from the reservation.
    let orphan = Uuid::now_v7();
    let inventory_bus = CommandBus::<Inventory>::new(
        postgres_pool(&settings),
        InventoryServices {
            clock: app.clock.clone(),
        },
        10,
        RetryPolicy::default(),
    );
    inventory_bus
        .execute(
            &inventory_id(seller.id, SKU),
            InventoryCommand::Reserve(Reservation {
                order_id: orphan,
                buyer_id: buyers[0].id,
                listing_id: listing.parse().unwrap(),
                quantity: 1,
                unit_price: Money::parse_decimal("180.00", Currency::new("USD").unwrap()).unwrap(),
            }),
            &CommandContext::new(None, app.clock_now()),
        )
        .await
        .unwrap();
    let _restarted = RoleProcess::spawn("purchases", &settings);
    wait_until(
        "the orphaned reservation's order to be placed",
        Duration::from_secs(60),
        || async {
            (order_status(&app, &buyers[0], &orphan.to_string()).await == "AWAITING_PAYMENT")
                .then_some(())
        },
    )
    .await;
    for (buyer, order) in buyers.iter().zip(&orders) {
        wait_until(
            "every paid order to complete after the restart",
            Duration::from_secs(60),
            || async { (order_status(&app, buyer, order).await == "COMPLETED").then_some(()) },
        )
        .await;
    }
    let settled = wait_until(
        "the shipped stock to leave",
        Duration::from_secs(30),
        || async {
            let view = inventory(&app, &seller).await;
            (view["onHand"] == 4).then_some(view)
        },
    )
    .await;
    assert_eq!(
        (settled["reserved"].clone(), settled["available"].clone()),
        (json!(1), json!(3))
    );
    let per_order: Vec<(String, i64)> = sqlx::query_as(
        "SELECT event_type, count(*) FROM events WHERE aggregate_type = 'Inventory' \
         AND event_type IN ('StockReserved', 'StockShipped') GROUP BY event_type ORDER BY 1",
    )
    .fetch_all(&postgres_pool(&app.settings))
    .await
    .unwrap();
    assert_eq!(
        per_order,
        vec![("StockReserved".into(), 7), ("StockShipped".into(), 6)],
        "nothing reserved or shipped twice"
    );
}

#[tokio::test]
async fn a_listing_projected_in_the_same_batch_as_its_skus_stock_shows_that_stock() {
    let settings = isolated_settings(&stack_settings()).await;
    // The stock and the listing are committed before any projector runs, so the projector that
    // starts next finds both waiting and takes them in one batch.
    let api = TestApp::spawn(&settings).await;
    let (seller, listing) = stocked_listing(&api, 7).await;
    let app = TestApp::start(&settings, Roles::AllButPurchases).await;
    wait_for_searched_stock(
        &app,
        &seller,
        json!({ "remainingStock": 7, "soldOut": false }),
    )
    .await;
    let shown = app.graphql(LISTING_STOCK, json!({ "id": listing })).await;
    assert_eq!(
        shown["data"]["listing"],
        json!({ "remainingStock": 7, "soldOut": false }),
        "{shown}"
    );
}
