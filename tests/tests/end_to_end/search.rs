//! Listing search end to end, through GraphQL only: listings created, bid on and withdrawn through
//! mutations reach the search index by way of the projector, and `listings(...)` filters, sorts,
//! pages and counts them; bad search input is a clear error.

use std::time::Duration;

use chrono::SecondsFormat;
use gavel_api::auth::Role;
use gavel_projections::{SearchFilter, SearchOrder, SearchRow};
use gavel_tests::{
    isolated_settings, read_store, stack_settings, unique_name, wait_until, TestApp, TestUser,
};
use serde_json::{json, Value};

const CREATE: &str = r#"
mutation($input: CreateListingInput!) {
  createListing(input: $input) { listingId userErrors { code field message } }
}"#;

const SEARCH: &str = r#"
query($filter: ListingFilter, $sort: ListingSort, $first: Int, $after: String) {
  listings(filter: $filter, sort: $sort, first: $first, after: $after) {
    totalCount totalCountPrecision
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { node { title price { amount currency } } }
  }
}"#;

/// What a buyer sees of one search: the titles in order and the total.
#[derive(Debug, PartialEq)]
struct Found {
    titles: Vec<String>,
    total: u64,
}

async fn search(app: &TestApp, variables: Value) -> Value {
    app.graphql(SEARCH, variables).await
}

