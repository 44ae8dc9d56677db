//! What every request handler can reach: the store, the data folder, the configuration, and
//! the set of uploads being written (so two requests never interleave writes to one upload).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};

use super::Config;
use super::backend::{Metadata, Objects};
use super::error::ApiError;
use super::files::DataDir;
use super::ids::UploadId;

/// Limits that keep one token, org or address from filling the disk or holding the server
/// (`serve --max-…` flags; docs/SPEC.md, "Limits"). The defaults leave room for 100
/// concurrent uploads of one org.
#[derive(Debug, Clone)]
pub struct Guards {
    /// Bundles one case may hold; past it, new uploads get 403.
    pub max_bundles_per_case: u64,
    /// Unfinished uploads one case, and one org, may have; past it, 429.
    pub max_open_uploads_per_case: u64,
    pub max_open_uploads_per_org: u64,
    /// Bytes held (bundles kept plus the declared length of unfinished uploads) per case
    /// and per org; an upload that would pass it gets 413.
    pub max_bytes_per_case: u64,
    pub max_bytes_per_org: u64,
    /// A PATCH body must bring at least `min_rate` bytes per second, measured over each
    /// `rate_window`, or it is dropped with 408.
    pub min_rate: u64,
    pub rate_window: Duration,
    /// Longest a request may take from its headers to its answer (408 past it).
    pub request_timeout: Duration,
    /// Connections served at once; more are closed as soon as they are accepted. Keep it
    /// well below the descriptor limit (each upload also holds a file or two).
    pub max_connections: usize,
    /// How long a connection may sit without sending a request's headers.
    pub idle_timeout: Duration,
    /// Failed authentications one address may make per `auth_failure_window` before its
    /// requests get 429.
    pub max_auth_failures: u32,
    pub auth_failure_window: Duration,
    /// PATCH bodies this replica receives at once; past it, 503 with `Retry-After`, so a
    /// replica under a burst sheds load instead of holding a connection and a chunk file
    /// for every upload of the burst.
    pub max_concurrent_uploads: usize,
}

impl Default for Guards {
    fn default() -> Self {
        Guards {
            max_bundles_per_case: 20,
            max_open_uploads_per_case: 5,
            max_open_uploads_per_org: 500,
            max_bytes_per_case: 4 << 30,
            max_bytes_per_org: 100 << 30,
            min_rate: 1024,
            rate_window: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30 * 60),
            max_connections: 256,
            idle_timeout: Duration::from_secs(30),
            max_auth_failures: 20,
            auth_failure_window: Duration::from_secs(60),
            max_concurrent_uploads: 128,
        }
    }
}

/// Everything a request handler can reach.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    /// Cases, tokens, uploads and receipts: SQLite or PostgreSQL.
    pub store: Arc<dyn Metadata>,
    /// The bytes of uploads and bundles: the data folder or an object store.
    pub objects: Arc<dyn Objects>,
    /// The local data folder (chunks in flight; the console reads bundles from it).
    pub dir: DataDir,
    pub config: Config,
    /// Uploads with a PATCH commit, a completion check or a deletion in progress. A second
    /// request for the same upload gets a 409 instead of waiting or interleaving writes.
    busy: Mutex<HashSet<UploadId>>,
    /// Recent failed authentications per client address; see [`AppState::login_blocked`].
    failed_logins: Mutex<HashMap<IpAddr, Strikes>>,
    /// PATCH bodies being received; see [`Guards::max_concurrent_uploads`].
    receiving: Arc<tokio::sync::Semaphore>,
    /// PATCHes refused for want of a place, per [`REFUSAL_WINDOW`]; see [`AppState::refused`].
    refusals: Mutex<Refusals>,
}

/// The window refusals are counted over: the shortest `Retry-After` an overloaded replica
/// gives, so a client told to wait it comes back about once per window.
pub const REFUSAL_WINDOW: Duration = Duration::from_secs(2);
/// The longest `Retry-After` it gives.
const LONGEST_RETRY: Duration = Duration::from_secs(60);

struct Refusals {
    since: Instant,
    count: u64,
    /// The count of the window before.
    before: u64,
}

/// Failed authentications from one address since `since`.
struct Strikes {
    since: Instant,
    count: u32,
}

/// Addresses tracked at most; past it, stale entries are dropped and new addresses wait.
const MAX_TRACKED_ADDRESSES: usize = 100_000;

