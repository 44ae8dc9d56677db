//! Staff sign-in: argon2id passwords, sessions, CSRF tokens and lockout.
//!
//! The session cookie (`__Host-jcdiag-session`) holds 32 random bytes; only their SHA-256 is
//! stored. Each session has its own random CSRF token, carried by every form and checked on
//! every POST (synchronizer token); the login form, before there is a session, uses a
//! double-submit token in a short-lived `__Host-jcdiag-login` cookie. Both cookies are
//! `HttpOnly; Secure; SameSite=Strict; Path=/`.
//!
//! Failed logins: five in a row lock the account for 15 minutes, and every failure also
//! counts against the client's address (`Guards::max_auth_failures`, shared with the API).

use std::net::{IpAddr, SocketAddr};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use sha2::{Digest, Sha256};

use super::{ConsoleError, field, form_pairs, html_page, layout};
use crate::staff::hash_password;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "__Host-jcdiag-session";
pub const LOGIN_COOKIE: &str = "__Host-jcdiag-login";
/// How long a session lasts from login.
pub const SESSION_HOURS: i64 = 12;
/// Failed logins in a row that lock an account, and for how long.
pub const LOCK_AFTER: u32 = 5;
pub const LOCK_MINUTES: i64 = 15;
/// Largest form body the console reads.
const FORM_LIMIT: usize = 64 * 1024;

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Spent on unknown accounts too, so the answer's timing does not tell which emails exist.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not a real password at all").unwrap_or_default())
}

fn random_token() -> Result<String, ConsoleError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(ConsoleError::internal)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Equal without an early exit, so timing does not reveal how much of a token matched.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

fn set_cookie(name: &str, value: &str, max_age: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn peer(parts_extensions: &axum::http::Extensions) -> Option<IpAddr> {
    parts_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}

/// A signed-in support engineer.
#[derive(Debug, Clone)]
pub struct Staff {
    pub email: String,
    pub csrf: String,
    session_hash: String,
}

impl Staff {
    /// The hidden field every form of this session carries.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf); }
    }
}

/// Why a request did not get a session.
pub enum NoSession {
    /// No session: the login page, with 401.
    Login,
    Failed(ConsoleError),
}

impl IntoResponse for NoSession {
    fn into_response(self) -> Response {
        match self {
            NoSession::Login => login_response(StatusCode::UNAUTHORIZED, None),
            NoSession::Failed(error) => error.into_response(),
        }
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = NoSession;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, NoSession> {
        // An upload token never opens the console, whatever cookie comes with it.
        if parts.headers.contains_key(header::AUTHORIZATION) {
            return Err(NoSession::Login);
        }
        let Some(value) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(NoSession::Login);
        };
        let hash = sha256_hex(&value);
        let now = Utc::now();
        let lookup = hash.clone();
        let found = super::blocking(state, move |state| Ok(state.store.session(&lookup, now)?))
            .await
            .map_err(NoSession::Failed)?;
        match found {
            Some(session) => Ok(Staff {
                email: session.email,
                csrf: session.csrf,
                session_hash: hash,
            }),
            None => Err(NoSession::Login),
        }
    }
}

/// A POSTed form from a signed-in engineer whose CSRF token matched (403 otherwise).
pub struct Posted {
    pub staff: Staff,
    pub fields: Vec<(String, String)>,
}

impl Posted {
    pub fn get(&self, name: &str) -> Option<&str> {
        field(&self.fields, name)
    }
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let staff = Staff::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let bytes = axum::body::to_bytes(body, FORM_LIMIT).await.map_err(|_| {
            ConsoleError::new(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large")
                .into_response()
        })?;
        let fields = form_pairs(&String::from_utf8_lossy(&bytes));
        let sent = field(&fields, "csrf").unwrap_or_default();
        if !same(sent, &staff.csrf) {
            tracing::warn!(staff = %staff.email, "console form without a valid CSRF token refused");
            return Err(ConsoleError::new(
                StatusCode::FORBIDDEN,
                "this form's security token is missing or wrong: reload the page and try again",
            )
            .into_response());
        }
        Ok(Posted { staff, fields })
    }
}

/// The login page with a fresh double-submit token in its cookie and form.
fn login_response(status: StatusCode, message: Option<&str>) -> Response {
    let token = match random_token() {
        Ok(token) => token,
        Err(error) => return error.into_response(),
    };
    let page = layout(
        "Log in",
        None,
        html! {
            h1 { "Log in" }
            @if let Some(message) = message { p.error { (message) } }
            form.login method="post" action="/console/login" {
                input type="hidden" name="login_csrf" value=(token);
                label { "Email" input type="email" name="email" autocomplete="username" required; }
                label { "Password" input type="password" name="password" autocomplete="current-password" required; }
                button type="submit" { "Log in" }
            }
        },
    );
    let mut response = html_page(status, page);
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, &token, 3600));
    response
}

