//! Parsed GraphQL documents kept by their text. Clients send the same few documents again and
//! again with different variables, and parsing one took about a tenth of the API's processor
//! time per request (docs/performance.md); a copy of the parsed document costs far less.

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::Request;

/// How many bytes of query text the cache holds, over all its documents.
const CAPACITY_BYTES: u64 = 4 * 1024 * 1024;

/// The documents recently parsed, by query text, bounded by the total size of their texts.
#[derive(Clone)]
pub struct ParsedQueries(moka::sync::Cache<String, ExecutableDocument>);

impl Default for ParsedQueries {
    fn default() -> Self {
        Self(
            moka::sync::Cache::builder()
                .weigher(|query: &String, _| u32::try_from(query.len()).unwrap_or(u32::MAX))
                .max_capacity(CAPACITY_BYTES)
                .build(),
        )
    }
}

impl ParsedQueries {
    /// Gives `request` its parsed document: the remembered one for the same text, or a fresh
    /// parse, then remembered. A query that does not parse is left as it is, so the schema
    /// reports the syntax error as it would without the cache.
    pub fn attach(&self, request: &mut Request) {
        if let Some(document) = self.0.get(&request.query) {
            request.set_parsed_query(document);
            return;
        }
        if let Ok(document) = request.parsed_query() {
            let document = document.clone();
            self.0.insert(request.query.clone(), document);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build_schema;

    const TWO_OPERATIONS: &str = "query Version { serverVersion } query Anonymous { me { id } }";

    /// Runs operation `name` of `TWO_OPERATIONS` through `cache`, returning its data.
    async fn run(
        schema: &crate::GavelSchema,
        cache: &ParsedQueries,
        name: &str,
    ) -> serde_json::Value {
        let mut request = Request::new(TWO_OPERATIONS).operation_name(name);
        cache.attach(&mut request);
        let response = schema.execute(request).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        response.data.into_json().unwrap()
    }

    #[tokio::test]
    async fn a_remembered_document_still_runs_the_operation_each_request_names() {
        let schema = build_schema();
        let cache = ParsedQueries::default();
        for _ in 0..2 {
            assert_eq!(
                run(&schema, &cache, "Version").await,
                serde_json::json!({ "serverVersion": env!("CARGO_PKG_VERSION") })
            );
            assert_eq!(
                run(&schema, &cache, "Anonymous").await,
                serde_json::json!({ "me": null })
            );
        }
        cache.0.run_pending_tasks();
        assert_eq!(cache.0.entry_count(), 1, "one text, one document");
    }

    #[tokio::test]
    async fn a_query_that_does_not_parse_is_reported_every_time_and_never_remembered() {
        let schema = build_schema();
        let cache = ParsedQueries::default();
        for _ in 0..2 {
            let mut broken = Request::new("{ serverVersion ");
            cache.attach(&mut broken);
            let response = schema.execute(broken).await;
            assert_eq!(response.errors.len(), 1);
            assert!(
                response.errors[0].message.contains("expected"),
                "a syntax error: {}",
                response.errors[0].message
            );
        }
        cache.0.run_pending_tasks();
        assert_eq!(cache.0.entry_count(), 0);
    }
}
