//! Uploading bundles: the happy path, resuming, and the tus error answers.

use std::sync::Arc;
use std::time::Duration;

use jcdiag_testkit::{Intake, chunk_checksum, sample_bundle, sha256_hex};
use reqwest::Method;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn case_upload_in_chunks_yields_a_receipt_and_shows_in_the_case() {
    let intake = Intake::start().await;
    let bundle = sample_bundle();
    let token = intake.token(jcdiag_testkit::ORG, None);

    let created = intake
        .create_case(&token, &jcdiag_testkit::uuid(), &bundle)
        .await;
    assert_eq!(created.status, 201);
    let case_id = created.body["case_id"].as_str().unwrap().to_owned();
    assert_eq!(case_id, "00000001");
    assert_eq!(
        created.body["upload_url"],
        format!("{}/v1/cases/{case_id}/uploads", intake.url)
    );
    // The target is the intake's (the org is Premium, severity 2: hours away), not the
    // client's 2030 claim.
    let due = created.body["response_due"].as_str().unwrap();
    assert!(due.starts_with("20") && !due.starts_with("2030"), "{due}");

    let creation = intake
        .tus_create(&token, &case_id, bundle.len(), &sha256_hex(&bundle))
        .await;
    assert_eq!(creation.status, 201);
    assert_eq!(creation.header("tus-resumable"), Some("1.0.0"));
    assert!(creation.header("upload-expires").unwrap().ends_with(" GMT"));
    let upload_url = creation.header("location").unwrap().to_owned();
    let upload_id = upload_url
        .strip_prefix(&format!("{}/v1/uploads/", intake.url))
        .unwrap();
    assert_eq!(upload_id.len(), 32);

    // Three PATCHes, each with its checksum.
    let chunk = bundle.len() / 3 + 1;
    let last = intake.upload_all(&token, &upload_url, &bundle, chunk).await;
    assert_eq!(last.status, 204, "{:?}", last.body);
    assert_eq!(
        last.header("upload-offset"),
        Some(bundle.len().to_string().as_str())
    );
    let receipt_id = last
        .header("jcdiag-receipt")
        .expect("receipt header")
        .to_owned();

    let head = intake.head(&token, &upload_url).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("upload-offset"), head.header("upload-length"));
    assert_eq!(head.header("cache-control"), Some("no-store"));

    let receipt = intake.receipt(&token, &upload_url).await;
    assert_eq!(receipt.status, 200);
    assert_eq!(receipt.body["receipt_id"], receipt_id.as_str());
    assert_eq!(receipt.body["case_id"], case_id.as_str());
    assert_eq!(receipt.body["sha256"], sha256_hex(&bundle));
    assert_eq!(receipt.body["size"], bundle.len());

    assert_eq!(
        intake.bundle_bytes(&case_id, &sha256_hex(&bundle)).unwrap(),
        bundle
    );
    assert!(
        intake.files_in("uploads").is_empty(),
        "{:?}",
        intake.files_in("uploads")
    );

    let case = intake
        .with_store(|store| store.case(case_id.parse().unwrap()))
        .unwrap()
        .unwrap();
    assert_eq!(case.bundles.len(), 1);
    assert_eq!(case.bundles[0].sha256, sha256_hex(&bundle));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&intake.data_dir), 0o700);
        if intake.database.is_none() {
            assert_eq!(mode(&intake.data_dir.join("intake.sqlite")), 0o600);
        }
        if intake.objects.is_none() {
            let stored = intake
                .data_dir
                .join(format!("bundles/{case_id}/{}.zip", sha256_hex(&bundle)));
            assert_eq!(mode(&stored), 0o600);
        }
    }
}

#[tokio::test]
async fn options_advertises_the_tus_extensions() {
    let intake = Intake::start().await;
    let (case_id, _) = intake.open_case(&sample_bundle()).await;
    let reply = intake
        .send(
            "/v1/cases/{case_id}/uploads",
            intake.request(
                Method::OPTIONS,
                &format!("/v1/cases/{case_id}/uploads"),
                None,
            ),
        )
        .await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("tus-version"), Some("1.0.0"));
    assert_eq!(
        reply.header("tus-extension"),
        Some("creation,checksum,expiration,termination")
    );
    assert_eq!(reply.header("tus-checksum-algorithm"), Some("sha256"));
    assert_eq!(
        reply.header("tus-max-size"),
        Some((512u64 << 20).to_string().as_str())
    );
}

