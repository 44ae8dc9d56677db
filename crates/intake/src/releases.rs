//! `serve --releases DIR`: the installers and the binaries they fetch.
//!
//! ```text
//! GET /install.sh                          installer/install.sh, this endpoint's URL and the
//! GET /install.ps1                         newest version in DIR filled in
//! GET /dl/latest                           the newest version in DIR, as text
//! GET /dl/<version>/<target>/<file>        DIR/<version>/<target>/<file>, streamed, where
//!                                          <file> is jcdiag, jcdiag.exe or their .sha256
//! ```
//!
//! The `.sha256` files are made at release time, beside each binary; the server never computes
//! a checksum a client relies on, it only hands out the files. Every path component is checked
//! against a strict alphabet before it touches the file system, the folders on the way must be
//! real folders and the file is opened without following a link (see [`jcdiag_fs::fsafe`]). The
//! routes need no token: the binaries and installers hold nothing secret.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::error::ApiError;
use super::state::AppState;
use jcdiag_fs::fsafe::{self, Refusal, Trust};

/// The installers as shipped in `installer/`; [`fill`] puts in the endpoint and version.
pub const INSTALL_SH: &str = include_str!("../../../installer/install.sh");
pub const INSTALL_PS1: &str = include_str!("../../../installer/install.ps1");

/// The names the installers carry in place of the values this endpoint fills in.
const BASE_PLACEHOLDER: &str = "@@JCDIAG_BASE_URL@@";
const VERSION_PLACEHOLDER: &str = "@@JCDIAG_VERSION@@";

/// The only file names served under a target folder.
const FILES: [&str; 4] = ["jcdiag", "jcdiag.sha256", "jcdiag.exe", "jcdiag.exe.sha256"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/install.sh", get(install_sh))
        .route("/install.ps1", get(install_ps1))
        .route("/dl/latest", get(latest))
        .route("/dl/{version}/{target}/{file}", get(download))
}

/// The installer text with this endpoint's base URL and `version` in place of the placeholders.
pub fn fill(script: &str, base: &str, version: &str) -> String {
    script
        .replace(BASE_PLACEHOLDER, base)
        .replace(VERSION_PLACEHOLDER, version)
}

/// A version folder name: digits, letters, `.`, `-`, `+`, starting with a digit.
pub fn is_version(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.as_bytes()[0].is_ascii_digit()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-+".contains(&b))
        && !name.contains("..")
}

/// A Rust target triple: lowercase letters, digits, `_` and `-`.
pub fn is_target(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(&b))
}

/// Orders versions by their numeric dotted core (`0.10.0` > `0.9.1`); a pre-release
/// (`1.0.0-rc.1`) sorts below its release.
fn version_key(name: &str) -> (Vec<u64>, bool, String) {
    let without_build = name.split('+').next().unwrap_or(name);
    let (core, prerelease) = match without_build.split_once('-') {
        Some((core, _)) => (core, true),
        None => (without_build, false),
    };
    let numbers = core
        .split('.')
        .map(|part| part.parse::<u64>().unwrap_or(0))
        .collect();
    (numbers, !prerelease, name.to_owned())
}

/// The newest version folder in `dir` (a real folder with a valid name), if any.
pub fn latest_version(dir: &Path) -> Option<String> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| is_version(name) && fsafe::is_real_dir(&dir.join(name)))
        .max_by_key(|name| version_key(name))
}

fn releases_dir(state: &AppState) -> Result<&Path, ApiError> {
    state.config.releases.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "this endpoint does not serve installers (it was started without --releases)",
        )
    })
}

async fn newest(state: &AppState) -> Result<String, ApiError> {
    let dir = releases_dir(state)?.to_path_buf();
    tokio::task::spawn_blocking(move || latest_version(&dir))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no_release",
                "the releases folder holds no version yet",
            )
        })
}

async fn script(
    state: &AppState,
    text: &str,
    content_type: &'static str,
) -> Result<Response, ApiError> {
    // The configured URL, not the request's Host: an installer runs as root on the machine
    // that fetched it, and must send it to this endpoint whatever name it was fetched by.
    let base = state.config.public_url.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "this endpoint does not serve installers (it was started without a public URL)",
        )
    })?;
    let version = newest(state).await?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        fill(text, &base, &version),
    )
        .into_response())
}

