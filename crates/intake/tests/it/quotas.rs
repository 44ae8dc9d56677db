//! Quotas (issue #13, class 4): a token cannot fill the disk. Bundles, unfinished uploads and
//! bytes are bounded per case and per org; one PATCH at a time writes an upload, decided
//! before its body is read; a body must keep a minimum rate and a request has a time limit.
//! Hard limits answer 403/413 (the client stops), limits that pass later 429 + Retry-After.

use std::time::Duration;

use jcdiag_testkit::{Intake, ORG, bundle_of_size, sha256_hex};
use reqwest::Method;

use crate::raw::{Raw, chunk_files};

const PATCH: &str = "/v1/uploads/{upload_id}";

/// Uploads `bundle` whole to `case_id` with `token`; asserts it is accepted.
async fn deliver(intake: &Intake, token: &str, case_id: &str, bundle: &[u8]) {
    let url = intake.start_upload(token, case_id, bundle).await;
    let reply = intake.upload_all(token, &url, bundle, bundle.len()).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert!(reply.header("jcdiag-receipt").is_some());
}

#[tokio::test]
async fn a_case_token_cannot_pile_up_bundles() {
    let intake = Intake::start_with(|c| c.guards.max_bundles_per_case = 3).await;
    let first = bundle_of_size(10_000);
    let (case_id, _) = intake.open_case(&first).await;
    let token = intake.token(ORG, Some(&case_id));
    deliver(&intake, &token, &case_id, &first).await;
    // The declared bundle arrived; the case now takes undeclared ones, up to the limit.
    for size in [10_001, 10_002] {
        deliver(&intake, &token, &case_id, &bundle_of_size(size)).await;
    }
    let extra = bundle_of_size(10_003);
    let reply = intake
        .tus_create(&token, &case_id, extra.len(), &sha256_hex(&extra))
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(reply.error(), "case_bundle_limit");
    assert!(reply.header("retry-after").is_none(), "a hard limit");
    assert_eq!(intake.files_in("bundles").len(), 3);
}

#[tokio::test]
async fn unfinished_uploads_are_bounded_per_case_and_per_org() {
    let intake = Intake::start_with(|c| {
        c.guards.max_open_uploads_per_case = 2;
        c.guards.max_open_uploads_per_org = 3;
    })
    .await;
    let bundle = bundle_of_size(10_000);
    let (case_a, org_token) = intake.open_case(&bundle).await;
    let token_a = intake.token(ORG, Some(&case_a));
    let sha = sha256_hex(&bundle);
    let parked = intake.start_upload(&token_a, &case_a, &bundle).await;
    intake.start_upload(&token_a, &case_a, &bundle).await;
    let reply = intake
        .tus_create(&token_a, &case_a, bundle.len(), &sha)
        .await;
    assert_eq!(reply.status, 429, "{}", reply.body);
    assert_eq!(reply.error(), "too_many_open_uploads");
    let wait: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!(wait > 0);

    // The org's limit counts every case.
    let (case_b, _) = intake.open_case(&bundle).await;
    intake.start_upload(&org_token, &case_b, &bundle).await;
    let reply = intake
        .tus_create(&org_token, &case_b, bundle.len(), &sha)
        .await;
    assert_eq!(reply.status, 429, "{}", reply.body);

    // It passes later: cancelling a parked upload makes room, and a real upload works.
    let cancel = intake
        .request(Method::DELETE, &parked, Some(&token_a))
        .header("Tus-Resumable", "1.0.0");
    assert_eq!(intake.send(PATCH, cancel).await.status, 204);
    let url = intake.start_upload(&org_token, &case_b, &bundle).await;
    let reply = intake
        .upload_all(&org_token, &url, &bundle, bundle.len())
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
}

#[tokio::test]
async fn bytes_are_bounded_per_case_and_per_org() {
    let bundle = bundle_of_size(100_000);
    let size = bundle.len() as u64;
    let intake = Intake::start_with(move |c| {
        c.guards.max_bytes_per_case = size * 3 / 2;
        c.guards.max_bytes_per_org = size * 5 / 2;
        c.guards.max_bundles_per_case = 100;
    })
    .await;
    let (case_a, token) = intake.open_case(&bundle).await;
    deliver(&intake, &token, &case_a, &bundle).await;
    // The case holds one bundle; a second would pass its byte limit.
    let other = bundle_of_size(100_001);
    let reply = intake
        .tus_create(&token, &case_a, other.len(), &sha256_hex(&other))
        .await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(reply.error(), "quota_exceeded");

    // Unfinished uploads count with their whole declared length, before any byte.
    let (case_b, _) = intake.open_case(&bundle).await;
    intake.start_upload(&token, &case_b, &bundle).await;
    let (case_c, _) = intake.open_case(&bundle).await;
    let reply = intake
        .tus_create(&token, &case_c, bundle.len(), &sha256_hex(&bundle))
        .await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(reply.error(), "quota_exceeded");
}

