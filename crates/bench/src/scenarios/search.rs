//! Search: listing queries per second and their latency over 10k and 100k listings, with a mix of
//! filters and sorts, closed loop through GraphQL.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use gavel_config::Settings;
use gavel_domain::listing::{
    AuctionTerms, BuyNowPolicy, ClosePolicy, Condition, FixedPriceTerms, ItemDetails, ListingEvent,
    ListingTerms,
};
use gavel_domain::{Currency, Money};
use gavel_projections::apply::DocumentWrite;
use gavel_projections::fold::BulkWriter;
use gavel_projections::listing::change_for;
use gavel_projections::ReadStore;
use mongodb::bson::Document;
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::cpu::{self, CpuUse};
use crate::deployment::Deployment;
use crate::measure::{closed_loop, Summary};

/// Search over one catalogue size.
#[derive(Debug, Clone, Serialize)]
pub struct Search {
    /// Listings in the read model.
    pub listings: u64,
    /// Concurrent clients.
    pub clients: usize,
    /// Queries answered per second.
    pub queries_per_second: f64,
    /// Queries that failed (expected: none).
    pub failed: u64,
    /// Latency of each query.
    pub latency: Summary,
    /// Where the processor time went while the queries ran.
    pub cpu: CpuUse,
}

const BRANDS: [(&str, &str); 8] = [
    ("Rolex", "Submariner"),
    ("Omega", "Speedmaster"),
    ("Patek Philippe", "Nautilus"),
    ("Audemars Piguet", "Royal Oak"),
    ("Nike", "Air Jordan 1"),
    ("Adidas", "Yeezy 350"),
    ("New Balance", "550"),
    ("Tudor", "Black Bay"),
];

const CONDITIONS: [Condition; 4] = [
    Condition::New,
    Condition::Unworn,
    Condition::VeryGood,
    Condition::Good,
];

/// The query mix: each filter and sort a buyer uses, in turn.
fn query(n: u64) -> Value {
    let (brand, model) = BRANDS[n as usize % BRANDS.len()];
    let filters = [
        json!({ "status": "ACTIVE" }),
        json!({ "brand": brand, "status": "ACTIVE" }),
        json!({ "brand": brand, "model": model }),
        json!({ "condition": "NEW", "status": "ACTIVE" }),
        json!({ "format": "AUCTION", "status": "ACTIVE" }),
        json!({ "minPrice": { "amount": "500.00", "currency": "USD" },
                "maxPrice": { "amount": "2000.00", "currency": "USD" }, "status": "ACTIVE" }),
    ];
    let sorts = [
        "NEWEST",
        "PRICE_ASCENDING",
        "PRICE_DESCENDING",
        "ENDING_SOONEST",
    ];
    json!({
        "filter": filters[n as usize % filters.len()],
        "sort": sorts[(n / filters.len() as u64) as usize % sorts.len()],
    })
}

/// One listing document, made by the projection's own code from a creation event.
fn listing_document(n: u64) -> Document {
    let usd = Currency::new("USD").expect("USD");
    let (brand, model) = BRANDS[n as usize % BRANDS.len()];
    let price = Money::from_minor(5_000 + (n as i64 * 7_919) % 500_000, usd);
    let now = Utc::now();
    let terms = if n % 3 == 0 {
        ListingTerms::Auction(AuctionTerms {
            start_price: price,
            reserve: None,
            buy_now: None,
            buy_now_policy: BuyNowPolicy::FirstBid,
            close_policy: ClosePolicy::default(),
            ends_at: now + chrono::Duration::minutes(10 + (n as i64 % 10_000)),
        })
    } else {
        ListingTerms::FixedPrice(FixedPriceTerms {
            price,
            quantity: 1,
            sku: None,
        })
    };
    let id = Uuid::now_v7();
    let event = ListingEvent::ListingCreated {
        listing_id: id,
        seller_id: Uuid::from_u128(u128::from(n % 500)),
        item: ItemDetails {
            title: format!("{brand} {model} #{n}"),
            brand: brand.into(),
            model: model.into(),
            reference: format!("REF-{}", n % 97),
            condition: CONDITIONS[n as usize % CONDITIONS.len()],
            year: Some(2000 + (n % 25) as u16),
            box_and_papers: n % 2 == 0,
            description: String::new(),
            image_urls: vec![],
        },
        terms,
        created_at: now - chrono::Duration::seconds(n as i64),
    };
    match change_for(&id.to_string(), 1, &event, None).listing {
        DocumentWrite::Insert(document) => document,
        DocumentWrite::Set(_) => unreachable!("a creation inserts"),
    }
}

/// For each size, seeds a fresh API's read model with that many listings and queries it with
/// `clients` clients for `duration`.
pub async fn run(
    binary: &std::path::Path,
    base: &Settings,
    sizes: &[u64],
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Vec<Search>> {
    let mut results = vec![];
    for &size in sizes {
        let deployment = Deployment::start(binary, base, &["api"]).await?;
        let store = ReadStore::connect(
            &deployment.settings.mongodb_url,
            &deployment.settings.mongodb_database,
            gavel_tests::postgres_pool(&deployment.settings),
        )
        .await?;
        // Written and analyzed as a rebuild leaves them: the documents and their search rows.
        let mut writer = BulkWriter::new(&store);
        for n in 0..size {
            writer.insert_listing(listing_document(n)).await?;
        }
        writer.finish().await?;
        store.search().analyze().await?;
        let client = Arc::new(deployment.client());
        let failed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let ((latencies, elapsed), cpu) = {
            let failed = failed.clone();
            cpu::during(closed_loop(clients, duration, move |c, i| {
                let client = client.clone();
                let failed = failed.clone();
                async move {
                    let answer = client
                        .graphql(
                            None,
                            r#"query($filter: ListingFilter, $sort: ListingSort) {
                                listings(filter: $filter, sort: $sort, first: 20) {
                                  totalCount edges { node { id title price { amount } } } } }"#,
                            query(i * clients as u64 + c as u64),
                        )
                        .await;
                    if !matches!(&answer, Ok(value) if value.get("errors").is_none()) {
                        failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }))
            .await
        };
        results.push(Search {
            listings: size,
            clients,
            queries_per_second: latencies.summary().count as f64 / elapsed.as_secs_f64(),
            failed: failed.load(std::sync::atomic::Ordering::Relaxed),
            latency: latencies.summary(),
            cpu,
        });
        deployment.remove().await?;
    }
    Ok(results)
}
