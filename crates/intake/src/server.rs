//! Starting, running and stopping the server.
//!
//! The accept loop is written out (rather than `axum::serve`) because it must terminate
//! TLS with tokio-rustls, and because tests need a handle to stop one server and start
//! another on the same data folder.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use super::Config;
use super::api;
use super::backend::postgres::Postgres;
use super::backend::s3::S3Objects;
use super::backend::{LocalObjects, Metadata, Objects, ObjectsConfig};
use super::error::ApiError;
use super::files::DataDir;
use super::releases;
use super::state::AppState;
use super::store::{Store, StoreError};
use super::tus;

/// A client must finish the TLS handshake this quickly (or within the idle timeout, if
/// shorter); request headers must arrive within the idle timeout (`Guards::idle_timeout`).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// On shutdown, requests in flight get this long before their connections are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Largest read buffer per connection; see `http`.
const CONNECTION_BUFFER: usize = 64 * 1024;
const SWEEP_EVERY: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to serve plain HTTP on {0}: it is not a loopback address. Pass --tls-cert and --tls-key, or listen on 127.0.0.1 or [::1]"
    )]
    PlainHttpNotLoopback(SocketAddr),
    #[error("cannot use the data folder {path}: {source}")]
    DataDir { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("start-up recovery of unfinished uploads failed: {0}")]
    Recovery(String),
    #[error("the listening socket failed: {0}")]
    Socket(#[from] io::Error),
    #[error("cannot use the object store: {0}")]
    Objects(io::Error),
    #[error("start-up was interrupted: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// A server started by [`serve`]. Dropping it stops the server too.
pub struct RunningServer {
    addr: SocketAddr,
    scheme: &'static str,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT` (or `http://…` without TLS).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Stops accepting, lets requests in flight finish (up to a few seconds), and returns
    /// once every connection is closed.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Opens the data folder, finishes any interrupted work, and serves the API on `listener`
/// until [`RunningServer::shutdown`].
pub async fn serve(config: Config, listener: TcpListener) -> Result<RunningServer, ServeError> {
    let addr = listener.local_addr()?;
    if config.tls.is_none() && !addr.ip().is_loopback() {
        return Err(ServeError::PlainHttpNotLoopback(addr));
    }
    let state = tokio::task::spawn_blocking(move || -> Result<AppState, ServeError> {
        let path = config.data_dir.clone();
        let dir = DataDir::create(&path).map_err(|source| ServeError::DataDir { path, source })?;
        let store: Arc<dyn Metadata> = match &config.database {
            Some(url) => Arc::new(Postgres::connect(url)?),
            None => Arc::new(Store::open(&dir.database())?),
        };
        let objects: Arc<dyn Objects> = match &config.objects {
            Some(ObjectsConfig::Folder(shared)) => {
                let shared = DataDir::create(shared).map_err(|source| ServeError::DataDir {
                    path: shared.clone(),
                    source,
                })?;
                Arc::new(LocalObjects::shared(shared, dir.clone()))
            }
            Some(ObjectsConfig::S3(s3)) => {
                Arc::new(S3Objects::new(s3, dir.clone()).map_err(ServeError::Objects)?)
            }
            None => Arc::new(LocalObjects::new(dir.clone())),
        };
        let state = AppState::new(store, objects, dir, config);
        tus::recover(&state).map_err(|e| ServeError::Recovery(e.message))?;
        Ok(state)
    })
    .await??;
    tus::sweep_expired(&state)
        .await
        .map_err(|e| ServeError::Recovery(e.message))?;

    let scheme = state.scheme();
    let acceptor = state.config.tls.clone().map(TlsAcceptor::from);
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, state, acceptor, stopped));
    tracing::info!("jcdiag-intake listening on {scheme}://{addr}");
    Ok(RunningServer {
        addr,
        scheme,
        stop,
        task,
    })
}

