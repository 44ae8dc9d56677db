//! Uploads and bundles in an S3-compatible object store (`serve --objects
//! s3://BUCKET?endpoint=URL`), so every replica reaches every upload.
//!
//! A tus upload is an S3 multipart upload. S3 wants every part but the last to be at least
//! 5 MiB, while a PATCH may bring any number of bytes, so bytes that do not fill a part yet
//! wait in a small "tail" object. Each commit writes the state it leads to under the new
//! offset, never over the old one:
//!
//! ```text
//! uploads/<id>/manifest-<offset>   JSON: the multipart upload's id and its parts so far
//! uploads/<id>/tail-<offset>       the bytes after the last whole part (less than a part)
//! uploads/<id>/whole               the finished object, for the checks
//! bundles/<case>/<sha256>.zip      accepted bundles
//! ```
//!
//! The database's offset names the manifest that counts; state written for a commit that
//! never reached the database is ignored and cleared by the next commit. Parts are
//! [`PART_SIZE`] bytes, read from the chunk file one at a time, so an upload holds at most one
//! part in memory whatever the size of its PATCHes.
//!
//! Credentials: `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` from the environment (never
//! the URL).

use std::io::{self, Read, Write};
use std::path::PathBuf;

use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as Key;
use object_store::{MultipartId, ObjectStore, PutPayload};
use serde::{Deserialize, Serialize};

use super::{BundleRead, Objects, Stray};
use crate::files::{self, DataDir, remove_if_exists};
use crate::ids::{CaseId, UploadId};

/// Bytes per multipart part (S3's minimum is 5 MiB for all but the last).
pub const PART_SIZE: usize = 8 << 20;

/// Object-store calls holding a part in memory at once, per replica: each holds up to
/// [`PART_SIZE`] bytes, so this bounds their memory (32 MiB) however many uploads finish
/// together. Two cores' worth of hashing and signing keep the store busy at this count.
const PARTS_IN_MEMORY: usize = 4;

/// Where the bucket is and how to sign for it.
#[derive(Clone)]
pub struct S3Config {
    pub bucket: String,
    /// `http://127.0.0.1:9000`, `https://s3.example.com`…
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl S3Config {
    /// `s3://BUCKET?endpoint=URL[&region=R]`, the keys from `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY`.
    pub fn from_url_and_env(text: &str) -> Result<Self, String> {
        let url = url::Url::parse(text).map_err(|e| format!("`{text}`: {e}"))?;
        if url.scheme() != "s3" {
            return Err(format!("`{text}`: not an s3:// URL"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "the objects URL carries credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead".into(),
            );
        }
        let bucket = url
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| format!("`{text}`: name the bucket (s3://BUCKET?endpoint=URL)"))?
            .to_owned();
        let (mut endpoint, mut region) = (None, "us-east-1".to_owned());
        for (name, value) in url.query_pairs() {
            match &*name {
                "endpoint" => endpoint = Some(value.into_owned()),
                "region" => region = value.into_owned(),
                other => return Err(format!("`{text}`: unknown parameter `{other}`")),
            }
        }
        let endpoint = endpoint.ok_or_else(|| format!("`{text}`: add ?endpoint=URL"))?;
        let key = |name: &str| {
            std::env::var(name).map_err(|_| format!("set {name} for the object store"))
        };
        Ok(S3Config {
            bucket,
            endpoint,
            access_key: key("AWS_ACCESS_KEY_ID")?,
            secret_key: key("AWS_SECRET_ACCESS_KEY")?,
            region,
        })
    }
}

pub struct S3Objects {
    store: std::sync::Arc<AmazonS3>,
    /// For [`Objects::bundle_location`].
    bucket: String,
    /// This replica's data folder: chunks in flight and assembled copies for the checks.
    scratch: DataDir,
    runtime: tokio::runtime::Handle,
    /// See [`PARTS_IN_MEMORY`].
    buffers: tokio::sync::Semaphore,
}

/// The state of an upload at one offset.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    multipart: Option<String>,
    /// The parts' ids (ETags), in order; each [`PART_SIZE`] bytes.
    parts: Vec<String>,
}

fn other(error: impl std::fmt::Display) -> io::Error {
    io::Error::other(error.to_string())
}

fn is_not_found(error: &object_store::Error) -> bool {
    matches!(error, object_store::Error::NotFound { .. })
}

