//! Where the intake keeps its state, behind two traits so one binary can run on one machine
//! (SQLite + the data folder: the default) or as several replicas sharing a database.
//!
//! - [`Metadata`]: cases, tokens, uploads (offsets), receipts, idempotency keys, quotas and
//!   the console's tables. [`crate::store::Store`] (SQLite) and
//!   [`postgres::Postgres`] implement it.
//! - [`Objects`]: the bytes of unfinished uploads and of accepted bundles. [`LocalObjects`]
//!   (the data folder) implements it.
//!
//! Both are synchronous: handlers call them on `spawn_blocking` threads
//! (`AppState::blocking`), as they always called the SQLite store.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::files::{self, DataDir, remove_if_exists, sync_dir};
use crate::ids::{CaseId, UploadId};
use crate::store::console::{
    BundleFacts, CaseEvent, CaseStatus, CaseWork, FleetSignature, FleetVersion, QueueFilter,
    QueueRow, SessionRecord, StaffLogin, StaffRecord,
};
use crate::store::{
    CaseHandle, CaseRecord, DeclaredBundle, NewCase, Receipt, Store, StoreError, TokenRecord,
    UploadRecord, Usage,
};
use jcdiag_profile::sla::Tier;

pub mod postgres;
pub mod s3;

/// Where uploads and bundles go (`--objects`).
#[derive(Debug, Clone)]
pub enum ObjectsConfig {
    /// A folder every replica mounts.
    Folder(PathBuf),
    /// An S3-compatible bucket.
    S3(s3::S3Config),
}

impl ObjectsConfig {
    /// `s3://BUCKET?endpoint=URL` (keys from the environment), or a folder.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.starts_with("s3://") {
            s3::S3Config::from_url_and_env(text).map(ObjectsConfig::S3)
        } else {
            Ok(ObjectsConfig::Folder(PathBuf::from(text)))
        }
    }
}

