//! The GraphQL schema and the GraphiQL page.

use async_graphql::http::GraphiQLSource;
use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
use axum::response::{Html, IntoResponse};

/// The schema served at `/graphql`.
pub type GavelSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

/// Root of every query.
pub struct QueryRoot;

#[Object(name = "Query")]
impl QueryRoot {
    /// The version of the Gavel server answering.
    async fn server_version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }
}

/// Builds the schema with its limits.
pub fn build_schema() -> GavelSchema {
    Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
        .limit_depth(12)
        .limit_complexity(2_000)
        .finish()
}

/// The GraphiQL page, for a person exploring the API in a browser.
pub async fn graphiql() -> impl IntoResponse {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
}
