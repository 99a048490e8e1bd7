//! Business rejections as data: `userErrors { code field message }` in every mutation payload.

use async_graphql::SimpleObject;

/// A reason a mutation was refused that the user can act on. Top-level GraphQL `errors` are kept
/// for malformed requests, authentication failures and outages.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct UserError {
    /// A stable, machine-readable code such as `BID_TOO_LOW`; `docs/api.md` lists them.
    pub code: String,
    /// The input field the error is about, as a path from the mutation's input, when there is one.
    pub field: Option<Vec<String>>,
    /// A sentence for a person.
    pub message: String,
}

impl UserError {
    /// An error with `code` about `field` (a dotted path such as `input.maxAmount`).
    pub fn new(code: &str, field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            field: field.map(|f| f.split('.').map(String::from).collect()),
            message: message.into(),
        }
    }
}