async fn found(app: &TestApp, variables: Value) -> Found {
    let response = search(app, variables).await;
    let connection = &response["data"]["listings"];
    assert!(connection.is_object(), "{response}");
    Found {
        titles: connection["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| edge["node"]["title"].as_str().unwrap().to_string())
            .collect(),
        total: connection["totalCount"].as_u64().unwrap(),
    }
}

fn titles(found: &[&str], total: u64) -> Found {
    Found {
        titles: found.iter().map(|t| t.to_string()).collect(),
        total,
    }
}

async fn create(app: &TestApp, seller: &TestUser, input: Value) -> String {
    let response = app
        .graphql_as(Some(&seller.token), CREATE, json!({ "input": input }))
        .await;
    let payload = &response["data"]["createListing"];
    assert_eq!(payload["userErrors"], json!([]), "{response}");
    // Publication times one minute apart make `NEWEST` an order of the test's choosing.
    app.clock.advance(chrono::Duration::minutes(1));
    payload["listingId"].as_str().unwrap().to_string()
}

fn fixed_price(title: &str, brand: &str, model: &str, condition: &str, price: &str) -> Value {
    json!({
        "title": title, "brand": brand, "model": model, "reference": "REF",
        "condition": condition,
        "fixedPrice": { "price": { "amount": price, "currency": "USD" }, "quantity": 1 },
    })
}

fn auction(app: &TestApp, title: &str, model: &str, start: &str, ends_in_hours: i64) -> Value {
    let ends_at = app.clock_now() + chrono::Duration::hours(ends_in_hours);
    json!({
        "title": title, "brand": "Omega", "model": model, "reference": "REF",
        "condition": "VERY_GOOD",
        "auction": {
            "startPrice": { "amount": start, "currency": "USD" },
            "endsAt": ends_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        },
    })
}

async fn mutate(app: &TestApp, user: &TestUser, mutation: &str, variables: Value) {
    let response = app.graphql_as(Some(&user.token), mutation, variables).await;
    let payload = response["data"]
        .as_object()
        .and_then(|data| data.values().next())
        .unwrap_or_else(|| panic!("{response}"));
    assert_eq!(payload["userErrors"], json!([]), "{response}");
}

/// Waits until searching with `variables` finds `expected`: the search index follows the
/// projector, a moment behind the mutations.
async fn wait_for(app: &TestApp, what: &str, variables: Value, expected: Found) {
    let what = format!("{what}: {expected:?}");
    wait_until(&what, Duration::from_secs(30), || {
        let variables = variables.clone();
        let expected = &expected;
        async move { (found(app, variables).await == *expected).then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn search_filters_sorts_pages_and_counts_what_the_mutations_did() {
    let settings = isolated_settings(&stack_settings()).await;
    let app = TestApp::spawn_pipeline(&settings).await;
    let seller = app.user(&[Role::Seller, Role::VerifiedSeller]);
    create(
        &app,
        &seller,
        fixed_price("Submariner", "Rolex", "Submariner", "NEW", "9000.00"),
    )
    .await;
    create(
        &app,
        &seller,
        fixed_price("Daytona", "Rolex", "Daytona", "VERY_GOOD", "25000.00"),
    )
    .await;
    let speedmaster = create(
        &app,
        &seller,
        auction(&app, "Speedmaster", "Speedmaster", "100.00", 48),
    )
    .await;
    create(
        &app,
        &seller,
        auction(&app, "Seamaster", "Seamaster", "300.00", 24),
    )
    .await;
    let black_bay = create(
        &app,
        &seller,
        fixed_price("Black Bay", "Tudor", "Black Bay", "GOOD", "3000.00"),
    )
    .await;
    mutate(
        &app,
        &seller,
        r#"mutation($id: ID!) { withdrawListing(input: { listingId: $id }) { userErrors { code } } }"#,
        json!({ "id": black_bay }),
    )
    .await;

    let everything = [
        "Black Bay",
        "Seamaster",
        "Speedmaster",
        "Daytona",
        "Submariner",
    ];
    wait_for(
        &app,
        "every listing, newest first",
        json!({}),
        titles(&everything, 5),
    )
    .await;
    let active = json!({ "status": "ACTIVE" });
    wait_for(
        &app,
        "the withdrawn listing out of the active ones",
        json!({ "filter": active }),
        titles(&everything[1..], 4),
    )
    .await;

    assert_eq!(
        found(
            &app,
            json!({ "filter": { "brand": "Rolex" }, "sort": "PRICE_ASCENDING" })
        )
        .await,
        titles(&["Submariner", "Daytona"], 2)
    );
    assert_eq!(
        found(
            &app,
            json!({ "filter": { "brand": "Rolex" }, "sort": "PRICE_DESCENDING" })
        )
        .await,
        titles(&["Daytona", "Submariner"], 2)
    );
    assert_eq!(
        found(&app, json!({ "filter": { "condition": "NEW" } })).await,
        titles(&["Submariner"], 1)
    );
    assert_eq!(
        found(
            &app,
            json!({ "filter": { "brand": "Omega", "model": "Seamaster" } })
        )
        .await,
        titles(&["Seamaster"], 1)
    );
    assert_eq!(
        found(
            &app,
            json!({ "filter": { "status": "ACTIVE",
                "minPrice": { "amount": "200.00", "currency": "USD" },
                "maxPrice": { "amount": "10000.00", "currency": "USD" } },
                "sort": "PRICE_ASCENDING" })
        )
        .await,
        titles(&["Seamaster", "Submariner"], 2)
    );
    assert_eq!(
        found(
            &app,
            json!({ "filter": { "minPrice": { "amount": "1.00", "currency": "EUR" } } })
        )
        .await,
        titles(&[], 0),
        "a price bound's currency filters too"
    );
    assert_eq!(
        found(&app, json!({ "sort": "ENDING_SOONEST" })).await,
        titles(&["Seamaster", "Speedmaster"], 2),
        "auctions only, the soonest end first"
    );

    // Pages of two, newest first, each with the total.
    let mut after: Option<String> = None;
    let mut pages = vec![];
    loop {
        let response = search(&app, json!({ "first": 2, "after": after })).await;
        let connection = &response["data"]["listings"];
        assert_eq!(connection["totalCount"], 5, "{response}");
        assert_eq!(connection["totalCountPrecision"], "EXACT", "{response}");
        assert_eq!(connection["pageInfo"]["hasPreviousPage"], after.is_some());
        let page: Vec<String> = connection["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| edge["node"]["title"].as_str().unwrap().to_string())
            .collect();
        pages.push(page);
        if connection["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = connection["pageInfo"]["endCursor"]
            .as_str()
            .map(String::from);
    }
    assert_eq!(
        pages,
        [
            vec!["Black Bay", "Seamaster"],
            vec!["Speedmaster", "Daytona"],
            vec!["Submariner"]
        ]
    );

    // Two bidders take the Speedmaster to 405.00 (400.00 plus its 5.00 increment), past the Seamaster's 300.00.
    let (a, b) = (app.user(&[Role::Buyer]), app.user(&[Role::Buyer]));
    for (bidder, amount) in [(&a, "500.00"), (&b, "400.00")] {
        mutate(
            &app,
            bidder,
            r#"mutation($id: ID!, $amount: String!) {
                placeBid(input: { listingId: $id, amount: { amount: $amount, currency: "USD" } }) {
                    userErrors { code } } }"#,
            json!({ "id": speedmaster, "amount": amount }),
        )
        .await;
    }
    wait_for(
        &app,
        "the Speedmaster's new price in the order",
        json!({ "filter": { "format": "AUCTION" }, "sort": "PRICE_ASCENDING" }),
        titles(&["Seamaster", "Speedmaster"], 2),
    )
    .await;
    let response = search(
        &app,
        json!({ "filter": { "brand": "Omega" }, "sort": "PRICE_DESCENDING", "first": 1 }),
    )
    .await;
    assert_eq!(
        response["data"]["listings"]["edges"][0]["node"]["price"],
        json!({ "amount": "405.00", "currency": "USD" }),
        "{response}"
    );
}

#[tokio::test]
async fn bad_search_input_is_a_clear_error() {
    let settings = isolated_settings(&stack_settings()).await;
    let app = TestApp::spawn(&settings).await;
    for (variables, says) in [
        (
            json!({ "filter": {
                "minPrice": { "amount": "100.00", "currency": "USD" },
                "maxPrice": { "amount": "900.00", "currency": "EUR" } } }),
            "minPrice is in USD and maxPrice in EUR",
        ),
        (
            json!({ "filter": { "maxPrice": { "amount": "ten", "currency": "USD" } } }),
            "maxPrice",
        ),
        (json!({ "first": 101 }), "first must be between 0 and 100"),
        (json!({ "after": "not-a-cursor" }), "invalid cursor"),
    ] {
        let response = search(&app, variables.clone()).await;
        let message = response["errors"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(
            message.contains(says),
            "{variables} should be refused saying {says:?}: {response}"
        );
        assert!(response["data"].is_null(), "{response}");
    }
}

#[tokio::test]
async fn a_count_stops_at_its_bound_and_says_so() {
    let settings = isolated_settings(&stack_settings()).await;
    let store = read_store(&settings, &unique_name("read")).await;
    let created = mongodb::bson::DateTime::now();
    let rows: Vec<SearchRow> = (0..5)
        .map(|n| {
            SearchRow::from_document(&mongodb::bson::doc! {
                "_id": format!("listing-{n}"), "version": 1_i64, "status": "active",
                "format": "fixed_price", "brand": "Nike", "model": "Dunk", "reference": "DD1391",
                "condition": "new", "seller_id": "seller", "currency": "USD",
                "price_minor": 10_000_i64 + n, "created_at": created, "ends_at": mongodb::bson::Bson::Null,
            })
            .expect("a searchable document")
        })
        .collect();
    store.search().upsert(&rows).await.unwrap();
    let filter = SearchFilter::default();
    let search = |count_up_to| {
        store
            .search()
            .search(&filter, SearchOrder::PriceAscending, 0, 2, count_up_to)
    };
    let bounded = search(3).await.unwrap();
    assert_eq!((bounded.total_count, bounded.counted_all), (3, false));
    assert_eq!(
        bounded.listings.len(),
        2,
        "the page is not cut by the count"
    );
    assert_eq!(bounded.listings[0].get_str("_id"), Ok("listing-0"));
    let exact = search(5).await.unwrap();
    assert_eq!((exact.total_count, exact.counted_all), (5, true));
}
