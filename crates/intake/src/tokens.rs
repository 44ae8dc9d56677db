//! Upload tokens: minting, hashing, checking, and what each kind may do.
//!
//! A token is `jcd_` followed by 32 random bytes in unpadded base64url. Only its SHA-256
//! is stored, so a copy of the data folder does not leak usable tokens; the token itself
//! is printed once by `token create` and never logged.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::backend::Metadata;
use super::ids::CaseId;
use super::store::{StoreError, TokenRecord, timestamp};

pub const TOKEN_PREFIX: &str = "jcd_";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("--org must be 1 to 128 printable characters")]
    BadOrg,
    #[error(
        "case {0} does not exist: create the case first, or leave out --case for an org-wide token"
    )]
    UnknownCase(CaseId),
    #[error("case {case} belongs to org `{actual}`, not `{requested}`")]
    WrongOrg {
        case: CaseId,
        requested: String,
        actual: String,
    },
    #[error("--expires is too far in the future")]
    ExpiryOutOfRange,
    #[error("the operating system's random number generator failed: {0}")]
    Random(getrandom::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a request's credentials were refused (always a 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Unknown,
    Expired,
}

impl AuthFailure {
    /// For the log: what was wrong, without the token itself.
    pub fn reason(self) -> &'static str {
        match self {
            AuthFailure::Missing => "no token",
            AuthFailure::Unknown => "unknown token",
            AuthFailure::Expired => "expired token",
        }
    }
}

/// The holder of a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub org: String,
    /// `Some` for a case-scoped token (the one-liner kind), `None` for an org-wide one.
    pub case_id: Option<CaseId>,
}

impl Principal {
    /// Only org-wide tokens open new cases.
    pub fn may_create_cases(&self) -> bool {
        self.case_id.is_none()
    }

    /// May this token add bundles or escalations to `case` (which belongs to `case_org`)?
    pub fn may_touch_case(&self, case: CaseId, case_org: &str) -> bool {
        self.org == case_org && self.case_id.is_none_or(|own| own == case)
    }
}

/// What `token create --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    pub token: String,
    pub org: String,
    pub case_id: Option<String>,
    pub expires: Option<String>,
}

/// The stored form of a token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Mints and stores a token for `org`, optionally limited to one case and a lifetime.
pub fn issue(
    store: &dyn Metadata,
    org: &str,
    case_id: Option<CaseId>,
    lifetime: Option<Duration>,
    now: DateTime<Utc>,
) -> Result<IssuedToken, TokenError> {
    if org.is_empty() || org.chars().count() > 128 || org.chars().any(char::is_control) {
        return Err(TokenError::BadOrg);
    }
    if let Some(case) = case_id {
        match store.case_org(case)? {
            None => return Err(TokenError::UnknownCase(case)),
            Some(actual) if actual != org => {
                return Err(TokenError::WrongOrg {
                    case,
                    requested: org.to_owned(),
                    actual,
                });
            }
            Some(_) => {}
        }
    }
    let expires = lifetime
        .map(|lifetime| {
            chrono::Duration::from_std(lifetime)
                .ok()
                .and_then(|lifetime| now.checked_add_signed(lifetime))
                .ok_or(TokenError::ExpiryOutOfRange)
        })
        .transpose()?;

    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(TokenError::Random)?;
    let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));

    let record = TokenRecord {
        org: org.to_owned(),
        case_id,
        expires,
    };
    store.insert_token(&hash(&token), &record, now)?;
    Ok(IssuedToken {
        token,
        org: record.org,
        case_id: case_id.map(|c| c.to_string()),
        expires: expires.map(timestamp),
    })
}

/// Checks an `Authorization` header value and says who is calling.
pub fn authenticate(
    store: &dyn Metadata,
    authorization: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Result<Principal, AuthFailure>, StoreError> {
    let Some(token) = authorization.and_then(bearer) else {
        return Ok(Err(AuthFailure::Missing));
    };
    // Anything without our prefix cannot be one of ours; skip the lookup.
    if !token.starts_with(TOKEN_PREFIX) {
        return Ok(Err(AuthFailure::Unknown));
    }
    let Some(record) = store.token(&hash(token))? else {
        return Ok(Err(AuthFailure::Unknown));
    };
    if record.expires.is_some_and(|expires| expires <= now) {
        return Ok(Err(AuthFailure::Expired));
    }
    Ok(Ok(Principal {
        org: record.org,
        case_id: record.case_id,
    }))
}

/// The token in `Bearer <token>` (scheme name case-insensitive, as RFC 9110 says).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer("Bearer jcd_abc"), Some("jcd_abc"));
        assert_eq!(bearer("bearer   jcd_abc "), Some("jcd_abc"));
        assert_eq!(bearer("Basic dXNlcg=="), None);
        assert_eq!(bearer("Bearer "), None);
    }

    #[test]
    fn scopes() {
        let case = CaseId::from_row(7);
        let org = Principal {
            org: "acme".into(),
            case_id: None,
        };
        let scoped = Principal {
            org: "acme".into(),
            case_id: Some(case),
        };
        assert!(org.may_create_cases() && !scoped.may_create_cases());
        assert!(org.may_touch_case(CaseId::from_row(8), "acme"));
        assert!(!org.may_touch_case(case, "globex"));
        assert!(scoped.may_touch_case(case, "acme"));
        assert!(!scoped.may_touch_case(CaseId::from_row(8), "acme"));
    }
}
