//! The test harness shared by the workspace's integration tests (`publish = false`): a real
//! jcdiag-intake on 127.0.0.1 with real TLS (a throwaway CA and leaf made with rcgen), a reqwest
//! client that trusts only that CA, and helpers that speak the API. Every reply the helpers see is
//! checked against `openapi/intake-v1.json`, so the tests double as a conformance check.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use jcdiag_intake::backend::postgres::{Database, Postgres};
use jcdiag_intake::backend::{Metadata, ObjectsConfig};
use jcdiag_intake::store::Store;
use jcdiag_intake::{Config, RunningServer, serve, tls, tokens};
use reqwest::Method;
use reqwest::header::HeaderMap;
use rustls_pki_types::CertificateDer;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub mod postgres;
pub mod s3;
pub mod webdriver;

pub const ORG: &str = "acme";

/// Test certificates: a CA, and a leaf for 127.0.0.1 and localhost signed by it.
pub struct Certs {
    pub ca_pem: PathBuf,
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
    pub ca_der: CertificateDer<'static>,
    /// Base64 of the SHA-256 of the leaf's public key (SubjectPublicKeyInfo), for the test
    /// browser's `--ignore-certificate-errors-spki-list` (see [`webdriver`]).
    pub leaf_spki_sha256: String,
}

impl Certs {
    pub fn generate(dir: &Path) -> Certs {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "jcdiag test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let leaf_key = KeyPair::generate().unwrap();
        let leaf_params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

        let certs = Certs {
            ca_pem: dir.join("ca.pem"),
            cert_pem: dir.join("cert.pem"),
            key_pem: dir.join("key.pem"),
            ca_der: ca_cert.der().clone(),
            leaf_spki_sha256: STANDARD.encode(Sha256::digest(
                rcgen::PublicKeyData::subject_public_key_info(&leaf_key),
            )),
        };
        std::fs::write(&certs.ca_pem, ca_cert.pem()).unwrap();
        std::fs::write(&certs.cert_pem, leaf.pem()).unwrap();
        std::fs::write(&certs.key_pem, leaf_key.serialize_pem()).unwrap();
        certs
    }

    /// A rustls client configuration (ring provider) that trusts only the test CA.
    pub fn client_config(&self) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
    }

    pub fn http_client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_backend_preconfigured(self.client_config())
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap()
    }
}

/// An intake server running in this process.
pub struct Intake {
    _tmp: tempfile::TempDir,
    pub data_dir: PathBuf,
    pub certs: Certs,
    pub http: reqwest::Client,
    pub addr: SocketAddr,
    /// `https://127.0.0.1:PORT`
    pub url: String,
    server: Option<RunningServer>,
    tweak: Box<dyn Fn(&mut Config) + Send + Sync>,
    /// The PostgreSQL database the metadata is kept in (`JCDIAG_TEST_METADATA=postgres`,
    /// see [`postgres`]); `None`: SQLite in the data folder.
    pub database: Option<Database>,
    /// Where replicas share parts and bundles (`--objects`), if they do.
    pub objects: Option<ObjectsConfig>,
}

impl Intake {
    pub async fn start() -> Intake {
        Self::start_with(|_| {}).await
    }

    /// Starts a server whose configuration `tweak` adjusts (short expiries, small limits).
    pub async fn start_with(tweak: impl Fn(&mut Config) + Send + Sync + 'static) -> Intake {
        Self::start_at("127.0.0.1:0".parse().unwrap(), tweak).await
    }

    /// Starts a server on a given address (a port reserved earlier, for "server down" tests).
    pub async fn start_at(
        addr: SocketAddr,
        tweak: impl Fn(&mut Config) + Send + Sync + 'static,
    ) -> Intake {
        let tmp = tempfile::tempdir().unwrap();
        let certs = Certs::generate(tmp.path());
        let data_dir = tmp.path().join("data");
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let mut intake = Intake {
            data_dir,
            http: certs.http_client(),
            certs,
            addr: listener.local_addr().unwrap(),
            url: String::new(),
            server: None,
            tweak: Box::new(tweak),
            // S3 needs the shared database too: an upload's offsets are there.
            database: (postgres::requested() || s3::requested())
                .then(|| postgres::server().database()),
            objects: s3::requested().then(|| ObjectsConfig::S3(s3::server().bucket())),
            _tmp: tmp,
        };
        intake.launch(listener).await;
        intake
    }

