//! The GraphQL schema, the request handler that attaches the caller, and the GraphiQL page.

mod user_error;

use async_graphql::http::GraphiQLSource;
use async_graphql::{Context, EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse};

use crate::auth::{Role, Viewer};
use crate::AppState;

pub use user_error::UserError;

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

    /// The signed-in user, or null for an anonymous request.
    async fn me(&self, ctx: &Context<'_>) -> Option<Me> {
        ctx.data_opt::<Viewer>().map(|viewer| {
            let mut roles: Vec<String> = viewer.roles.iter().map(role_name).collect();
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

fn role_name(role: &Role) -> String {
    match role {
        Role::Buyer => "buyer",
        Role::Seller => "seller",
        Role::VerifiedSeller => "verified_seller",
        Role::Admin => "admin",
    }
    .to_string()
}

/// Builds the schema with its limits; the SDL in `schema/graphql/` is generated from it.
pub fn build_schema() -> GavelSchema {
    Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
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
    let mut request = request.into_inner();
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
    state.schema.execute(request).await.into()
}

/// The GraphiQL page, for a person exploring the API in a browser.
pub async fn graphiql() -> impl IntoResponse {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
}