async fn install_sh(State(state): State<AppState>) -> Response {
    script(&state, INSTALL_SH, "text/x-shellscript; charset=utf-8")
        .await
        .into_response()
}

async fn install_ps1(State(state): State<AppState>) -> Response {
    script(&state, INSTALL_PS1, "text/plain; charset=utf-8")
        .await
        .into_response()
}

async fn latest(State(state): State<AppState>) -> Response {
    match newest(&state).await {
        Ok(version) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            format!("{version}\n"),
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}

fn no_such_file() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such release file: /dl/<version>/<target triple>/jcdiag[.exe][.sha256]",
    )
}

/// `DIR/<version>/<target>/<file>` once every component has been checked; `None` when a
/// component is not a name this route serves.
pub fn release_path(dir: &Path, version: &str, target: &str, file: &str) -> Option<PathBuf> {
    (is_version(version) && is_target(target) && FILES.contains(&file))
        .then(|| dir.join(version).join(target).join(file))
}

async fn download(
    State(state): State<AppState>,
    UrlPath((version, target, file)): UrlPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let dir = releases_dir(&state)?.to_path_buf();
    let path = release_path(&dir, &version, &target, &file).ok_or_else(no_such_file)?;
    let opened = tokio::task::spawn_blocking(move || {
        // The version and target folders must be real folders, not links to elsewhere.
        let version_dir = dir.join(&version);
        if !fsafe::is_real_dir(&version_dir) || !fsafe::is_real_dir(&version_dir.join(&target)) {
            return Err(Refusal::NotFound);
        }
        fsafe::open_untrusted(
            &path,
            Trust {
                require_root_owner: false,
            },
        )
    })
    .await
    .map_err(ApiError::internal)?;
    let opened = match opened {
        Ok(opened) => opened,
        Err(Refusal::NotFound) => return Err(no_such_file()),
        Err(refusal) => {
            tracing::warn!("release file {file} not served: {refusal}");
            return Err(no_such_file());
        }
    };
    let content_type = if file.ends_with(".sha256") {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    };
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(opened.file));
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(opened.len));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_reach_the_file_system() {
        let dir = Path::new("/srv/releases");
        assert_eq!(
            release_path(dir, "0.1.0", "x86_64-unknown-linux-gnu", "jcdiag"),
            Some(PathBuf::from(
                "/srv/releases/0.1.0/x86_64-unknown-linux-gnu/jcdiag"
            ))
        );
        for (version, target, file) in [
            ("..", "x86_64-unknown-linux-gnu", "jcdiag"),
            ("0.1.0", "..", "jcdiag"),
            ("0.1.0/..", "x", "jcdiag"),
            ("0..1", "x", "jcdiag"),
            ("0.1.0", "x86_64-unknown-linux-gnu", "jcdiag.zip"),
            ("0.1.0", "x86_64-unknown-linux-gnu", "../jcdiag"),
            ("0.1.0", "X86_64", "jcdiag"),
            ("0.1.0", "x\\..", "jcdiag"),
            ("latest", "x", "jcdiag"),
            ("", "x", "jcdiag"),
            ("0.1.0", "", "jcdiag"),
        ] {
            assert_eq!(
                release_path(dir, version, target, file),
                None,
                "{version} {target} {file}"
            );
        }
    }

    #[test]
    fn the_newest_version_wins_numerically_and_releases_beat_prereleases() {
        let tmp = tempfile::tempdir().unwrap();
        for name in ["0.9.1", "0.10.0", "0.10.0-rc.1", "not-a-version", ".hidden"] {
            std::fs::create_dir(tmp.path().join(name)).unwrap();
        }
        std::fs::write(tmp.path().join("0.99.0"), "a file, not a folder").unwrap();
        assert_eq!(latest_version(tmp.path()).as_deref(), Some("0.10.0"));
        assert_eq!(latest_version(&tmp.path().join("absent")), None);
    }

    #[test]
    fn both_installers_carry_both_placeholders() {
        for script in [INSTALL_SH, INSTALL_PS1] {
            assert!(script.contains(BASE_PLACEHOLDER) && script.contains(VERSION_PLACEHOLDER));
            let filled = fill(script, "https://support.example.com", "1.2.3");
            assert!(!filled.contains("@@JCDIAG_"));
            assert!(filled.contains("https://support.example.com"));
        }
    }
}