    async fn launch(&mut self, listener: tokio::net::TcpListener) {
        let mut config = Config::new(&self.data_dir);
        config.tls =
            Some(tls::load_server_config(&self.certs.cert_pem, &self.certs.key_pem).unwrap());
        // As `serve` does without --public-url: the installers name the listen address.
        config.public_url = Some(format!("https://{}", self.addr));
        config.database = self.database.clone();
        config.objects = self.objects.clone();
        if let Some(database) = &self.database {
            databases()
                .lock()
                .unwrap()
                .insert(self.data_dir.clone(), database.clone());
        }
        (self.tweak)(&mut config);
        let server = serve(config, listener).await.unwrap();
        self.url = server.url();
        self.server = Some(server);
    }

    /// A first replica: metadata in a fresh PostgreSQL database, parts and bundles in a
    /// folder (`--objects`) that [`Intake::another_replica`] shares. Needs PostgreSQL: check
    /// [`postgres::unavailable`] first.
    pub async fn start_replicated() -> Intake {
        let mut intake = Intake::start_unlaunched("127.0.0.1:0".parse().unwrap(), |_| {}).await;
        intake.database = Some(postgres::server().database());
        intake.objects = Some(ObjectsConfig::Folder(intake._tmp.path().join("objects")));
        intake.launch_on_own_port().await;
        intake
    }

    /// [`Intake::start_replicated`] with parts and bundles in an S3 bucket (s3s-fs): check
    /// [`s3::unavailable`] too.
    pub async fn start_replicated_s3() -> Intake {
        let mut intake = Intake::start_unlaunched("127.0.0.1:0".parse().unwrap(), |_| {}).await;
        intake.database = Some(postgres::server().database());
        intake.objects = Some(ObjectsConfig::S3(s3::server().bucket()));
        intake.launch_on_own_port().await;
        intake
    }

    /// The bytes of an accepted bundle, wherever this server keeps them.
    pub fn bundle_bytes(&self, case_id: &str, sha256: &str) -> Option<Vec<u8>> {
        let key = format!("bundles/{case_id}/{sha256}.zip");
        match &self.objects {
            Some(ObjectsConfig::S3(config)) => s3::server().object(config, &key),
            Some(ObjectsConfig::Folder(folder)) => std::fs::read(folder.join(key)).ok(),
            None => std::fs::read(self.data_dir.join(key)).ok(),
        }
    }