/// The unit failed logins are counted by: an IPv4 address, or an IPv6 /64 (one host
/// usually has a whole /64 to pick addresses from).
fn login_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(
        store: Arc<dyn Metadata>,
        objects: Arc<dyn Objects>,
        dir: DataDir,
        config: Config,
    ) -> Self {
        let receiving = Arc::new(tokio::sync::Semaphore::new(
            config.guards.max_concurrent_uploads,
        ));
        AppState(Arc::new(Shared {
            store,
            objects,
            dir,
            config,
            busy: Mutex::new(HashSet::new()),
            failed_logins: Mutex::new(HashMap::new()),
            receiving,
            refusals: Mutex::new(Refusals {
                since: Instant::now(),
                count: 0,
                before: 0,
            }),
        }))
    }

    /// [`AppState::login_blocked`], from the database when it keeps the counts (replicas
    /// share them), else from this process's.
    pub async fn login_blocked_shared(&self, peer: IpAddr) -> Option<Duration> {
        if self.config.database.is_none() {
            return self.login_blocked(peer);
        }
        let key = login_key(peer).to_string();
        let state = self.clone();
        let shared = tokio::task::spawn_blocking(move || state.store.auth_failures(&key)).await;
        match shared {
            Ok(Ok(Some(found))) => {
                let guards = &self.config.guards;
                let (since, count) = found?;
                let elapsed = (chrono::Utc::now() - since).to_std().unwrap_or_default();
                (count >= guards.max_auth_failures && elapsed < guards.auth_failure_window)
                    .then(|| guards.auth_failure_window - elapsed)
            }
            Ok(Ok(None)) => self.login_blocked(peer),
            Ok(Err(error)) => {
                // The limit is a guard, not the gate: a database hiccup must not lock out.
                tracing::warn!("cannot read the failed-login counts: {error}");
                None
            }
            Err(_) => None,
        }
    }

    /// [`AppState::login_failed`], counted in the database when it keeps the counts.
    pub async fn login_failed_shared(&self, peer: IpAddr) -> u32 {
        if self.config.database.is_none() {
            return self.login_failed(peer);
        }
        let key = login_key(peer).to_string();
        let window = self.config.guards.auth_failure_window;
        let state = self.clone();
        let shared = tokio::task::spawn_blocking(move || {
            state
                .store
                .count_auth_failure(&key, window, chrono::Utc::now())
        })
        .await;
        match shared {
            Ok(Ok(Some(count))) => count,
            Ok(Ok(None)) => self.login_failed(peer),
            Ok(Err(error)) => {
                tracing::warn!("cannot count a failed login: {error}");
                0
            }
            Err(_) => 0,
        }
    }

    /// How long `peer` must wait, if it has used up its failed authentications for the
    /// current window (`Guards::max_auth_failures` per `Guards::auth_failure_window`).
    pub fn login_blocked(&self, peer: IpAddr) -> Option<Duration> {
        let guards = &self.config.guards;
        let seen = self.failed_logins.lock().unwrap_or_else(|p| p.into_inner());
        let strikes = seen.get(&login_key(peer))?;
        let elapsed = strikes.since.elapsed();
        (strikes.count >= guards.max_auth_failures && elapsed < guards.auth_failure_window)
            .then(|| guards.auth_failure_window - elapsed)
    }

    /// Counts a failed authentication from `peer`; the count in the current window.
    pub fn login_failed(&self, peer: IpAddr) -> u32 {
        let window = self.config.guards.auth_failure_window;
        let mut seen = self.failed_logins.lock().unwrap_or_else(|p| p.into_inner());
        let key = login_key(peer);
        if !seen.contains_key(&key) && seen.len() >= MAX_TRACKED_ADDRESSES {
            seen.retain(|_, s| s.since.elapsed() < window);
            if seen.len() >= MAX_TRACKED_ADDRESSES {
                return 0;
            }
        }
        let strikes = seen.entry(key).or_insert(Strikes {
            since: Instant::now(),
            count: 0,
        });
        if strikes.since.elapsed() >= window {
            *strikes = Strikes {
                since: Instant::now(),
                count: 0,
            };
        }
        strikes.count += 1;
        strikes.count
    }

    /// A place among the PATCH bodies received at once, held until dropped; `None` when
    /// this replica is at `Guards::max_concurrent_uploads`.
    pub fn receive_slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.receiving.clone().try_acquire_owned().ok()
    }

    /// Counts a PATCH refused for want of a place and says how long its client should wait
    /// ([`overload_wait`]), from the refusals of the current or the last window, whichever is
    /// more: each client told to wait comes back about once per window, so that is about how
    /// many are waiting.
    pub fn refused(&self) -> Duration {
        let mut refusals = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        let elapsed = refusals.since.elapsed();
        if elapsed >= REFUSAL_WINDOW {
            // One window later the counts move on; after a quiet spell they start over.
            refusals.before = if elapsed < REFUSAL_WINDOW * 2 {
                refusals.count
            } else {
                0
            };
            refusals.count = 0;
            refusals.since = Instant::now();
        }
        refusals.count += 1;
        overload_wait(
            refusals.count.max(refusals.before),
            self.config.guards.max_concurrent_uploads,
        )
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

/// `Retry-After` for a refused PATCH when about `waiting` clients wait for `places` places:
/// one window per `places` of them, so they come back about as fast as places free up
/// (assuming a body takes about a window), between one window and [`LONGEST_RETRY`]. Under
/// a burst of 1,000 uploads on two replicas of 64 places each, every waiting client coming
/// back each 2 s spent about half of two cores on refusals and the HEADs that follow them;
/// 435 waiting for 64 places are now told 14 s.
pub fn overload_wait(waiting: u64, places: usize) -> Duration {
    let windows = waiting.div_ceil(places.max(1) as u64).max(1);
    (REFUSAL_WINDOW * u32::try_from(windows).unwrap_or(u32::MAX)).min(LONGEST_RETRY)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overloaded_replica_asks_waiting_clients_to_come_back_as_places_free_up() {
        let secs = |waiting, places| overload_wait(waiting, places).as_secs();
        // A lone refusal, or fewer waiting than places: one window.
        assert_eq!(secs(1, 1), 2);
        assert_eq!(secs(0, 64), 2);
        assert_eq!(secs(64, 64), 2);
        // More: a window per `places` of them.
        assert_eq!(secs(65, 64), 4);
        assert_eq!(secs(435, 64), 14);
        // Never past a minute, even with no place at all configured.
        assert_eq!(secs(100_000, 64), 60);
        assert_eq!(secs(3, 0), 6);
    }
}