impl S3Objects {
    /// Connects (lazily: the first request tells whether the bucket answers). Must be called
    /// inside the tokio runtime whose handle the blocking methods use.
    pub fn new(config: &S3Config, scratch: DataDir) -> io::Result<Self> {
        let store = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_endpoint(&config.endpoint)
            .with_region(&config.region)
            .with_access_key_id(&config.access_key)
            .with_secret_access_key(&config.secret_key)
            .with_allow_http(config.endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false)
            .build()
            .map_err(other)?;
        Ok(S3Objects {
            store: std::sync::Arc::new(store),
            bucket: config.bucket.clone(),
            scratch,
            runtime: tokio::runtime::Handle::try_current().map_err(other)?,
            buffers: tokio::sync::Semaphore::new(PARTS_IN_MEMORY),
        })
    }

    /// Runs one object-store call from a blocking thread (where every `Objects` method runs).
    fn wait<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(work)
    }

    fn prefix(id: &UploadId) -> Key {
        Key::from(format!("uploads/{id}"))
    }
    fn manifest_key(id: &UploadId, offset: u64) -> Key {
        Key::from(format!("uploads/{id}/manifest-{offset}"))
    }
    fn tail_key(id: &UploadId, offset: u64) -> Key {
        Key::from(format!("uploads/{id}/tail-{offset}"))
    }
    fn whole_key(id: &UploadId) -> Key {
        Key::from(format!("uploads/{id}/whole"))
    }
    fn bundle_key(case: CaseId, sha256: &str) -> Key {
        Key::from(format!("bundles/{case}/{sha256}.zip"))
    }
    fn assembled_path(&self, id: &UploadId) -> PathBuf {
        self.scratch.uploads().join(format!("{id}.assembled"))
    }

    /// A place among the [`PARTS_IN_MEMORY`] calls that hold a part, until dropped.
    fn buffer_slot(&self) -> io::Result<tokio::sync::SemaphorePermit<'_>> {
        self.wait(self.buffers.acquire()).map_err(other)
    }

    fn read(&self, key: &Key) -> io::Result<Option<bytes::Bytes>> {
        self.wait(async {
            match self.store.get(key).await {
                Ok(found) => Ok(Some(found.bytes().await.map_err(other)?)),
                Err(error) if is_not_found(&error) => Ok(None),
                Err(error) => Err(other(error)),
            }
        })
    }

    fn put(&self, key: &Key, bytes: impl Into<PutPayload>) -> io::Result<()> {
        self.wait(self.store.put(key, bytes.into()))
            .map(drop)
            .map_err(other)
    }

    fn exists(&self, key: &Key) -> io::Result<bool> {
        match self.wait(self.store.head(key)) {
            Ok(_) => Ok(true),
            Err(error) if is_not_found(&error) => Ok(false),
            Err(error) => Err(other(error)),
        }
    }

    fn keys_under(&self, prefix: &Key) -> io::Result<Vec<Key>> {
        self.wait(async {
            let mut keys = Vec::new();
            let mut listing = self.store.list(Some(prefix));
            while let Some(meta) = listing.next().await {
                keys.push(meta.map_err(other)?.location);
            }
            Ok(keys)
        })
    }

    fn delete(&self, key: &Key) -> io::Result<()> {
        match self.wait(self.store.delete(key)) {
            Err(error) if !is_not_found(&error) => Err(other(error)),
            _ => Ok(()),
        }
    }

    fn manifest(&self, id: &UploadId, offset: u64) -> io::Result<Manifest> {
        if offset == 0 {
            return Ok(Manifest::default());
        }
        let bytes = self
            .read(&Self::manifest_key(id, offset))?
            .ok_or_else(|| other(format!("upload {id} has no state at offset {offset}")))?;
        serde_json::from_slice(&bytes).map_err(other)
    }

    /// The offset of the newest manifest among an upload's `keys` (0: none).
    fn newest_offset(keys: &[Key]) -> u64 {
        keys.iter()
            .filter_map(|key| key.filename()?.strip_prefix("manifest-")?.parse().ok())
            .max()
            .unwrap_or(0)
    }

    /// Finishes the multipart upload, whose committed state is at `offset` (its length),
    /// into `whole` (once: a second call finds it there). Named by the database's offset,
    /// not found by listing: a listing costs some stores (s3s-fs) a walk of the bucket.
    fn complete(&self, id: &UploadId, offset: u64) -> io::Result<()> {
        let whole = Self::whole_key(id);
        if self.exists(&whole)? {
            return Ok(());
        }
        let manifest = self.manifest(id, offset)?;
        let tail = Self::tail_key(id, offset);
        let Some(multipart) = manifest.multipart else {
            // Smaller than one part: the tail is the whole upload, copied by the store
            // itself rather than through this replica's memory.
            return match self.wait(self.store.copy(&tail, &whole)) {
                Err(error) if is_not_found(&error) => self.put(&whole, Vec::new()),
                done => done.map_err(other),
            };
        };
        let multipart: MultipartId = multipart;
        let mut parts: Vec<PartId> = manifest
            .parts
            .into_iter()
            .map(|content_id| PartId { content_id })
            .collect();
        let _slot = self.buffer_slot()?;
        let tail = self.read(&tail)?.unwrap_or_default();
        if !tail.is_empty() {
            let last = self
                .wait(
                    self.store
                        .put_part(&whole, &multipart, parts.len(), tail.into()),
                )
                .map_err(other)?;
            parts.push(last);
        }
        self.wait(self.store.complete_multipart(&whole, &multipart, parts))
            .map(drop)
            .map_err(other)
    }
}

