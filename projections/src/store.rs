//! Where the read models live: the MongoDB database of documents (connection, collections,
//! indexes, readiness) and, beside it, the listing search index in PostgreSQL.

use std::time::Duration;

use mongodb::bson::{doc, Document};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Database, IndexModel};
use sqlx::PgPool;

use crate::search::SearchIndex;

/// Why the read-model store could not be reached or prepared.
#[derive(Debug, thiserror::Error)]
#[error("MongoDB: {0}")]
pub struct ReadStoreError(#[from] mongodb::error::Error);

/// A read-model collection and the indexes its queries need.
struct CollectionSpec {
    name: &'static str,
    indexes: &'static [(&'static str, &'static [(&'static str, i32)])],
}

/// Every read-model collection. Searches filter by status first, then sort; the indexes follow.
const COLLECTIONS: &[CollectionSpec] = &[
    CollectionSpec {
        name: "listings",
        indexes: &[
            ("status_created", &[("status", 1), ("created_at", -1)]),
            ("status_ends", &[("status", 1), ("ends_at", 1)]),
            ("status_price", &[("status", 1), ("price_minor", 1)]),
            ("brand_reference", &[("brand", 1), ("reference", 1)]),
            ("seller", &[("seller_id", 1)]),
            ("seller_sku", &[("seller_id", 1), ("sku", 1)]),
        ],
    },
    CollectionSpec {
        name: "bid_history",
        indexes: &[("listing_placed", &[("listing_id", 1), ("placed_at", 1)])],
    },
    CollectionSpec {
        name: "inventory",
        indexes: &[("seller_sku", &[("seller_id", 1), ("sku", 1)])],
    },
    CollectionSpec {
        name: "orders",
        indexes: &[
            ("buyer_placed", &[("buyer_id", 1), ("placed_at", -1)]),
            ("seller_placed", &[("seller_id", 1), ("placed_at", -1)]),
            ("status_expires", &[("status", 1), ("expires_at", 1)]),
        ],
    },
    CollectionSpec {
        name: "price_history",
        indexes: &[("listing_changed", &[("listing_id", 1), ("changed_at", 1)])],
    },
];

fn index_model(name: &str, keys: &[(&str, i32)]) -> IndexModel {
    let mut key_doc = Document::new();
    for (field, order) in keys {
        key_doc.insert(*field, *order);
    }
    IndexModel::builder()
        .keys(key_doc)
        .options(IndexOptions::builder().name(name.to_string()).build())
        .build()
}

/// MongoDB's `NamespaceExists` error code.
const NAMESPACE_EXISTS: i32 = 48;

fn is_namespace_exists(error: &mongodb::error::Error) -> bool {
    matches!(
        error.kind.as_ref(),
        mongodb::error::ErrorKind::Command(command) if command.code == NAMESPACE_EXISTS
    )
}

/// A handle on one set of read models: the MongoDB database and its search index.
#[derive(Clone)]
pub struct ReadStore {
    db: Database,
    search: SearchIndex,
}

impl ReadStore {
    /// Creates a client for `url` and selects `database`, whose search index is kept in the
    /// event store's database on `event_store`. The driver connects lazily, so this succeeds
    /// while the server is down; [`ReadStore::ping`] tells whether it is up.
    pub async fn connect(
        url: &str,
        database: &str,
        event_store: PgPool,
    ) -> Result<Self, ReadStoreError> {
        let mut options = ClientOptions::parse(url).await?;
        options.app_name = Some("gavel".into());
        options.server_selection_timeout = Some(Duration::from_secs(3));
        options.connect_timeout = Some(Duration::from_secs(3));
        let client = Client::with_options(options)?;
        Ok(Self {
            db: client.database(database),
            search: SearchIndex::new(event_store, database),
        })
    }

    /// The underlying database, for projectors and queries.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The listing search index of these read models.
    pub fn search(&self) -> &SearchIndex {
        &self.search
    }

    /// Checks that the server answers.
    pub async fn ping(&self) -> Result<(), ReadStoreError> {
        self.db.run_command(doc! { "ping": 1 }).await?;
        Ok(())
    }

    /// Creates every read-model collection and index that does not exist yet; safe to repeat.
    pub async fn migrate(&self) -> Result<(), ReadStoreError> {
        let existing = self.db.list_collection_names().await?;
        for spec in COLLECTIONS {
            if !existing.iter().any(|name| name == spec.name) {
                match self.db.create_collection(spec.name).await {
                    Ok(()) => {}
                    // Another process created it between the listing and now.
                    Err(e) if is_namespace_exists(&e) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let collection = self.db.collection::<Document>(spec.name);
            // Only missing indexes are created: FerretDB v1 fails on re-creating an existing one.
            let existing_indexes = collection.list_index_names().await?;
            let missing: Vec<IndexModel> = spec
                .indexes
                .iter()
                .filter(|(name, _)| !existing_indexes.iter().any(|e| e == name))
                .map(|(name, keys)| index_model(name, keys))
                .collect();
            if !missing.is_empty() {
                collection.create_indexes(missing).await?;
            }
        }
        Ok(())
    }

    /// Names of the collections [`ReadStore::migrate`] creates.
    pub fn collection_names() -> impl Iterator<Item = &'static str> {
        COLLECTIONS.iter().map(|spec| spec.name)
    }
}
