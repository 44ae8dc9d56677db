//! The support console: `/console`, server-rendered HTML for support engineers.
//!
//! - [`auth`]: staff passwords (argon2id), sessions in an `HttpOnly; Secure; SameSite=Strict`
//!   cookie, the CSRF token every form carries, lockout after failed logins.
//! - [`pages`]: the queue, a case, the fleet view, and the forms that change a case.
//! - [`bundle`]: what the console reads from a kept bundle (file tree, findings, facts).
//! - [`logview`]: paging, ERROR jumps and search through a bundle's log without loading it.
//!
//! Every value from a case is attacker-controlled text: it only reaches a page through maud's
//! escaping, links are only made from values the console built itself, and the
//! Content-Security-Policy allows no script at all (a second line of defence, not the first).
//! An upload token never opens a console route (any `Authorization` header is refused) and a
//! session cookie never uploads (the API reads only `Authorization`).

pub mod auth;
pub mod bundle;
pub mod logview;
pub mod pages;

use std::time::Instant;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};

use super::error::ApiError;
use super::state::AppState;

/// The console's one style sheet, served by the binary.
pub const CSS: &str = include_str!("console.css");

/// No script, no plug-ins, no framing; styles and images only from this origin; forms only
/// post here.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(pages::queue))
        .route("/console/login", get(auth::login_page).post(auth::login))
        .route("/console/logout", post(auth::logout))
        .route("/console/assets/console.css", get(css))
        .route("/console/fleet", get(pages::fleet))
        .route("/console/cases/{id}", get(pages::case))
        .route("/console/cases/{id}/status", post(pages::set_status))
        .route(
            "/console/cases/{id}/first-response",
            post(pages::first_response),
        )
        .route("/console/cases/{id}/notes", post(pages::add_note))
        .route(
            "/console/cases/{id}/bundle-requests",
            post(pages::request_bundle),
        )
        .route(
            "/console/cases/{id}/bundles/{sha256}/download",
            get(pages::download),
        )
        .route(
            "/console/cases/{id}/bundles/{sha256}/log",
            get(logview::page),
        )
        .layer(axum::middleware::from_fn(console_headers))
}

/// Headers on every console answer: the CSP and its companions, no caching of pages that
/// hold customer data (or a freshly minted token), and the server's own time for the bench.
async fn console_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = Instant::now();
    let mut response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if let Ok(timing) = HeaderValue::from_str(&format!("app;dur={elapsed:.2}")) {
        headers.insert("server-timing", timing);
    }
    response
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

/// An HTML answer.
pub fn html_page(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

/// A page with the console's frame: title, navigation (when signed in) and `body`.
pub fn layout(title: &str, staff: Option<&auth::Staff>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · jcdiag console" }
                link rel="stylesheet" href="/console/assets/console.css";
            }
            body {
                header.top {
                    a.brand href="/console" { "jcdiag console" }
                    @if let Some(staff) = staff {
                        nav {
                            a href="/console" { "Queue" }
                            a href="/console/fleet" { "Fleet" }
                        }
                        form.logout method="post" action="/console/logout" {
                            (staff.csrf_field())
                            span.who { (staff.email) }
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// What went wrong, as a page.
#[derive(Debug)]
pub struct ConsoleError {
    pub status: StatusCode,
    pub message: String,
}

impl ConsoleError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ConsoleError {
            status,
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, what)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!("console: internal error: {detail}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the console hit an internal error (logged on the server)",
        )
    }
}

impl From<ApiError> for ConsoleError {
    fn from(error: ApiError) -> Self {
        ConsoleError::new(error.status, error.message)
    }
}

impl From<super::store::StoreError> for ConsoleError {
    fn from(error: super::store::StoreError) -> Self {
        ConsoleError::internal(error)
    }
}

impl From<std::io::Error> for ConsoleError {
    fn from(error: std::io::Error) -> Self {
        ConsoleError::internal(error)
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        html_page(
            self.status,
            layout(
                title,
                None,
                html! {
                    h1 { (title) }
                    p.error { (self.message) }
                    p { a href="/console" { "Back to the queue" } }
                },
            ),
        )
    }
}

/// Runs blocking work (SQLite, zip reading) off the async workers.
pub async fn blocking<T, F>(state: &AppState, work: F) -> Result<T, ConsoleError>
where
    T: Send + 'static,
    F: FnOnce(&AppState) -> Result<T, ConsoleError> + Send + 'static,
{
    let state = state.clone();
    tokio::task::spawn_blocking(move || work(&state))
        .await
        .map_err(ConsoleError::internal)?
}

/// A query string or form body as name/value pairs.
pub fn form_pairs(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

/// The first value named `name`.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// `a=b&c=d` with each value percent-encoded, for links the console builds.
pub fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        out.append_pair(key, value);
    }
    out.finish()
}