async fn accept_loop(
    listener: TcpListener,
    state: AppState,
    acceptor: Option<TlsAcceptor>,
    mut stopped: watch::Receiver<bool>,
) {
    let router = router(state.clone());
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.tick().await; // the first tick is immediate; start-up already swept
    // One permit per connection served: past the cap a connection is closed as soon as it
    // is accepted, so idle or slow clients cannot use up the process's file descriptors.
    let slots = Arc::new(Semaphore::new(state.config.guards.max_connections));
    let idle_timeout = state.config.guards.idle_timeout;
    let mut at_cap = false;

    loop {
        tokio::select! {
            // A stop request, or the handle being dropped.
            _ = stopped.changed() => break,
            // Reap finished connection tasks so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = sweep.tick() => {
                let state = state.clone();
                tokio::spawn(async move {
                    if let Err(error) = tus::sweep_expired(&state).await {
                        tracing::warn!("expired-upload sweep failed: {}", error.message);
                    }
                });
            }
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => match slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        at_cap = false;
                        let link = Link { peer, idle_timeout, _slot: slot };
                        connections.spawn(connection(tcp, link, acceptor.clone(), router.clone(), graceful.watcher()));
                    }
                    Err(_) => {
                        if !at_cap {
                            tracing::warn!(%peer, "connection limit reached: closing new connections until one ends");
                            at_cap = true;
                        }
                        drop(tcp);
                    }
                },
                Err(error) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    tracing::warn!("accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("dropping connections still busy after {SHUTDOWN_GRACE:?}");
    }
    connections.shutdown().await;
    tracing::info!("jcdiag-intake stopped");
}

/// What one accepted connection carries: who it is from, its idle timeout, and its slot
/// under the connection cap (freed when the connection ends).
struct Link {
    peer: SocketAddr,
    idle_timeout: Duration,
    _slot: OwnedSemaphorePermit,
}

async fn connection(
    tcp: TcpStream,
    link: Link,
    acceptor: Option<TlsAcceptor>,
    router: Router,
    watcher: Watcher,
) {
    let _ = tcp.set_nodelay(true);
    let Some(acceptor) = acceptor else {
        return http(tcp, link, router, watcher).await;
    };
    let handshake = HANDSHAKE_TIMEOUT.min(link.idle_timeout);
    match tokio::time::timeout(handshake, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => http(tls, link, router, watcher).await,
        Ok(Err(error)) => tracing::debug!("TLS handshake failed: {error}"),
        Err(_) => tracing::debug!("TLS handshake timed out"),
    }
}

async fn http<I>(io: I, link: Link, router: Router, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Handlers see the client's address (failed logins are counted per address).
    let peer = link.peer;
    let service = tower::ServiceExt::map_request(router, move |mut request: hyper::Request<_>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    // Also between requests: a kept-alive connection that sends nothing is closed.
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(link.idle_timeout)
        // Bounds each connection's read buffer (hyper's default grows to ~400 KiB). Body
        // frames are at most this big, and so is the copy tokio's file writer keeps:
        // with 100 uploads in flight that is the difference between ~20 and ~100 MiB.
        .max_buf_size(CONNECTION_BUFFER)
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
    if let Err(error) = watcher.watch(connection).await {
        tracing::debug!("connection ended: {error}");
    }
}

/// Every route: the case API, tus uploads, the installers and the support console, with one fallback for the rest.
fn router(state: AppState) -> axum::Router {
    api::routes()
        .merge(tus::routes())
        .merge(releases::routes())
        .merge(super::console::routes())
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(api::JSON_BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_deadline,
        ))
        .with_state(state)
}

/// The whole-request time limit: from the headers to the answer, body included. Work
/// handed to a blocking thread (a commit, a bundle check) still finishes on its own; the
/// client gets a 408 and resumes from the upload's committed offset.
async fn request_deadline(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let limit = state.config.guards.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => axum::response::IntoResponse::into_response(ApiError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request took longer than this endpoint's limit of {limit:?}: for an upload, HEAD it and resume from the offset it gives, with smaller chunks"
            ),
        )),
    }
}