    /// Uploads in progress wherever this server keeps them (chunks, parts, tails).
    pub fn upload_objects(&self) -> Vec<String> {
        let mut found: Vec<String> = self
            .files_in("uploads")
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        match &self.objects {
            Some(ObjectsConfig::S3(config)) => {
                found.extend(s3::server().objects(config, "uploads"))
            }
            Some(ObjectsConfig::Folder(folder)) => {
                for entry in std::fs::read_dir(folder.join("uploads"))
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    found.push(entry.path().display().to_string());
                }
            }
            None => {}
        }
        found
    }

    /// Another replica of `self`: the same database and objects folder, its own data
    /// folder, certificate and port.
    pub async fn another_replica(&self) -> Intake {
        let mut intake = Intake::start_unlaunched("127.0.0.1:0".parse().unwrap(), |_| {}).await;
        intake.database = self.database.clone();
        intake.objects = self.objects.clone();
        intake.launch_on_own_port().await;
        intake
    }

    async fn start_unlaunched(
        addr: SocketAddr,
        tweak: impl Fn(&mut Config) + Send + Sync + 'static,
    ) -> Intake {
        let tmp = tempfile::tempdir().unwrap();
        let certs = Certs::generate(tmp.path());
        Intake {
            data_dir: tmp.path().join("data"),
            http: certs.http_client(),
            certs,
            addr,
            url: String::new(),
            server: None,
            tweak: Box::new(tweak),
            database: None,
            objects: None,
            _tmp: tmp,
        }
    }

    async fn launch_on_own_port(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.addr = listener.local_addr().unwrap();
        self.launch(listener).await;
    }

    /// `jcdiag-intake ARGS --json --data DIR`, the command support staff read cases with,
    /// run as a process; its JSON output.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let output = std::process::Command::new(intake_bin())
            .args(args)
            .arg("--json")
            .arg("--data")
            .arg(&self.data_dir)
            .env_remove("JCDIAG_INTAKE_DATA")
            .run()
            .unwrap();
        assert!(
            output.status.success(),
            "jcdiag-intake {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// Stops the server and starts a new one on the same port and data folder.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.resume().await;
    }

    /// Stops the server; the data folder stays.
    pub async fn stop(&mut self) {
        self.server.take().expect("server running").shutdown().await;
    }

    /// Starts the server again on the same port and data folder.
    pub async fn resume(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.launch(listener).await;
        // Pooled connections died with the old server.
        self.http = self.certs.http_client();
    }

    /// Runs `work` on the server's metadata, opened the way the server opened it, on a
    /// thread of its own (the PostgreSQL client may not block an async test's thread).
    pub fn with_store<T: Send>(&self, work: impl FnOnce(&dyn Metadata) -> T + Send) -> T {
        postgres::off_runtime(|| work(&*self.store()))
    }

    /// The server's metadata, opened the way the server opened it. On PostgreSQL, use it
    /// off the async runtime only: see [`Intake::with_store`].
    pub fn store(&self) -> Box<dyn Metadata> {
        match &self.database {
            Some(database) => Box::new(Postgres::connect(database).unwrap()),
            None => Box::new(Store::open(&self.data_dir.join("intake.sqlite")).unwrap()),
        }
    }

    /// A fresh token for `org`, scoped to `case` if given. An org without a tier on record
    /// gets Premium, as `token create --tier premium` would record (the tier of [`case_json`]),
    /// so the intake computes targets for its cases.
    pub fn token(&self, org: &str, case: Option<&str>) -> String {
        let case = case.map(|c| c.parse().unwrap());
        self.with_store(|store| {
            if store.org_tier(org).unwrap().is_none() {
                store
                    .set_org_tier(org, "premium".parse().unwrap(), Utc::now())
                    .unwrap();
            }
            tokens::issue(store, org, case, None, Utc::now())
                .unwrap()
                .token
        })
    }

    /// A token that expired an hour ago.
    pub fn expired_token(&self, org: &str) -> String {
        let issued_at = Utc::now() - chrono::Duration::hours(2);
        self.with_store(|store| {
            tokens::issue(store, org, None, Some(Duration::from_secs(3600)), issued_at)
                .unwrap()
                .token
        })
    }

    /// Every file under `uploads/` and `bundles/` (folders themselves are not listed). With
    /// uploads in S3, the bucket's bundles, and one `uploads/<id>` per upload with data there
    /// (its manifests and tail are one upload's data), beside this server's own chunks.
    pub fn files_in(&self, sub: &str) -> Vec<PathBuf> {
        fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, found);
                } else {
                    found.push(path);
                }
            }
        }
        let mut found = Vec::new();
        match &self.objects {
            Some(ObjectsConfig::S3(config)) => {
                let mut objects = s3::server().objects(config, sub);
                if sub == "uploads" {
                    objects = objects
                        .iter()
                        .map(|key| key.split('/').take(2).collect::<Vec<_>>().join("/"))
                        .collect();
                    objects.dedup();
                    walk(&self.data_dir.join(sub), &mut found);
                }
                found.extend(objects.into_iter().map(PathBuf::from));
            }
            _ => walk(&self.data_dir.join(sub), &mut found),
        }
        found.sort();
        found
    }

    pub fn leftovers(&self) -> Vec<PathBuf> {
        let mut all = self.files_in("uploads");
        all.extend(self.files_in("bundles"));
        all
    }

    /// Sends a request and checks the reply against the OpenAPI document, where
    /// `template` is the documented path (e.g. `/v1/uploads/{upload_id}`).
    pub async fn send(&self, template: &str, request: reqwest::RequestBuilder) -> Reply {
        let request = request.build().unwrap();
        let method = request.method().clone();
        let response = self.http.execute(request).await.unwrap();
        let reply = Reply::read(response).await;
        assert_documented(&method, template, &reply);
        reply
    }

    pub fn request(
        &self,
        method: Method,
        path_or_url: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let url = if path_or_url.starts_with("https://") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.url)
        };
        let request = self.http.request(method, url);
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// POST /v1/cases declaring `bundle`.
    pub async fn create_case(&self, token: &str, key: &str, bundle: &[u8]) -> Reply {
        let body = json!({"case": case_json(), "bundle": {"sha256": sha256_hex(bundle), "size": bundle.len()}});
        let request = self
            .request(Method::POST, "/v1/cases", Some(token))
            .header("Idempotency-Key", key)
            .json(&body);
        self.send("/v1/cases", request).await
    }

    /// Opens a case for `bundle` with a new org token; returns (case id, org token).
    pub async fn open_case(&self, bundle: &[u8]) -> (String, String) {
        let token = self.token(ORG, None);
        let reply = self.create_case(&token, &uuid(), bundle).await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        (reply.body["case_id"].as_str().unwrap().to_owned(), token)
    }

    /// tus creation for `bundle` on a case.
    pub async fn tus_create(
        &self,
        token: &str,
        case_id: &str,
        length: usize,
        sha256: &str,
    ) -> Reply {
        let metadata = format!(
            "filename {},sha256 {}",
            STANDARD.encode("bundle.zip"),
            STANDARD.encode(sha256)
        );
        let request = self
            .request(
                Method::POST,
                &format!("/v1/cases/{case_id}/uploads"),
                Some(token),
            )
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", length.to_string())
            .header("Upload-Metadata", metadata);
        self.send("/v1/cases/{case_id}/uploads", request).await
    }

    /// Creates an upload for `bundle` and returns its absolute URL.
    pub async fn start_upload(&self, token: &str, case_id: &str, bundle: &[u8]) -> String {
        let reply = self
            .tus_create(token, case_id, bundle.len(), &sha256_hex(bundle))
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.header("location").unwrap().to_owned()
    }

    /// One PATCH with a correct `Upload-Checksum`.
    pub async fn patch(&self, token: &str, upload_url: &str, offset: usize, chunk: &[u8]) -> Reply {
        self.patch_with(
            token,
            upload_url,
            offset,
            chunk,
            Some(&chunk_checksum(chunk)),
        )
        .await
    }

    pub async fn patch_with(
        &self,
        token: &str,
        upload_url: &str,
        offset: usize,
        chunk: &[u8],
        checksum: Option<&str>,
    ) -> Reply {
        let mut request = self
            .request(Method::PATCH, upload_url, Some(token))
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", offset.to_string())
            .body(chunk.to_vec());
        if let Some(checksum) = checksum {
            request = request.header("Upload-Checksum", checksum);
        }
        self.send("/v1/uploads/{upload_id}", request).await
    }

    pub async fn head(&self, token: &str, upload_url: &str) -> Reply {
        let request = self
            .request(Method::HEAD, upload_url, Some(token))
            .header("Tus-Resumable", "1.0.0");
        self.send("/v1/uploads/{upload_id}", request).await
    }

    pub async fn receipt(&self, token: &str, upload_url: &str) -> Reply {
        let request = self.request(Method::GET, &format!("{upload_url}/receipt"), Some(token));
        self.send("/v1/uploads/{upload_id}/receipt", request).await
    }

    /// Sends `bundle` in PATCHes of `chunk_size` bytes; returns the last reply.
    pub async fn upload_all(
        &self,
        token: &str,
        upload_url: &str,
        bundle: &[u8],
        chunk_size: usize,
    ) -> Reply {
        let mut offset = 0;
        loop {
            let chunk = &bundle[offset..bundle.len().min(offset + chunk_size)];
            let reply = self.patch(token, upload_url, offset, chunk).await;
            offset += chunk.len();
            if reply.status != 204 || offset == bundle.len() {
                return reply;
            }
            assert_eq!(
                reply.header("upload-offset"),
                Some(offset.to_string().as_str())
            );
        }
    }

    /// Opens a case and uploads `bundle` in one PATCH; returns the final reply.
    pub async fn submit(&self, bundle: &[u8]) -> Reply {
        let (case_id, token) = self.open_case(bundle).await;
        let url = self.start_upload(&token, &case_id, bundle).await;
        self.upload_all(&token, &url, bundle, bundle.len()).await
    }
}

