//! Who is calling: bearer JWTs (HS256) carrying a user id and roles.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use gavel_domain::Role;

/// The signed-in user behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// The user's id (the token's subject).
    pub user_id: Uuid,
    /// What the user may do.
    pub roles: HashSet<Role>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    roles: Vec<Role>,
    exp: u64,
}

/// Why a bearer token was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The Authorization header is not `Bearer <token>`.
    #[error("the Authorization header must be 'Bearer <token>'")]
    MalformedHeader,
    /// The token is forged, expired or unreadable.
    #[error("invalid token: {0}")]
    InvalidToken(#[from] jsonwebtoken::errors::Error),
}

/// Signs and checks tokens with one HS256 secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl TokenKeys {
    /// Keys for `secret`.
    pub fn new(secret: &str) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
        }
    }

    /// A token for `user_id` with `roles`, valid for `lifetime`.
    pub fn issue(
        &self,
        user_id: Uuid,
        roles: &[Role],
        lifetime: Duration,
    ) -> Result<String, AuthError> {
        let exp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_add(lifetime)
            .as_secs();
        let claims = Claims {
            sub: user_id,
            roles: roles.to_vec(),
            exp,
        };
        Ok(encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The viewer behind an `Authorization` header value; `None` header means anonymous.
    pub fn viewer(&self, authorization: Option<&str>) -> Result<Option<Viewer>, AuthError> {
        let Some(value) = authorization else {
            return Ok(None);
        };
        let token = value
            .strip_prefix("Bearer ")
            .ok_or(AuthError::MalformedHeader)?
            .trim();
        let data = decode::<Claims>(token, &self.decoding, &Validation::new(Algorithm::HS256))?;
        Ok(Some(Viewer {
            user_id: data.claims.sub,
            roles: data.claims.roles.into_iter().collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_token_names_its_user_and_roles() {
        let keys = TokenKeys::new("secret");
        let user = Uuid::now_v7();
        let token = keys
            .issue(
                user,
                &[Role::Buyer, Role::VerifiedSeller],
                Duration::from_secs(60),
            )
            .unwrap();
        let viewer = keys
            .viewer(Some(&format!("Bearer {token}")))
            .unwrap()
            .unwrap();
        assert_eq!(viewer.user_id, user);
        assert!(viewer.roles.contains(&Role::VerifiedSeller));
        assert!(!viewer.roles.contains(&Role::Admin));
    }

    #[test]
    fn forged_and_malformed_tokens_are_refused() {
        let token = TokenKeys::new("other secret")
            .issue(Uuid::now_v7(), &[Role::Admin], Duration::from_secs(60))
            .unwrap();
        let keys = TokenKeys::new("secret");
        assert!(matches!(
            keys.viewer(Some(&format!("Bearer {token}"))),
            Err(AuthError::InvalidToken(_))
        ));
        assert!(matches!(
            keys.viewer(Some("Basic abc")),
            Err(AuthError::MalformedHeader)
        ));
        assert_eq!(keys.viewer(None).unwrap(), None);
    }
}
