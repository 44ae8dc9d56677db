//! Two replicas on one PostgreSQL database and one shared objects folder (`--database`,
//! `--objects`): any replica takes any request. Skipped, saying why, where PostgreSQL is not
//! installed (CI installs it).

use std::sync::Arc;
use std::time::Duration;

use jcdiag_testkit::{Intake, ORG, bundle_of_size, chunk_checksum, postgres, sha256_hex, uuid};
use tokio::io::AsyncWriteExt;

fn skipped() -> bool {
    match postgres::unavailable() {
        Some(reason) => {
            eprintln!("skipped: {reason}");
            true
        }
        None => false,
    }
}

#[tokio::test]
#[cfg_attr(windows, ignore = "needs PostgreSQL run as the postgres user (Linux)")]
async fn an_upload_begun_on_a_replica_that_dies_mid_chunk_resumes_on_another() {
    if skipped() {
        return;
    }
    resume_on_another_replica(Intake::start_replicated().await, 350_000).await;
}

#[tokio::test]
#[cfg_attr(windows, ignore = "needs PostgreSQL run as the postgres user (Linux)")]
async fn an_upload_in_s3_begun_on_a_replica_that_dies_mid_chunk_resumes_on_another() {
    if skipped() {
        return;
    }
    if let Some(reason) = jcdiag_testkit::s3::unavailable() {
        eprintln!("skipped: {reason}");
        return;
    }
    // Three 8 MiB multipart parts and a smaller last one, sent in chunks that do not line
    // up with the parts.
    resume_on_another_replica(Intake::start_replicated_s3().await, 27 << 20).await;
}