#[tokio::test]
async fn chunk_checksum_mismatch_is_460_and_appends_nothing() {
    let intake = Intake::start().await;
    let bundle = sample_bundle();
    let (case_id, token) = intake.open_case(&bundle).await;
    let url = intake.start_upload(&token, &case_id, &bundle).await;

    let half = bundle.len() / 2;
    let wrong = chunk_checksum(b"something else");
    let reply = intake
        .patch_with(&token, &url, 0, &bundle[..half], Some(&wrong))
        .await;
    assert_eq!(reply.status, 460);
    assert_eq!(reply.error(), "checksum_mismatch");
    assert_eq!(
        intake.head(&token, &url).await.header("upload-offset"),
        Some("0")
    );
    assert!(
        intake
            .files_in("uploads")
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".chunk"))
    );

    // The same chunk with the right checksum is then accepted.
    assert_eq!(
        intake.patch(&token, &url, 0, &bundle[..half]).await.status,
        204
    );
}

#[tokio::test]
async fn offset_mismatch_is_409_with_the_real_offset() {
    let intake = Intake::start().await;
    let bundle = sample_bundle();
    let (case_id, token) = intake.open_case(&bundle).await;
    let url = intake.start_upload(&token, &case_id, &bundle).await;
    assert_eq!(
        intake.patch(&token, &url, 0, &bundle[..1000]).await.status,
        204
    );

    let reply = intake.patch(&token, &url, 0, &bundle[..1000]).await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.error(), "offset_mismatch");
    assert_eq!(reply.header("upload-offset"), Some("1000"));
}

#[tokio::test]
async fn tus_requests_without_tus_resumable_get_412() {
    let intake = Intake::start().await;
    let bundle = sample_bundle();
    let (case_id, token) = intake.open_case(&bundle).await;
    let url = intake.start_upload(&token, &case_id, &bundle).await;
    let reply = intake
        .send(
            "/v1/uploads/{upload_id}",
            intake.request(Method::HEAD, &url, Some(&token)),
        )
        .await;
    assert_eq!(reply.status, 412);
    assert_eq!(reply.header("tus-version"), Some("1.0.0"));
}

#[tokio::test]
async fn receipt_of_an_unfinished_upload_is_409() {
    let intake = Intake::start().await;
    let bundle = sample_bundle();
    let (case_id, token) = intake.open_case(&bundle).await;
    let url = intake.start_upload(&token, &case_id, &bundle).await;
    let reply = intake.receipt(&token, &url).await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.error(), "upload_incomplete");
}

#[tokio::test]
async fn upload_must_match_the_declared_bundle() {
    let intake = Intake::start().await;
    let bundle = sample_bundle();
    let (case_id, token) = intake.open_case(&bundle).await;

    let other = jcdiag_testkit::bundle_of_size(1000);
    let reply = intake
        .tus_create(&token, &case_id, other.len(), &sha256_hex(&other))
        .await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.error(), "bundle_not_declared");

    let reply = intake
        .tus_create(&token, &case_id, bundle.len() + 1, &sha256_hex(&bundle))
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error(), "length_mismatch");
}

#[tokio::test]
async fn delete_terminates_an_upload_and_its_data() {
    let intake = Intake::start().await;
    let bundle = sample_bundle();
    let (case_id, token) = intake.open_case(&bundle).await;
    let url = intake.start_upload(&token, &case_id, &bundle).await;
    assert_eq!(
        intake.patch(&token, &url, 0, &bundle[..5000]).await.status,
        204
    );
    assert_eq!(intake.files_in("uploads").len(), 1);

    let request = intake
        .request(Method::DELETE, &url, Some(&token))
        .header("Tus-Resumable", "1.0.0");
    assert_eq!(
        intake.send("/v1/uploads/{upload_id}", request).await.status,
        204
    );
    assert!(intake.leftovers().is_empty());
    assert_eq!(intake.head(&token, &url).await.status, 404);
}

