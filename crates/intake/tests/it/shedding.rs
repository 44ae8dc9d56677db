//! Load shedding: past `--max-concurrent-uploads` PATCH bodies at once, a replica answers
//! 503 with `Retry-After` before reading a byte, and takes the chunk once there is room.

use std::sync::Arc;
use std::time::Duration;

use jcdiag_testkit::{Intake, chunk_checksum, sample_bundle};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn a_replica_at_its_upload_limit_answers_503_with_retry_after() {
    let intake = Intake::start_with(|config| config.guards.max_concurrent_uploads = 1).await;
    let bundle = sample_bundle();
    let (case_id, token) = intake.open_case(&bundle).await;
    let held = intake.start_upload(&token, &case_id, &bundle).await;
    let (other_case, other_token) = intake.open_case(&bundle).await;
    let other = intake
        .start_upload(&other_token, &other_case, &bundle)
        .await;

    // One body in flight, arriving slowly.
    let connector = tokio_rustls::TlsConnector::from(Arc::new(intake.certs.client_config()));
    let tcp = tokio::net::TcpStream::connect(intake.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let head = format!(
        "PATCH {} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n\
         Upload-Checksum: {}\r\nContent-Length: {}\r\n\r\n",
        held.strip_prefix(&intake.url).unwrap(),
        intake.addr,
        chunk_checksum(&bundle),
        bundle.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(&bundle[..100]).await.unwrap();
    tls.flush().await.unwrap();

    // Once the server is receiving that body (its chunk file exists), another is refused.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !intake
        .files_in("uploads")
        .iter()
        .any(|p| p.to_string_lossy().ends_with(".chunk"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the body never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = intake.patch(&other_token, &other, 0, &bundle).await;
    assert_eq!(refused.status, 503, "{:?}", refused.body);
    assert_eq!(refused.error(), "overloaded");
    assert_eq!(refused.header("retry-after"), Some("2"));
    // Nothing of the refused body was kept.
    let offset = intake.head(&other_token, &other).await;
    assert_eq!(offset.header("upload-offset"), Some("0"));

    // The held body goes away; the refused chunk is then taken whole.
    drop(tls);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let reply = intake.patch(&other_token, &other, 0, &bundle).await;
        if reply.status == 204 {
            assert!(reply.header("jcdiag-receipt").is_some());
            break;
        }
        assert_eq!(reply.status, 503, "{:?}", reply.body);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