impl Objects for S3Objects {
    fn chunk_path(&self, id: &UploadId, nonce: &str) -> PathBuf {
        self.scratch.chunk(id, nonce)
    }

    fn append(&self, id: &UploadId, chunk: &std::path::Path, offset: u64) -> io::Result<()> {
        let mut manifest = self.manifest(id, offset)?;
        // What earlier commits (or ones that never reached the database) left: only the
        // state at `offset` counts. Before the first commit there is nothing earlier, and
        // what a commit that never reached the database left goes with the upload (or at
        // start-up); skipping the listing then spares a whole-upload-in-one-PATCH its cost.
        if offset > 0 {
            let keep = [Self::manifest_key(id, offset), Self::tail_key(id, offset)];
            for key in self.keys_under(&Self::prefix(id))? {
                if !keep.contains(&key) && key != Self::whole_key(id) {
                    self.delete(&key)?;
                }
            }
        }
        let whole = Self::whole_key(id);
        let _slot = self.buffer_slot()?;
        let mut buffer = self
            .read(&Self::tail_key(id, offset))?
            .map(|tail| tail.to_vec())
            .unwrap_or_default();
        let mut input = std::fs::File::open(chunk)?;
        let mut received = 0u64;
        loop {
            let start = buffer.len();
            buffer.resize(PART_SIZE, 0);
            let mut filled = start;
            while filled < PART_SIZE {
                let read = input.read(&mut buffer[filled..])?;
                if read == 0 {
                    break;
                }
                filled += read;
            }
            received += (filled - start) as u64;
            buffer.truncate(filled);
            if filled < PART_SIZE {
                break; // the chunk is used up; what is left is the new tail
            }
            let multipart = match &manifest.multipart {
                Some(id) => id.clone(),
                None => {
                    let created = self
                        .wait(self.store.create_multipart(&whole))
                        .map_err(other)?;
                    manifest.multipart = Some(created.clone());
                    created
                }
            };
            let part = std::mem::take(&mut buffer);
            let done = self
                .wait(
                    self.store
                        .put_part(&whole, &multipart, manifest.parts.len(), part.into()),
                )
                .map_err(other)?;
            manifest.parts.push(done.content_id);
        }
        let to = offset + received;
        if !buffer.is_empty() {
            self.put(&Self::tail_key(id, to), buffer)?;
        }
        self.put(
            &Self::manifest_key(id, to),
            serde_json::to_vec(&manifest).map_err(other)?,
        )
    }

    fn assembled(&self, id: &UploadId, length: u64) -> io::Result<PathBuf> {
        self.complete(id, length)?;
        let path = self.assembled_path(id);
        let mut out = files::private_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        self.wait(async {
            let found = self.store.get(&Self::whole_key(id)).await.map_err(other)?;
            let mut stream = found.into_stream();
            while let Some(bytes) = stream.next().await {
                out.write_all(&bytes.map_err(other)?)?;
            }
            io::Result::Ok(())
        })?;
        out.sync_all()?;
        Ok(path)
    }

    fn has_part(&self, id: &UploadId) -> io::Result<bool> {
        Ok(!self.keys_under(&Self::prefix(id))?.is_empty())
    }

    fn remove_part(&self, id: &UploadId) -> io::Result<()> {
        let keys = self.keys_under(&Self::prefix(id))?;
        if let Ok(Manifest {
            multipart: Some(multipart),
            ..
        }) = self.manifest(id, Self::newest_offset(&keys))
        {
            // Frees the parts stored so far; gone already if it was completed.
            let _ = self.wait(self.store.abort_multipart(&Self::whole_key(id), &multipart));
        }
        for key in keys {
            self.delete(&key)?;
        }
        remove_if_exists(&self.assembled_path(id))
    }

