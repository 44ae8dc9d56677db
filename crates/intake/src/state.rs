//! What every request handler can reach: the store, the data folder, the configuration, and
//! the set of uploads being written (so two requests never interleave writes to one upload).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, header};

use super::Config;
use super::error::ApiError;
use super::files::DataDir;
use super::ids::UploadId;
use super::store::Store;

/// Everything a request handler can reach.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub store: Store,
    pub dir: DataDir,
    pub config: Config,
    /// Uploads with a PATCH commit, a completion check or a deletion in progress. A second
    /// request for the same upload gets a 409 instead of waiting or interleaving writes.
    busy: Mutex<HashSet<UploadId>>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(store: Store, dir: DataDir, config: Config) -> Self {
        AppState(Arc::new(Shared {
            store,
            dir,
            config,
            busy: Mutex::new(HashSet::new()),
        }))
    }

    /// Marks `id` busy until the returned claim is dropped; `None` if it already is.
    pub fn claim(&self, id: &UploadId) -> Option<Claim> {
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        busy.insert(id.clone()).then(|| Claim {
            state: self.clone(),
            id: id.clone(),
        })
    }

    /// `https` or `http`, for the absolute URLs the API hands out.
    pub fn scheme(&self) -> &'static str {
        if self.config.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Runs blocking work (SQLite, file hashing, zip checks) off the async workers.
    pub async fn blocking<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
    {
        let state = self.clone();
        tokio::task::spawn_blocking(move || work(&state)).await?
    }
}

/// See [`AppState::claim`].
pub struct Claim {
    state: AppState,
    id: UploadId,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.state
            .busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

/// `<scheme>://<Host>`: the base for URLs handed to the client, so they work through
/// whatever name and port the client used to reach us.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let sane = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    if !sane {
        return Err(ApiError::bad_request(
            "invalid_host",
            "the request needs a valid Host header",
        ));
    }
    Ok(format!("{}://{host}", state.scheme()))
}
