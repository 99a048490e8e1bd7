//! The GraphQL schema, the request handler that attaches the caller, and the GraphiQL page.

mod listing;
mod money;
mod mutations;
mod pagination;
mod parsed_queries;
mod purchases;
mod queries;
mod user_error;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::http::GraphiQLSource;
use async_graphql::{
    Context, EmptySubscription, MergedObject, Object, Result, Schema, SimpleObject, ID,
};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse};

use crate::auth::Viewer;
use crate::{AppState, IdempotencyKey};

pub use listing::Listing;
pub use mutations::ListingMutations;
pub use parsed_queries::ParsedQueries;
pub use purchases::{PurchaseMutations, PurchaseQueries};
pub use queries::{ListingFilter, ListingSort, ListingTotals, READ_YOUR_WRITES_BOUND};
pub use user_error::UserError;

/// The schema served at `/graphql`.
pub type GavelSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Root of every query.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(CoreQueries, PurchaseQueries);

/// Root of every mutation.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(ListingMutations, PurchaseMutations);

/// The server, the caller and listings.
#[derive(Default)]
pub struct CoreQueries;

#[Object]
impl CoreQueries {
    /// The version of the Gavel server answering.
    async fn server_version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    /// One listing. With `minVersion` (a mutation's `version`), waits up to 2 s for the read model
    /// to reach it; past that it answers with what is there, marked `stale`.
    async fn listing(
        &self,
        ctx: &Context<'_>,
        id: ID,
        min_version: Option<i64>,
    ) -> Result<Option<Listing>> {
        queries::load_listing(ctx.data::<AppState>()?, &id, min_version).await
    }

    /// Searches listings: every filter field given must match; `first` is at most 100.
    async fn listings(
        &self,
        ctx: &Context<'_>,
        filter: Option<ListingFilter>,
        sort: Option<ListingSort>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Listing, ListingTotals, EmptyFields>> {
        queries::search(ctx, filter, sort, first, after).await
    }

    /// The signed-in user, or null for an anonymous request.
    async fn me(&self, ctx: &Context<'_>) -> Option<Me> {
        ctx.data_opt::<Viewer>().map(|viewer| {
            let mut roles: Vec<String> = viewer
                .roles
                .iter()
                .map(|role| role.as_str().to_string())
                .collect();
            roles.sort();
            Me {
                id: viewer.user_id.to_string(),
                roles,
            }
        })
    }
}

/// The signed-in user as the API sees them.
#[derive(SimpleObject)]
pub struct Me {
    /// The user's id.
    id: String,
    /// What the user may do: `buyer`, `seller`, `verified_seller`, `admin`.
    roles: Vec<String>,
}

/// Builds the schema with its limits; the SDL in `schema/graphql/` is generated from it.
pub fn build_schema() -> GavelSchema {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .limit_depth(12)
    .limit_complexity(2_000)
    .finish()
}

/// `POST /graphql`: runs a request as the caller named by its bearer token. A bad token is a
/// top-level error: it is an authentication failure, not a business rule.
pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse {
    let mut request = request.into_inner().data(state.clone());
    if let Some(key) = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
    {
        request = request.data(IdempotencyKey(key.to_string()));
    }
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or_default());
    match state.tokens.viewer(authorization) {
        Ok(Some(viewer)) => request = request.data(viewer),
        Ok(None) => {}
        Err(error) => {
            let mut server_error = async_graphql::ServerError::new(error.to_string(), None);
            server_error.extensions = Some({
                let mut extensions = async_graphql::ErrorExtensionValues::default();
                extensions.set("code", "UNAUTHENTICATED");
                extensions
            });
            return async_graphql::Response::from_errors(vec![server_error]).into();
        }
    }
    state.parsed_queries.attach(&mut request);
    state.schema.execute(request).await.into()
}

/// The GraphiQL page, for a person exploring the API in a browser.
pub async fn graphiql() -> impl IntoResponse {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
}