    fn keep(&self, id: &UploadId, case: CaseId, sha256: &str) -> io::Result<()> {
        let whole = Self::whole_key(id);
        if self.exists(&whole)? {
            self.wait(self.store.copy(&whole, &Self::bundle_key(case, sha256)))
                .map_err(other)?;
        }
        self.remove_part(id)
    }

    fn has_bundle(&self, case: CaseId, sha256: &str) -> io::Result<bool> {
        self.exists(&Self::bundle_key(case, sha256))
    }

    fn open_bundle(&self, case: CaseId, sha256: &str) -> io::Result<Box<dyn BundleRead>> {
        let key = Self::bundle_key(case, sha256);
        let size = match self.wait(self.store.head(&key)) {
            Ok(meta) => meta.size,
            Err(error) if is_not_found(&error) => {
                return Err(io::Error::new(io::ErrorKind::NotFound, error.to_string()));
            }
            Err(error) => return Err(other(error)),
        };
        Ok(Box::new(RangedObject {
            store: self.store.clone(),
            runtime: self.runtime.clone(),
            key,
            size,
            position: 0,
            block: bytes::Bytes::new(),
            block_start: 0,
        }))
    }

    fn bundle_location(&self, case: CaseId, sha256: &str) -> String {
        format!("s3://{}/{}", self.bucket, Self::bundle_key(case, sha256))
    }

    fn put_bundle(&self, case: CaseId, sha256: &str, from: &std::path::Path) -> io::Result<()> {
        // Streamed in parts: a bundle may be far larger than what is worth holding in memory.
        let key = Self::bundle_key(case, sha256);
        let store: std::sync::Arc<dyn ObjectStore> = self.store.clone();
        self.wait(async {
            let mut input = tokio::fs::File::open(from).await?;
            let mut out = object_store::buffered::BufWriter::new(store, key);
            tokio::io::copy(&mut input, &mut out).await?;
            tokio::io::AsyncWriteExt::shutdown(&mut out).await
        })
    }

    fn strays(&self) -> io::Result<Vec<Stray>> {
        let mut found: Vec<Stray> = Vec::new();
        for key in self.keys_under(&Key::from("uploads"))? {
            let owner = key.parts().nth(1).and_then(|p| UploadId::parse(p.as_ref()));
            if let Some(owner) = owner
                && !found.iter().any(|s| s.owner.as_ref() == Some(&owner))
            {
                found.push(Stray {
                    name: format!("s3 uploads/{owner}"),
                    owner: Some(owner),
                });
            }
        }
        // This replica's chunks and assembled copies: none is in use before it serves.
        for entry in std::fs::read_dir(self.scratch.uploads())? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            found.push(Stray { name, owner: None });
        }
        Ok(found)
    }

    fn remove_stray(&self, stray: &Stray) -> io::Result<()> {
        match &stray.owner {
            Some(id) => self.remove_part(id),
            None => remove_if_exists(&self.scratch.uploads().join(&stray.name)),
        }
    }
}

/// Bytes fetched per ranged read of a kept bundle: a zip's central directory and a small
/// entry take one or two, and a reader holds at most this much.
const READ_BLOCK: u64 = 1 << 20;

/// A kept bundle read in place by ranged GETs, so the console and `case show` can open its
/// zip without copying the whole object. Blocking: used on blocking threads, as `Objects` is.
struct RangedObject {
    store: std::sync::Arc<AmazonS3>,
    runtime: tokio::runtime::Handle,
    key: Key,
    size: u64,
    position: u64,
    /// The last block fetched and where it starts.
    block: bytes::Bytes,
    block_start: u64,
}

impl Read for RangedObject {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() || self.position >= self.size {
            return Ok(0);
        }
        let block_end = self.block_start + self.block.len() as u64;
        if self.position < self.block_start || self.position >= block_end {
            let end = (self.position + READ_BLOCK.max(out.len() as u64)).min(self.size);
            self.block = self
                .runtime
                .block_on(self.store.get_range(&self.key, self.position..end))
                .map_err(other)?;
            self.block_start = self.position;
            if self.block.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{} ended early", self.key),
                ));
            }
        }
        let from = usize::try_from(self.position - self.block_start).map_err(other)?;
        let n = out.len().min(self.block.len() - from);
        out[..n].copy_from_slice(&self.block[from..from + n]);
        self.position += n as u64;
        Ok(n)
    }
}

impl io::Seek for RangedObject {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let target = match to {
            io::SeekFrom::Start(n) => Some(n),
            io::SeekFrom::End(n) => self.size.checked_add_signed(n),
            io::SeekFrom::Current(n) => self.position.checked_add_signed(n),
        };
        self.position = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.position)
    }
}