/// An upload of `size` bytes in four chunks: two on `a`, the third cut when `a` goes away,
/// the rest on another replica.
async fn resume_on_another_replica(mut a: Intake, size: usize) {
    let b = a.another_replica().await;
    let bundle = bundle_of_size(size);
    let chunk = bundle.len() * 2 / 7;
    let (case_id, token) = a.open_case(&bundle).await;
    let url_a = a.start_upload(&token, &case_id, &bundle).await;
    let url_b = url_a.replace(&a.url, &b.url);
    for start in [0, chunk] {
        let reply = a
            .patch(&token, &url_a, start, &bundle[start..start + chunk])
            .await;
        assert_eq!(reply.status, 204, "{:?}", reply.body);
    }

    // The third chunk: headers and half its body reach A, then A goes away.
    let connector = tokio_rustls::TlsConnector::from(Arc::new(a.certs.client_config()));
    let tcp = tokio::net::TcpStream::connect(a.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let third = &bundle[2 * chunk..3 * chunk];
    let head = format!(
        "PATCH {} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: {}\r\n\
         Upload-Checksum: {}\r\nContent-Length: {}\r\n\r\n",
        url_a.strip_prefix(&a.url).unwrap(),
        a.addr,
        2 * chunk,
        chunk_checksum(third),
        third.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(&third[..chunk / 2]).await.unwrap();
    tls.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    tokio::join!(a.stop(), async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(tls);
    });

    // B knows the upload, at the last committed offset: nothing of the cut chunk.
    let head = b.head(&token, &url_b).await;
    assert_eq!(head.status, 200);
    let committed = (2 * chunk).to_string();
    assert_eq!(head.header("upload-offset"), Some(committed.as_str()));

    // The same chunk sent to two live replicas at once: one commits it, the other learns
    // the new offset; the bytes are appended once.
    let c = b.another_replica().await;
    let url_c = url_a.replace(&a.url, &c.url);
    let (first, second) = tokio::join!(
        b.patch(&token, &url_b, 2 * chunk, third),
        c.patch(&token, &url_c, 2 * chunk, third)
    );
    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(statuses, [204, 409], "{:?} {:?}", first.body, second.body);

    let last = b
        .patch(&token, &url_b, 3 * chunk, &bundle[3 * chunk..])
        .await;
    assert_eq!(last.status, 204, "{:?}", last.body);
    let receipt_id = last.header("jcdiag-receipt").unwrap().to_owned();

    // One intact bundle, recorded once, with one receipt.
    let kept = b.bundle_bytes(&case_id, &sha256_hex(&bundle)).unwrap();
    assert!(kept == bundle, "the kept bundle differs from the one sent");
    let case = b
        .with_store(|store| store.case(case_id.parse().unwrap()))
        .unwrap()
        .unwrap();
    assert_eq!(case.bundles.len(), 1);
    assert_eq!(case.bundles[0].sha256, sha256_hex(&bundle));
    let receipt = b.receipt(&token, &url_b).await;
    assert_eq!(receipt.body["receipt_id"], receipt_id.as_str());
    let left = b.upload_objects();
    assert!(left.is_empty(), "{left:?}");
    let left = c.upload_objects();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
#[cfg_attr(windows, ignore = "needs PostgreSQL run as the postgres user (Linux)")]
async fn a_hundred_uploads_over_two_replicas_each_arrive_once() {
    if skipped() {
        return;
    }
    let a = Arc::new(Intake::start_replicated().await);
    let b = Arc::new(a.another_replica().await);
    let token = a.token(ORG, None);

    // One idempotency key sent to both replicas at once: one case.
    let bundle = bundle_of_size(1_000);
    let key = uuid();
    let (one, other) = tokio::join!(
        a.create_case(&token, &key, &bundle),
        b.create_case(&token, &key, &bundle)
    );
    assert_eq!(one.body["case_id"], other.body["case_id"]);

    let mut uploads = tokio::task::JoinSet::new();
    for i in 0..100 {
        let replica = if i % 2 == 0 { a.clone() } else { b.clone() };
        let token = token.clone();
        uploads.spawn(async move {
            let bundle = bundle_of_size(2_000 + i);
            let reply = replica.create_case(&token, &uuid(), &bundle).await;
            assert_eq!(reply.status, 201, "{:?}", reply.body);
            let case_id = reply.body["case_id"].as_str().unwrap().to_owned();
            let url = replica.start_upload(&token, &case_id, &bundle).await;
            let reply = replica.patch(&token, &url, 0, &bundle).await;
            assert_eq!(reply.status, 204, "{:?}", reply.body);
            (case_id, reply.header("jcdiag-receipt").unwrap().to_owned())
        });
    }
    let mut cases = std::collections::BTreeSet::new();
    let mut receipts = std::collections::BTreeSet::new();
    while let Some(done) = uploads.join_next().await {
        let (case_id, receipt) = done.unwrap();
        assert!(
            cases.insert(case_id.clone()),
            "case {case_id} handed out twice"
        );
        assert!(receipts.insert(receipt.clone()), "receipt {receipt} twice");
    }
    assert!(!cases.contains(one.body["case_id"].as_str().unwrap()));
    let stored = a.with_store(|store| store.cases()).unwrap();
    assert_eq!(stored.len(), 101);
    assert_eq!(stored.iter().map(|c| c.bundles.len()).sum::<usize>(), 100);
}

#[tokio::test]
#[cfg_attr(windows, ignore = "needs PostgreSQL run as the postgres user (Linux)")]
async fn an_address_that_keeps_guessing_is_refused_by_every_replica() {
    if skipped() {
        return;
    }
    let a = Intake::start_replicated().await;
    let b = a.another_replica().await;
    let wrong = |intake: &Intake| {
        intake.request(reqwest::Method::POST, "/v1/cases", Some("jcd_not-a-token"))
    };
    // The failures counted on A are the ones B sees: the limit is 20 a minute per address.
    for _ in 0..20 {
        assert_eq!(a.send("/v1/cases", wrong(&a)).await.status, 401);
    }
    let refused = b.send("/v1/cases", wrong(&b)).await;
    assert_eq!(refused.status, 429, "{:?}", refused.body);
    assert_eq!(refused.error(), "too_many_failed_logins");
    assert!(refused.header("retry-after").is_some());
}