/// A response, read whole (test replies are small).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub async fn read(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
}

pub fn openapi() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../openapi/intake-v1.json"
        ))
        .unwrap();
        serde_json::from_str(&text).expect("openapi/intake-v1.json is JSON")
    })
}

/// Follows `$ref`s within the document.
fn resolve(value: &Value) -> &Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("local $ref");
            resolve(
                openapi()
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("dangling $ref {reference}")),
            )
        }
        None => value,
    }
}

/// Panics unless the document declares this method and status for `template`, and the
/// body has the declared JSON schema's required fields.
pub fn assert_documented(method: &Method, template: &str, reply: &Reply) {
    let operation = openapi()["paths"][template].get(method.as_str().to_lowercase());
    let operation = operation.unwrap_or_else(|| panic!("openapi declares no {method} {template}"));
    let declared = operation["responses"]
        .get(reply.status.to_string())
        .unwrap_or_else(|| {
            panic!(
                "openapi declares no {} for {method} {template} (body {})",
                reply.status, reply.body
            )
        });
    let declared = resolve(declared);
    if method == Method::HEAD {
        return; // HEAD answers carry no body
    }
    let Some(schema) = declared.pointer("/content/application~1json/schema") else {
        return;
    };
    for field in resolve(schema)["required"].as_array().into_iter().flatten() {
        let field = field.as_str().unwrap();
        assert!(
            reply.body.get(field).is_some(),
            "{method} {template} {}: body lacks `{field}` required by the openapi schema: {}",
            reply.status,
            reply.body
        );
    }
}