#[tokio::test]
async fn a_second_patch_is_refused_before_its_body_is_read() {
    let intake = Intake::start().await;
    let bundle = bundle_of_size(1 << 20);
    let (case_id, token) = intake.open_case(&bundle).await;
    let url = intake.start_upload(&token, &case_id, &bundle).await;

    // The first PATCH sends part of its body and holds the upload.
    let mut first = Raw::connect(&intake).await;
    first.patch_head(&token, &url, 0, bundle.len()).await;
    assert!(first.send(&bundle[..64 * 1024]).await);
    for _ in 0..200 {
        if chunk_files(&intake) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(chunk_files(&intake), 1);

    // A second one for the same upload is answered at once, without waiting for (or
    // storing) its body, which here never finishes.
    let mut second = Raw::connect(&intake).await;
    second.patch_head(&token, &url, 0, bundle.len()).await;
    second.send(&bundle[..64 * 1024]).await;
    let reply = second
        .reply(Duration::from_secs(20), Method::PATCH, PATCH)
        .await
        .expect("the second PATCH is answered without reading its body");
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert_eq!(reply.error(), "upload_busy");
    assert_eq!(chunk_files(&intake), 1, "only the first PATCH writes");

    // The first one finishes normally.
    assert!(first.send(&bundle[64 * 1024..]).await);
    let reply = first
        .reply(Duration::from_secs(60), Method::PATCH, PATCH)
        .await
        .unwrap();
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert!(reply.header("jcdiag-receipt").is_some());
    assert_eq!(chunk_files(&intake), 0);
}

/// Sends `bundle` as one PATCH, `step` bytes every 200 ms, until the server answers (or
/// `give_up` passes); the answer.
async fn trickle(
    intake: &Intake,
    token: &str,
    url: &str,
    bundle: &[u8],
    step: usize,
    give_up: Duration,
) -> Option<jcdiag_testkit::Reply> {
    let mut raw = Raw::connect(intake).await;
    raw.patch_head(token, url, 0, bundle.len()).await;
    let started = tokio::time::Instant::now();
    let mut sent = 0;
    while started.elapsed() < give_up && sent < bundle.len() {
        let end = (sent + step).min(bundle.len());
        if !raw.send(&bundle[sent..end]).await {
            break;
        }
        sent = end;
        if let Some(reply) = raw
            .reply(Duration::from_millis(200), Method::PATCH, PATCH)
            .await
        {
            return Some(reply);
        }
    }
    raw.reply(Duration::from_secs(5), Method::PATCH, PATCH)
        .await
}

#[tokio::test]
async fn a_trickling_body_is_dropped() {
    let intake = Intake::start_with(|c| {
        c.guards.min_rate = 1024;
        c.guards.rate_window = Duration::from_secs(2);
    })
    .await;
    let bundle = bundle_of_size(100_000);
    let (case_id, token) = intake.open_case(&bundle).await;
    let url = intake.start_upload(&token, &case_id, &bundle).await;
    // 5 bytes a second: never idle long enough for the idle timeout, far below the rate.
    let reply = trickle(&intake, &token, &url, &bundle, 1, Duration::from_secs(40))
        .await
        .expect("a trickle is cut off");
    assert_eq!(reply.status, 408, "{}", reply.body);
    assert_eq!(reply.error(), "body_too_slow");
    assert_eq!(chunk_files(&intake), 0);
    // Nothing was kept, and a real upload still works.
    assert_eq!(
        intake.head(&token, &url).await.header("upload-offset"),
        Some("0")
    );
    let reply = intake.upload_all(&token, &url, &bundle, 64 * 1024).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
}

#[tokio::test]
async fn a_request_has_a_time_limit() {
    let intake = Intake::start_with(|c| {
        c.guards.min_rate = 1;
        c.guards.rate_window = Duration::from_secs(1);
        c.guards.request_timeout = Duration::from_secs(3);
    })
    .await;
    let bundle = bundle_of_size(100_000);
    let (case_id, token) = intake.open_case(&bundle).await;
    let url = intake.start_upload(&token, &case_id, &bundle).await;
    // 500 bytes a second keeps the minimum rate but not the whole-request limit.
    let reply = trickle(&intake, &token, &url, &bundle, 100, Duration::from_secs(40))
        .await
        .expect("a slow request is cut off");
    assert_eq!(reply.status, 408, "{}", reply.body);
    assert_eq!(reply.error(), "request_timeout");
    assert_eq!(chunk_files(&intake), 0);
    let reply = intake.upload_all(&token, &url, &bundle, bundle.len()).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
}
