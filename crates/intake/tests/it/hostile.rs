//! Hostile bundles: each is refused, and nothing of it stays in `uploads/` or `bundles/`.

use std::io::Write;

use jcdiag_testkit::{Intake, sha256_hex, zip_of};
use reqwest::Method;
use zip::write::SimpleFileOptions;

/// Uploads `bundle` to a fresh case and expects it refused with 422 and a message naming
/// the reason.
async fn assert_refused(intake: &Intake, bundle: &[u8], reason: &str) {
    let reply = intake.submit(bundle).await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.error(), "bundle_rejected");
    message_mentions(&reply, reason);
    assert!(reply.header("jcdiag-receipt").is_none());
    assert!(
        intake.leftovers().is_empty(),
        "left behind: {:?}",
        intake.leftovers()
    );
}

fn message_mentions(intake_reply: &jcdiag_testkit::Reply, needle: &str) {
    let message = intake_reply.body["message"].as_str().unwrap();
    assert!(
        message.contains(needle),
        "`{message}` should mention `{needle}`"
    );
}

#[tokio::test]
async fn zip_slip_name_is_refused() {
    let intake = Intake::start().await;
    let bundle = zip_of(&[("case.json", b"{}"), ("../evil", b"owned")]);
    let reply = intake.submit(&bundle).await;
    assert_eq!(reply.status, 422);
    message_mentions(&reply, "../evil");
    assert!(intake.leftovers().is_empty());
    // Same for a `..` deeper in the path and for backslashes.
    assert_refused(
        &intake,
        &zip_of(&[("logs/../../evil", b"x")]),
        "`..` component",
    )
    .await;
    assert_refused(&intake, &zip_of(&[("logs\\..\\evil", b"x")]), "backslash").await;
}

#[tokio::test]
async fn absolute_name_is_refused() {
    let intake = Intake::start().await;
    assert_refused(
        &intake,
        &zip_of(&[("/etc/cron.d/evil", b"* * * * * root sh")]),
        "absolute path",
    )
    .await;
}

#[tokio::test]
async fn zip_bomb_is_refused() {
    let intake = Intake::start().await;
    let zeros = vec![0u8; 100 << 20];
    let bundle = zip_of(&[("case.json", b"{}"), ("logs/huge.log", &zeros)]);
    assert!(
        bundle.len() < 1 << 20,
        "the bomb should compress well: {}",
        bundle.len()
    );
    let reply = intake.submit(&bundle).await;
    assert_eq!(reply.status, 422);
    message_mentions(&reply, "zip bomb");
    assert!(intake.leftovers().is_empty());
}

#[tokio::test]
async fn symlink_entry_is_refused() {
    let intake = Intake::start().await;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer
        .start_file("case.json", SimpleFileOptions::default())
        .unwrap();
    writer.write_all(b"{}").unwrap();
    writer
        .add_symlink("logs/passwd", "/etc/passwd", SimpleFileOptions::default())
        .unwrap();
    let bundle = writer.finish().unwrap().into_inner();
    let reply = intake.submit(&bundle).await;
    assert_eq!(reply.status, 422);
    message_mentions(&reply, "symbolic link");
    assert!(intake.leftovers().is_empty());
}

#[tokio::test]
async fn truncated_zip_is_refused() {
    let intake = Intake::start().await;
    let whole = jcdiag_testkit::sample_bundle();
    assert_refused(&intake, &whole[..whole.len() * 2 / 3], "not a readable zip").await;
    // Corrupt data with an intact directory fails the CRC/deflate check.
    let mut corrupt = whole.clone();
    corrupt[whole.len() / 2] ^= 0xFF;
    assert_refused(&intake, &corrupt, "corrupt").await;
}

#[tokio::test]
async fn whole_file_checksum_mismatch_is_460() {
    let intake = Intake::start().await;
    let bundle = jcdiag_testkit::sample_bundle();
    let (case_id, token) = intake.open_case(&bundle).await;
    let url = intake.start_upload(&token, &case_id, &bundle).await;
    // Same length, different bytes: every PATCH checksum is right, the whole file is not.
    let mut other = bundle.clone();
    other[100] ^= 1;
    let reply = intake.patch(&token, &url, 0, &other).await;
    assert_eq!(reply.status, 460);
    assert_eq!(reply.error(), "bundle_checksum_mismatch");
    assert!(intake.leftovers().is_empty(), "{:?}", intake.leftovers());
    // The upload record is gone too.
    assert_eq!(intake.head(&token, &url).await.status, 404);
    let case = intake
        .with_store(|store| store.case(case_id.parse().unwrap()))
        .unwrap()
        .unwrap();
    assert!(case.bundles.is_empty());
}

#[tokio::test]
async fn unauthenticated_upload_is_refused() {
    let intake = Intake::start().await;
    let bundle = jcdiag_testkit::sample_bundle();
    let (case_id, token) = intake.open_case(&bundle).await;
    let url = intake.start_upload(&token, &case_id, &bundle).await;

    let patch = intake
        .request(Method::PATCH, &url, None)
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "0")
        .body(bundle.clone());
    let reply = intake.send("/v1/uploads/{upload_id}", patch).await;
    assert_eq!(reply.status, 401);
    let create = intake
        .request(
            Method::POST,
            &format!("/v1/cases/{case_id}/uploads"),
            Some("jcd_not-a-real-token"),
        )
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", bundle.len().to_string())
        .header("Upload-Metadata", format!("sha256 {}", sha256_hex(&bundle)));
    assert_eq!(
        intake
            .send("/v1/cases/{case_id}/uploads", create)
            .await
            .status,
        401
    );
    assert!(intake.leftovers().is_empty());
}