pub fn case_json() -> Value {
    json!({
        "schema": "jcdiag.case/1",
        "form": {"description": "Agent stopped reporting", "email": "admin@example.com", "severity": 2},
        "tier": "premium",
        "severity": 2,
        "response_due": "2030-01-01T12:00:00Z",
    })
}

pub fn uuid() -> String {
    let hex = jcdiag_intake::ids::random_hex(16).unwrap();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `Upload-Checksum` for a PATCH body.
pub fn chunk_checksum(data: &[u8]) -> String {
    format!("sha256 {}", STANDARD.encode(Sha256::digest(data)))
}

/// A zip of `(name, contents)` entries, deflated.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, contents) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(contents).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// A plausible bundle of about `size` bytes: a few small entries and one entry of
/// incompressible bytes, so chunked uploads have something to chunk.
pub fn bundle_of_size(size: usize) -> Vec<u8> {
    let mut noise = vec![0u8; size];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ size as u64;
    for byte in &mut noise {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *byte = x as u8;
    }
    zip_of(&[
        ("case.json", case_json().to_string().as_bytes()),
        ("summary.txt", b"Agent stopped reporting.\n"),
        ("screenshots/screen.bin", &noise),
    ])
}

pub fn sample_bundle() -> Vec<u8> {
    bundle_of_size(300 * 1024)
}

/// The `jcdiag-intake` binary beside the running test's own executable (`target/<profile>/`).
/// `cargo test` at the workspace's top builds it with the intake's own tests.
pub fn intake_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test> → target/<profile>/jcdiag-intake
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let bin = dir.join(format!("jcdiag-intake{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run the tests from the workspace's top (`cargo test`), which builds it",
        bin.display()
    );
    bin
}

/// `jcdiag-intake ARGS… --data DATA`, run to its end (no `JCDIAG_INTAKE_DATA` from outside).
pub fn intake_cli(data: &Path, args: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new(intake_bin());
    command
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("JCDIAG_INTAKE_DATA")
        .env_remove("JCDIAG_INTAKE_DATABASE");
    // A server of this process keeping its metadata in PostgreSQL: the commands read it there.
    if let Some(database) = databases().lock().unwrap().get(data) {
        command.arg("--database").arg(&database.url).env(
            "JCDIAG_INTAKE_DATABASE_PASSWORD",
            database.password.as_deref().unwrap_or_default(),
        );
    }
    command.run().expect("jcdiag-intake runs")
}

/// The PostgreSQL database of each data folder served by this process (see [`intake_cli`]).
fn databases() -> &'static std::sync::Mutex<std::collections::HashMap<PathBuf, Database>> {
    static DATABASES: OnceLock<std::sync::Mutex<std::collections::HashMap<PathBuf, Database>>> =
        OnceLock::new();
    DATABASES.get_or_init(Default::default)
}