#[tokio::test]
async fn expired_upload_is_410_and_deleted() {
    let intake = Intake::start_with(|config| config.upload_ttl = Duration::from_secs(3)).await;
    let bundle = sample_bundle();
    let (case_id, token) = intake.open_case(&bundle).await;
    let url = intake.start_upload(&token, &case_id, &bundle).await;
    assert_eq!(
        intake.patch(&token, &url, 0, &bundle[..5000]).await.status,
        204
    );

    // Expiry is stored to the second, so allow for rounding down.
    tokio::time::sleep(Duration::from_millis(4100)).await;
    let reply = intake.patch(&token, &url, 5000, &bundle[5000..6000]).await;
    assert_eq!(reply.status, 410);
    assert_eq!(reply.error(), "upload_expired");
    assert!(intake.leftovers().is_empty(), "{:?}", intake.leftovers());
    assert_eq!(intake.head(&token, &url).await.status, 404);
}

/// A PATCH whose connection dies mid-body appends nothing: HEAD still shows the end of
/// the last whole chunk, and the upload resumes from there.
#[tokio::test]
async fn cut_patch_appends_nothing_and_upload_resumes() {
    let intake = Intake::start().await;
    let bundle = sample_bundle();
    let (case_id, token) = intake.open_case(&bundle).await;
    let url = intake.start_upload(&token, &case_id, &bundle).await;
    let first = 100_000;
    assert_eq!(
        intake.patch(&token, &url, 0, &bundle[..first]).await.status,
        204
    );

    // A raw TLS connection: headers promise the rest of the bundle, half of it is sent,
    // then the connection is closed.
    let connector = tokio_rustls::TlsConnector::from(Arc::new(intake.certs.client_config()));
    let tcp = tokio::net::TcpStream::connect(intake.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let rest = &bundle[first..];
    let path = url.strip_prefix(&intake.url).unwrap();
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: {first}\r\n\
         Upload-Checksum: {}\r\nContent-Length: {}\r\n\r\n",
        intake.addr,
        chunk_checksum(rest),
        rest.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(&rest[..rest.len() / 2]).await.unwrap();
    tls.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(tls);

    // The server notices the cut and throws the partial chunk away.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while intake
        .files_in("uploads")
        .iter()
        .any(|p| p.to_string_lossy().ends_with(".chunk"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "chunk file never removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let head = intake.head(&token, &url).await;
    assert_eq!(
        head.header("upload-offset"),
        Some(first.to_string().as_str())
    );
    if intake.objects.is_none() {
        let part = intake
            .data_dir
            .join(format!("uploads/{}.part", url.rsplit('/').next().unwrap()));
        assert_eq!(std::fs::metadata(part).unwrap().len(), first as u64);
    }

    let last = intake.patch(&token, &url, first, rest).await;
    assert_eq!(last.status, 204, "{:?}", last.body);
    assert!(last.header("jcdiag-receipt").is_some());
}

/// Stop the server mid-upload, start it again on the same data folder: the offset is
/// intact and the upload completes.
#[tokio::test]
async fn upload_survives_a_server_restart() {
    let mut intake = Intake::start().await;
    let bundle = sample_bundle();
    let (case_id, token) = intake.open_case(&bundle).await;
    let url = intake.start_upload(&token, &case_id, &bundle).await;
    let half = bundle.len() / 2;
    assert_eq!(
        intake.patch(&token, &url, 0, &bundle[..half]).await.status,
        204
    );

    intake.restart().await;

    let head = intake.head(&token, &url).await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("upload-offset"),
        Some(half.to_string().as_str())
    );
    let last = intake.patch(&token, &url, half, &bundle[half..]).await;
    assert_eq!(last.status, 204, "{:?}", last.body);
    let receipt = intake.receipt(&token, &url).await;
    assert_eq!(
        receipt.body["receipt_id"],
        last.header("jcdiag-receipt").unwrap()
    );

    // The case from before the restart is still there, and the sequence continues.
    let next = intake
        .create_case(&token, &jcdiag_testkit::uuid(), &bundle)
        .await;
    assert_eq!(next.body["case_id"], "00000002");
}