fn redirect(to: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

/// `GET /console/login`: the form, or the queue for someone already signed in.
pub async fn login_page(staff: Result<Staff, NoSession>) -> Response {
    match staff {
        Ok(_) => redirect("/console"),
        Err(NoSession::Login) => login_response(StatusCode::OK, None),
        Err(other) => other.into_response(),
    }
}

/// `POST /console/login`.
pub async fn login(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let from = peer(&parts.extensions);
    let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
        return ConsoleError::new(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large")
            .into_response();
    };
    let fields = form_pairs(&String::from_utf8_lossy(&bytes));
    let sent = field(&fields, "login_csrf").unwrap_or_default();
    let expected = cookie(&parts.headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same(sent, &expected) {
        return ConsoleError::new(
            StatusCode::FORBIDDEN,
            "the login form's security token is missing or wrong: reload the login page",
        )
        .into_response();
    }
    let blocked = match from {
        Some(ip) => state.login_blocked_shared(ip).await,
        None => None,
    };
    if let Some(wait) = blocked {
        let mut response = login_response(
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many failed logins from this address: wait a minute and try again."),
        );
        if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let email = field(&fields, "email")
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let password = field(&fields, "password").unwrap_or_default().to_owned();
    let now = Utc::now();
    let outcome = super::blocking(&state, move |state| {
        attempt(state, &email, &password, now).map(|outcome| (outcome, email))
    })
    .await;
    match outcome {
        Ok((Attempt::Success(session), email)) => {
            tracing::info!(staff = %email, "console login");
            let mut response = redirect("/console");
            let headers = response.headers_mut();
            headers.append(
                header::SET_COOKIE,
                set_cookie(SESSION_COOKIE, &session, SESSION_HOURS * 3600),
            );
            headers.append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "", 0));
            response
        }
        Ok((Attempt::Locked(until), email)) => {
            tracing::warn!(staff = %email, "console login refused: account locked");
            let minutes = (until - now).num_minutes() + 1;
            login_response(
                StatusCode::TOO_MANY_REQUESTS,
                Some(&format!(
                    "Too many failed logins for this account: it is locked for {minutes} more minute(s)."
                )),
            )
        }
        Ok((Attempt::Wrong, email)) => {
            let address = from.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
            tracing::warn!(staff = %email, peer = %address, "console login failed");
            if let Some(ip) = from {
                state.login_failed_shared(ip).await;
            }
            login_response(StatusCode::UNAUTHORIZED, Some("Wrong email or password."))
        }
        Err(error) => error.into_response(),
    }
}

enum Attempt {
    /// The new session cookie's value.
    Success(String),
    Locked(DateTime<Utc>),
    Wrong,
}

fn attempt(
    state: &AppState,
    email: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<Attempt, ConsoleError> {
    let Some(account) = state.store.staff_login(email)? else {
        let _ = verify_password(dummy_hash(), password);
        return Ok(Attempt::Wrong);
    };
    if let Some(until) = account.locked_until.filter(|until| *until > now) {
        return Ok(Attempt::Locked(until));
    }
    if !verify_password(&account.password_hash, password) {
        let lock = (account.failures + 1 >= LOCK_AFTER)
            .then(|| now + chrono::Duration::minutes(LOCK_MINUTES));
        state.store.staff_login_failed(email, lock)?;
        return Ok(match lock {
            Some(until) => Attempt::Locked(until),
            None => Attempt::Wrong,
        });
    }
    let session = random_token()?;
    let csrf = random_token()?;
    let expires = now + chrono::Duration::hours(SESSION_HOURS);
    state
        .store
        .insert_session(&sha256_hex(&session), email, &csrf, expires, now)?;
    Ok(Attempt::Success(session))
}

/// `POST /console/logout`: ends the session and clears its cookie.
pub async fn logout(State(state): State<AppState>, posted: Posted) -> Response {
    let hash = posted.staff.session_hash.clone();
    if let Err(error) = super::blocking(&state, move |state| {
        Ok(state.store.delete_session(&hash)?)
    })
    .await
    {
        return error.into_response();
    }
    tracing::info!(staff = %posted.staff.email, "console logout");
    let mut response = redirect("/console/login");
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse batterY"));
        assert!(!verify_password("not a hash", "correct horse battery"));
        assert!(matches!(
            hash_password("short"),
            Err(crate::staff::PasswordError::TooShort)
        ));
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("x__Host-jcdiag-session=evil; __Host-jcdiag-session=good"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("good"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