/// The stdout of a run that must have succeeded (its stderr is shown when it did not).
pub fn stdout_of_success(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

/// Starts test processes. Under Wine, CreateProcess now and then fails with
/// ERROR_INTERNAL_ERROR (1359) when many tests start processes at once; the program never ran,
/// so starting it again cannot hide a defect of the program. Any other error is returned.
pub trait Launch {
    /// [`std::process::Command::output`], retried on Wine's spurious spawn failure.
    fn run(&mut self) -> std::io::Result<std::process::Output>;
    /// [`std::process::Command::spawn`], retried on Wine's spurious spawn failure.
    fn start(&mut self) -> std::io::Result<std::process::Child>;
}

impl Launch for std::process::Command {
    fn run(&mut self) -> std::io::Result<std::process::Output> {
        retry_spurious(|| self.output())
    }

    fn start(&mut self) -> std::io::Result<std::process::Child> {
        retry_spurious(|| self.spawn())
    }
}

fn retry_spurious<T>(mut attempt: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    const ERROR_INTERNAL_ERROR: i32 = 1359;
    let mut tries = 0;
    loop {
        match attempt() {
            Err(e)
                if cfg!(windows) && e.raw_os_error() == Some(ERROR_INTERNAL_ERROR) && tries < 4 =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(200 * tries));
            }
            other => return other,
        }
    }
}

/// Adds a console account straight into the intake's store (as `staff add` would).
pub fn add_staff(data_dir: &Path, email: &str, password: &str) {
    let hash = jcdiag_intake::staff::hash_password(password).unwrap();
    // The intake serving `data_dir` keeps its accounts in PostgreSQL when it has a database.
    let database = databases().lock().unwrap().get(data_dir).cloned();
    match database {
        Some(database) => postgres::off_runtime(|| {
            let store = jcdiag_intake::backend::postgres::Postgres::connect(&database).unwrap();
            jcdiag_intake::backend::Metadata::put_staff(&store, email, &hash, Utc::now()).unwrap();
        }),
        None => {
            let store = Store::open(&data_dir.join("intake.sqlite")).unwrap();
            store.put_staff(email, &hash, Utc::now()).unwrap();
        }
    };
}

/// Moves a case's intake response target (tests of the queue's order and overdue mark).
pub fn set_response_due(data_dir: &Path, case_id: &str, due: &str) {
    let conn = rusqlite::Connection::open(data_dir.join("intake.sqlite")).unwrap();
    let changed = conn
        .execute(
            "UPDATE cases SET intake_due = ?1 WHERE id = ?2",
            rusqlite::params![due, case_id.parse::<i64>().unwrap()],
        )
        .unwrap();
    assert_eq!(changed, 1, "case {case_id}");
}

/// Removes `path` (a server's folder under the temp folder) when the test binary exits. The
/// servers of [`s3`] and [`postgres`] live as long as the process (their watcher stops them
/// once it is gone), but their watcher polls: without this, the folder outlives the process by
/// up to a second, and a check of the temp folder right after the suite (`.ci/run`) sees it.
#[cfg(unix)]
pub fn remove_at_exit(path: PathBuf) {
    static PATHS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    extern "C" fn remove_all() {
        if let Ok(paths) = PATHS.lock() {
            for path in paths.iter() {
                let _ = std::fs::remove_dir_all(path);
                let _ = std::fs::remove_file(path);
            }
        }
    }
    if let Ok(mut paths) = PATHS.lock() {
        paths.push(path);
    }
    // SAFETY: `remove_all` is a plain function that only touches the mutex-guarded list.
    REGISTERED.call_once(|| unsafe {
        libc::atexit(remove_all);
    });
}

/// The servers that need it run on Linux only.
#[cfg(not(unix))]
pub fn remove_at_exit(_path: PathBuf) {}