/// Everything but the bytes. Every method is one transaction: implementations must keep
/// "check then write" sequences (idempotency keys, offsets, quotas, case numbers) atomic
/// across every process sharing the database.
pub trait Metadata: Send + Sync {
    // ----- tokens and orgs -----
    fn insert_token(
        &self,
        hash: &str,
        record: &TokenRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError>;
    fn set_org_tier(&self, org: &str, tier: Tier, now: DateTime<Utc>) -> Result<(), StoreError>;
    fn org_tier(&self, org: &str) -> Result<Option<Tier>, StoreError>;

    // ----- cases -----
    fn create_case(
        &self,
        idempotency_key: &str,
        case: &NewCase,
        bundle: &DeclaredBundle,
        now: DateTime<Utc>,
    ) -> Result<CaseHandle, StoreError>;
    fn add_attachment(
        &self,
        org: &str,
        idempotency_key: &str,
        case_id: CaseId,
        bundle: &DeclaredBundle,
    ) -> Result<CaseHandle, StoreError>;
    fn case_org(&self, case_id: CaseId) -> Result<Option<String>, StoreError>;
    fn pending_bundles(&self, case_id: CaseId) -> Result<Vec<DeclaredBundle>, StoreError>;
    fn add_escalation(
        &self,
        case_id: CaseId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    fn case(&self, case_id: CaseId) -> Result<Option<CaseRecord>, StoreError>;
    fn cases(&self) -> Result<Vec<CaseRecord>, StoreError>;

    // ----- uploads -----
    fn upload(&self, id: &UploadId) -> Result<Option<UploadRecord>, StoreError>;
    /// Records `upload` if `admit` accepts the case's and the org's usage, read in the same
    /// transaction; false (nothing written) if it refused.
    fn insert_upload(
        &self,
        upload: &UploadRecord,
        now: DateTime<Utc>,
        admit: &mut dyn FnMut(&Usage, &Usage) -> bool,
    ) -> Result<bool, StoreError>;
    fn advance_offset(&self, id: &UploadId, from: u64, to: u64) -> Result<bool, StoreError>;
    /// Commits one PATCH: if the upload is still unfinished at offset `from`, runs `write`
    /// (which appends the chunk to the upload's bytes) and moves the offset to `to`. No
    /// other commit to the same upload, from this process or another replica, can run
    /// between the check and the move.
    fn commit_chunk(
        &self,
        id: &UploadId,
        from: u64,
        to: u64,
        write: &mut dyn FnMut() -> io::Result<()>,
    ) -> Result<ChunkCommit, StoreError>;
    /// Records the receipt unless the upload already has one (another replica finished it
    /// first: its receipt stands).
    fn complete_upload(&self, upload: &UploadRecord, receipt: &Receipt) -> Result<(), StoreError>;
    fn delete_upload(&self, id: &UploadId) -> Result<(), StoreError>;
    fn expired_uploads(&self, now: DateTime<Utc>) -> Result<Vec<UploadId>, StoreError>;
    fn unfinished_full_uploads(&self) -> Result<Vec<UploadId>, StoreError>;

    // ----- failed authentications per address (`Guards::max_auth_failures`) -----
    /// Counts a failed authentication from `key` in its current window (a new window once
    /// `window` has passed) and returns the count. `None`: this store does not keep them,
    /// and the process counts them itself (one process per SQLite store).
    fn count_auth_failure(
        &self,
        _key: &str,
        _window: std::time::Duration,
        _now: DateTime<Utc>,
    ) -> Result<Option<u32>, StoreError> {
        Ok(None)
    }
    /// The start and count of `key`'s current window, if it has one; `None` as above.
    #[allow(clippy::type_complexity)] // two levels of "none" that mean different things
    fn auth_failures(
        &self,
        _key: &str,
    ) -> Result<Option<Option<(DateTime<Utc>, u32)>>, StoreError> {
        Ok(None)
    }

    // ----- the support console (store/console.rs) -----
    /// Adds an account, or replaces its password (and unlocks it); true when new.
    fn put_staff(
        &self,
        email: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Removes an account and ends its sessions; false when there was none.
    fn remove_staff(&self, email: &str) -> Result<bool, StoreError>;
    fn staff(&self) -> Result<Vec<StaffRecord>, StoreError>;
    fn staff_login(&self, email: &str) -> Result<Option<StaffLogin>, StoreError>;
    fn staff_login_failed(
        &self,
        email: &str,
        lock_until: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;
    fn insert_session(
        &self,
        hash: &str,
        email: &str,
        csrf: &str,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    fn session(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<SessionRecord>, StoreError>;
    fn delete_session(&self, hash: &str) -> Result<(), StoreError>;
    fn case_work(&self, case_id: CaseId) -> Result<CaseWork, StoreError>;
    fn set_case_status(
        &self,
        case_id: CaseId,
        status: CaseStatus,
        staff: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    fn record_first_response(
        &self,
        case_id: CaseId,
        staff: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    fn add_case_event(
        &self,
        case_id: CaseId,
        kind: &str,
        staff: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    fn case_events(&self, case_id: CaseId) -> Result<Vec<CaseEvent>, StoreError>;
    fn queue(
        &self,
        filter: &QueueFilter,
        now: DateTime<Utc>,
        limit: u64,
        offset: u64,
    ) -> Result<(Vec<QueueRow>, u64), StoreError>;
    fn case_orgs(&self) -> Result<Vec<String>, StoreError>;
    fn bundles_without_facts(&self) -> Result<Vec<(CaseId, String)>, StoreError>;
    fn put_bundle_facts(
        &self,
        case_id: CaseId,
        sha256: &str,
        facts: &BundleFacts,
    ) -> Result<(), StoreError>;
    fn fleet_signatures(&self, limit: u64) -> Result<Vec<FleetSignature>, StoreError>;
    fn fleet_versions(&self) -> Result<Vec<FleetVersion>, StoreError>;
}

/// What [`Metadata::commit_chunk`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkCommit {
    Committed,
    /// Nothing written: the upload is at this offset (or finished) now.
    Moved(u64),
    /// Nothing written: the upload no longer exists.
    Gone,
}

/// SQLite: every method is the store's own.
impl Metadata for Store {
    fn insert_token(
        &self,
        hash: &str,
        record: &TokenRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Store::insert_token(self, hash, record, now)
    }
    fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        Store::token(self, hash)
    }
    fn set_org_tier(&self, org: &str, tier: Tier, now: DateTime<Utc>) -> Result<(), StoreError> {
        Store::set_org_tier(self, org, tier, now)
    }
    fn org_tier(&self, org: &str) -> Result<Option<Tier>, StoreError> {
        Store::org_tier(self, org)
    }
    fn create_case(
        &self,
        idempotency_key: &str,
        case: &NewCase,
        bundle: &DeclaredBundle,
        now: DateTime<Utc>,
    ) -> Result<CaseHandle, StoreError> {
        Store::create_case(self, idempotency_key, case, bundle, now)
    }
    fn add_attachment(
        &self,
        org: &str,
        idempotency_key: &str,
        case_id: CaseId,
        bundle: &DeclaredBundle,
    ) -> Result<CaseHandle, StoreError> {
        Store::add_attachment(self, org, idempotency_key, case_id, bundle)
    }
    fn case_org(&self, case_id: CaseId) -> Result<Option<String>, StoreError> {
        Store::case_org(self, case_id)
    }
    fn pending_bundles(&self, case_id: CaseId) -> Result<Vec<DeclaredBundle>, StoreError> {
        Store::pending_bundles(self, case_id)
    }
    fn add_escalation(
        &self,
        case_id: CaseId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Store::add_escalation(self, case_id, reason, now)
    }
    fn case(&self, case_id: CaseId) -> Result<Option<CaseRecord>, StoreError> {
        Store::case(self, case_id)
    }
    fn cases(&self) -> Result<Vec<CaseRecord>, StoreError> {
        Store::cases(self)
    }
    fn upload(&self, id: &UploadId) -> Result<Option<UploadRecord>, StoreError> {
        Store::upload(self, id)
    }
    fn insert_upload(
        &self,
        upload: &UploadRecord,
        now: DateTime<Utc>,
        admit: &mut dyn FnMut(&Usage, &Usage) -> bool,
    ) -> Result<bool, StoreError> {
        let admitted = Store::insert_upload_checked(self, upload, now, |case, org| {
            if admit(case, org) { Ok(()) } else { Err(()) }
        })?;
        Ok(admitted.is_ok())
    }
    fn advance_offset(&self, id: &UploadId, from: u64, to: u64) -> Result<bool, StoreError> {
        Store::advance_offset(self, id, from, to)
    }
    fn commit_chunk(
        &self,
        id: &UploadId,
        from: u64,
        to: u64,
        write: &mut dyn FnMut() -> io::Result<()>,
    ) -> Result<ChunkCommit, StoreError> {
        // One process owns a data folder, and its upload claims (`AppState::claim`) keep
        // two commits to one upload apart; the conditional offset update is the backstop.
        let Some(current) = Store::upload(self, id)? else {
            return Ok(ChunkCommit::Gone);
        };
        if current.offset != from || current.is_complete() {
            return Ok(ChunkCommit::Moved(current.offset));
        }
        write().map_err(StoreError::Objects)?;
        if !Store::advance_offset(self, id, from, to)? {
            return Ok(ChunkCommit::Moved(from));
        }
        Ok(ChunkCommit::Committed)
    }
    fn complete_upload(&self, upload: &UploadRecord, receipt: &Receipt) -> Result<(), StoreError> {
        Store::complete_upload(self, upload, receipt)
    }
    fn delete_upload(&self, id: &UploadId) -> Result<(), StoreError> {
        Store::delete_upload(self, id)
    }
    fn expired_uploads(&self, now: DateTime<Utc>) -> Result<Vec<UploadId>, StoreError> {
        Store::expired_uploads(self, now)
    }
    fn unfinished_full_uploads(&self) -> Result<Vec<UploadId>, StoreError> {
        Store::unfinished_full_uploads(self)
    }
    fn put_staff(
        &self,
        email: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Store::put_staff(self, email, password_hash, now)
    }
    fn remove_staff(&self, email: &str) -> Result<bool, StoreError> {
        Store::remove_staff(self, email)
    }
    fn staff(&self) -> Result<Vec<StaffRecord>, StoreError> {
        Store::staff(self)
    }
    fn staff_login(&self, email: &str) -> Result<Option<StaffLogin>, StoreError> {
        Store::staff_login(self, email)
    }
    fn staff_login_failed(
        &self,
        email: &str,
        lock_until: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        Store::staff_login_failed(self, email, lock_until)
    }
    fn insert_session(
        &self,
        hash: &str,
        email: &str,
        csrf: &str,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Store::insert_session(self, hash, email, csrf, expires, now)
    }
    fn session(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<SessionRecord>, StoreError> {
        Store::session(self, hash, now)
    }
    fn delete_session(&self, hash: &str) -> Result<(), StoreError> {
        Store::delete_session(self, hash)
    }
    fn case_work(&self, case_id: CaseId) -> Result<CaseWork, StoreError> {
        Store::case_work(self, case_id)
    }
    fn set_case_status(
        &self,
        case_id: CaseId,
        status: CaseStatus,
        staff: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Store::set_case_status(self, case_id, status, staff, now)
    }
    fn record_first_response(
        &self,
        case_id: CaseId,
        staff: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Store::record_first_response(self, case_id, staff, text, now)
    }
    fn add_case_event(
        &self,
        case_id: CaseId,
        kind: &str,
        staff: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Store::add_case_event(self, case_id, kind, staff, text, now)
    }
    fn case_events(&self, case_id: CaseId) -> Result<Vec<CaseEvent>, StoreError> {
        Store::case_events(self, case_id)
    }
    fn queue(
        &self,
        filter: &QueueFilter,
        now: DateTime<Utc>,
        limit: u64,
        offset: u64,
    ) -> Result<(Vec<QueueRow>, u64), StoreError> {
        Store::queue(self, filter, now, limit, offset)
    }
    fn case_orgs(&self) -> Result<Vec<String>, StoreError> {
        Store::case_orgs(self)
    }
    fn bundles_without_facts(&self) -> Result<Vec<(CaseId, String)>, StoreError> {
        Store::bundles_without_facts(self)
    }
    fn put_bundle_facts(
        &self,
        case_id: CaseId,
        sha256: &str,
        facts: &BundleFacts,
    ) -> Result<(), StoreError> {
        Store::put_bundle_facts(self, case_id, sha256, facts)
    }
    fn fleet_signatures(&self, limit: u64) -> Result<Vec<FleetSignature>, StoreError> {
        Store::fleet_signatures(self, limit)
    }
    fn fleet_versions(&self) -> Result<Vec<FleetVersion>, StoreError> {
        Store::fleet_versions(self)
    }
}

/// A file in the uploads area that may belong to no upload (see [`Objects::strays`]).
#[derive(Debug, Clone)]
pub struct Stray {
    pub name: String,
    /// The upload whose bytes it holds, if its name says so.
    pub owner: Option<UploadId>,
}

/// A kept bundle, opened for reading where it is: a file, or an object read by ranges.
pub trait BundleRead: io::Read + io::Seek + Send {}
impl<T: io::Read + io::Seek + Send> BundleRead for T {}

/// The bytes: unfinished uploads (their committed prefix) and accepted bundles.
///
/// A PATCH body is always received into a local chunk file first ([`Objects::chunk_path`]);
/// only a body that arrived whole is handed to [`Objects::append`].
pub trait Objects: Send + Sync {
    /// A fresh local file name for one PATCH body; the nonce lets two PATCHes race safely.
    fn chunk_path(&self, id: &UploadId, nonce: &str) -> PathBuf;
    /// Appends the whole `chunk` to the upload's bytes at `offset`, durably, cutting off
    /// anything past `offset` first (left by a crash before the offset was committed).
    fn append(&self, id: &UploadId, chunk: &Path, offset: u64) -> io::Result<()>;
    /// A local, seekable file with every byte of the upload (all `length` of them, as the
    /// database's offset says), for hashing and zip checks.
    fn assembled(&self, id: &UploadId, length: u64) -> io::Result<PathBuf>;
    fn has_part(&self, id: &UploadId) -> io::Result<bool>;
    fn remove_part(&self, id: &UploadId) -> io::Result<()>;
    /// Makes the upload's bytes the case's bundle `sha256`, durably. Tolerates a bundle
    /// already kept (start-up recovery repeats it).
    fn keep(&self, id: &UploadId, case: CaseId, sha256: &str) -> io::Result<()>;
    fn has_bundle(&self, case: CaseId, sha256: &str) -> io::Result<bool>;
    /// Opens a kept bundle for reading (the console, `case show`); `NotFound` if absent.
    fn open_bundle(&self, case: CaseId, sha256: &str) -> io::Result<Box<dyn BundleRead>>;
    /// Where a kept bundle is, for people: a file's path or the object's `s3://` URL.
    fn bundle_location(&self, case: CaseId, sha256: &str) -> String;
    /// Stores a bundle from a local file (`migrate`), replacing any copy already there.
    fn put_bundle(&self, case: CaseId, sha256: &str, from: &Path) -> io::Result<()>;
    /// Everything in the uploads area, for start-up clean-up.
    fn strays(&self) -> io::Result<Vec<Stray>>;
    fn remove_stray(&self, stray: &Stray) -> io::Result<()>;
}

/// A folder's `uploads/` and `bundles/` (files.rs has the layout): the data folder itself,
/// or (`--objects DIR`) a folder every replica mounts.
pub struct LocalObjects {
    dir: DataDir,
    /// Where PATCH bodies are received: always this replica's own data folder, so one
    /// replica's start-up clean-up never touches another's chunks in flight.
    scratch: DataDir,
}

impl LocalObjects {
    /// Everything in the data folder (one server).
    pub fn new(dir: DataDir) -> Self {
        LocalObjects {
            scratch: dir.clone(),
            dir,
        }
    }

    /// Parts and bundles in `shared`, chunks in this replica's `scratch`.
    pub fn shared(shared: DataDir, scratch: DataDir) -> Self {
        LocalObjects {
            dir: shared,
            scratch,
        }
    }

    fn is_shared(&self) -> bool {
        self.dir.root() != self.scratch.root()
    }
}

impl Objects for LocalObjects {
    fn chunk_path(&self, id: &UploadId, nonce: &str) -> PathBuf {
        self.scratch.chunk(id, nonce)
    }

    fn append(&self, id: &UploadId, chunk: &Path, offset: u64) -> io::Result<()> {
        let part = self.dir.part(id);
        let mut out = files::private_options()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&part)?;
        out.set_len(offset)?;
        io::Seek::seek(&mut out, io::SeekFrom::Start(offset))?;
        io::copy(&mut fs::File::open(chunk)?, &mut out)?;
        out.sync_all()?;
        if offset == 0 {
            // The part file is new: make its name durable too.
            sync_dir(&self.dir.uploads())?;
        }
        Ok(())
    }

    fn assembled(&self, id: &UploadId, _length: u64) -> io::Result<PathBuf> {
        Ok(self.dir.part(id))
    }

    fn has_part(&self, id: &UploadId) -> io::Result<bool> {
        Ok(self.dir.part(id).exists())
    }

    fn remove_part(&self, id: &UploadId) -> io::Result<()> {
        remove_if_exists(&self.dir.part(id))
    }

    fn keep(&self, id: &UploadId, case: CaseId, sha256: &str) -> io::Result<()> {
        let part = self.dir.part(id);
        let folder = self.dir.case_bundles(case);
        if !folder.exists() {
            files::create_private_dir_all(&folder)?;
            sync_dir(&self.dir.bundles())?;
        }
        if part.exists() {
            fs::rename(&part, self.dir.bundle(case, sha256))?;
        }
        sync_dir(&folder)?;
        sync_dir(&self.dir.uploads())
    }

    fn has_bundle(&self, case: CaseId, sha256: &str) -> io::Result<bool> {
        Ok(self.dir.bundle(case, sha256).exists())
    }

    fn open_bundle(&self, case: CaseId, sha256: &str) -> io::Result<Box<dyn BundleRead>> {
        Ok(Box::new(fs::File::open(self.dir.bundle(case, sha256))?))
    }

    fn bundle_location(&self, case: CaseId, sha256: &str) -> String {
        self.dir.bundle(case, sha256).display().to_string()
    }

    fn put_bundle(&self, case: CaseId, sha256: &str, from: &Path) -> io::Result<()> {
        let target = self.dir.bundle(case, sha256);
        if target == from {
            return Ok(());
        }
        let folder = self.dir.case_bundles(case);
        files::create_private_dir_all(&folder)?;
        let mut out = files::private_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&target)?;
        io::copy(&mut fs::File::open(from)?, &mut out)?;
        out.sync_all()?;
        sync_dir(&folder)
    }

    fn strays(&self) -> io::Result<Vec<Stray>> {
        let mut found = Vec::new();
        for entry in fs::read_dir(self.dir.uploads())? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            let owner = name.strip_suffix(".part").and_then(UploadId::parse);
            // In a shared folder, only parts are ours to judge.
            if owner.is_some() || !self.is_shared() {
                found.push(Stray { name, owner });
            }
        }
        if self.is_shared() {
            // This replica's own chunks: none is in flight before it serves.
            for entry in fs::read_dir(self.scratch.uploads())? {
                let name = entry?.file_name().to_string_lossy().into_owned();
                found.push(Stray {
                    name: format!("scratch/{name}"),
                    owner: None,
                });
            }
        }
        Ok(found)
    }

    fn remove_stray(&self, stray: &Stray) -> io::Result<()> {
        // Names come from read_dir of an uploads/ folder: a plain file name, never a path.
        match stray.name.strip_prefix("scratch/") {
            Some(name) => remove_if_exists(&self.scratch.uploads().join(name)),
            None => remove_if_exists(&self.dir.uploads().join(&stray.name)),
        }
    }
}
