//! The read-model store is a real MongoDB-protocol server (FerretDB locally) that the mongodb
//! crate can write, index and query.

use futures::TryStreamExt;
use gavel_projections::ReadStore;
use gavel_tests::{read_store, stack_settings, unique_name};
use mongodb::bson::{doc, Document};
use mongodb::options::FindOptions;
use sqlx::Connection;

#[tokio::test]
async fn the_server_is_ferretdb_speaking_the_mongodb_protocol() {
    let settings = stack_settings();
    let store = read_store(&settings, &unique_name("read")).await;
    store.ping().await.unwrap();
    let info = store
        .database()
        .run_command(doc! { "buildInfo": 1 })
        .await
        .unwrap();
    assert!(
        info.contains_key("ferretdbVersion"),
        "expected FerretDB, got {info}"
    );
}

#[tokio::test]
async fn migrate_creates_collections_and_indexes_and_is_repeatable() {
    let settings = stack_settings();
    let store = read_store(&settings, &unique_name("read")).await;
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();

    let mut names = store.database().list_collection_names().await.unwrap();
    names.sort();
    let mut expected: Vec<String> = ReadStore::collection_names().map(String::from).collect();
    expected.sort();
    assert_eq!(names, expected);

    let indexes = store
        .database()
        .collection::<Document>("listings")
        .list_index_names()
        .await
        .unwrap();
    for index in ["status_created", "status_price", "seller"] {
        assert!(
            indexes.iter().any(|i| i == index),
            "{index} missing: {indexes:?}"
        );
    }
}

#[tokio::test]
async fn documents_are_inserted_filtered_and_sorted() {
    let settings = stack_settings();
    let store = read_store(&settings, &unique_name("read")).await;
    store.migrate().await.unwrap();
    let listings = store.database().collection::<Document>("listings");
    listings
        .insert_many([
            doc! { "_id": "l1", "status": "active", "brand": "Rolex", "price_minor": 950_000_i64 },
            doc! { "_id": "l2", "status": "active", "brand": "Omega", "price_minor": 420_000_i64 },
            doc! { "_id": "l3", "status": "sold", "brand": "Rolex", "price_minor": 1_200_000_i64 },
            doc! { "_id": "l4", "status": "active", "brand": "Rolex", "price_minor": 780_000_i64 },
        ])
        .await
        .unwrap();

    let found: Vec<Document> = listings
        .find(doc! { "status": "active", "brand": "Rolex" })
        .with_options(
            FindOptions::builder()
                .sort(doc! { "price_minor": 1 })
                .build(),
        )
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<&str> = found.iter().map(|d| d.get_str("_id").unwrap()).collect();
    assert_eq!(ids, ["l4", "l1"]);

    // An `_id` upsert is how projectors write; a second identical write changes nothing.
    for _ in 0..2 {
        listings
            .update_one(
                doc! { "_id": "l2" },
                doc! { "$set": { "price_minor": 400_000_i64 } },
            )
            .upsert(true)
            .await
            .unwrap();
    }
    let l2 = listings
        .find_one(doc! { "_id": "l2" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(l2.get_i64("price_minor").unwrap(), 400_000);
    assert_eq!(listings.count_documents(doc! {}).await.unwrap(), 4);
}

#[tokio::test]
async fn a_lookup_by_id_is_served_by_an_index_whatever_the_collection_size() {
    let settings = stack_settings();
    let database = unique_name("read");
    let store = read_store(&settings, &database).await;
    store.migrate().await.unwrap();
    let listings = store.database().collection::<Document>("listings");
    listings
        .insert_many((0..200).map(|n| doc! { "_id": format!("listing-{n}"), "status": "active" }))
        .await
        .unwrap();
    let found = listings
        .find_one(doc! { "_id": "listing-7" })
        .await
        .unwrap()
        .expect("the document");
    assert_eq!(found.get_str("status").unwrap(), "active");

    // FerretDB keeps each MongoDB database as a PostgreSQL schema, in its own PostgreSQL database.
    let (server, _) = settings.postgres_url.rsplit_once('/').unwrap();
    let mut connection = sqlx::PgConnection::connect(&format!("{server}/ferretdb"))
        .await
        .unwrap();
    let table: String = sqlx::query_scalar(&format!(
        "SELECT _jsonb ->> 'table' FROM \"{database}\"._ferretdb_database_metadata \
         WHERE _jsonb ->> '_id' = 'listings'"
    ))
    .fetch_one(&mut connection)
    .await
    .unwrap();
    // With scans priced out, the planner still scans unless an index can answer the filter
    // FerretDB sends for {_id: ...}.
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut connection)
        .await
        .unwrap();
    let plan: Vec<String> = sqlx::query_scalar(&format!(
        "EXPLAIN SELECT _jsonb FROM \"{database}\".\"{table}\" \
         WHERE _jsonb -> '_id' @> '\"listing-7\"'::jsonb"
    ))
    .fetch_all(&mut connection)
    .await
    .unwrap();
    assert!(
        plan.iter()
            .any(|line| line.contains("Index Cond") && line.contains("@>")),
        "a lookup by _id scans the collection:\n{}",
        plan.join("\n")
    );
}
