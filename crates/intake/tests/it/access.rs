//! Who may do what, idempotency, size limits, escalations and the OpenAPI document.

use jcdiag_testkit::{Intake, ORG, sample_bundle, sha256_hex, uuid};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn missing_or_unknown_token_is_401() {
    let intake = Intake::start().await;
    let bundle = sample_bundle();

    let body = json!({"case": jcdiag_testkit::case_json(), "bundle": {"sha256": sha256_hex(&bundle), "size": bundle.len()}});
    let request = intake
        .request(Method::POST, "/v1/cases", None)
        .header("Idempotency-Key", uuid())
        .json(&body);
    let reply = intake.send("/v1/cases", request).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.error(), "missing_token");
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));

    let forged = format!("jcd_{}", "A".repeat(43));
    let reply = intake.create_case(&forged, &uuid(), &bundle).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.error(), "invalid_token");
    assert!(reply.body["message"].as_str().unwrap().contains("token"));
}

#[tokio::test]
async fn expired_token_is_401() {
    let intake = Intake::start().await;
    let reply = intake
        .create_case(&intake.expired_token(ORG), &uuid(), &sample_bundle())
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.error(), "token_expired");
}

#[tokio::test]
async fn case_token_is_limited_to_its_case() {
    let intake = Intake::start().await;
    let bundle = sample_bundle();
    let (first, _) = intake.open_case(&bundle).await;
    let (second, _) = intake.open_case(&bundle).await;
    let scoped = intake.token(ORG, Some(&first));

    // Its own case: uploads and escalations work.
    let url = intake.start_upload(&scoped, &first, &bundle).await;
    assert_eq!(intake.patch(&scoped, &url, 0, &bundle).await.status, 204);

    // Another case: 404, as if it did not exist, for uploads, attachments and escalations.
    let reply = intake
        .tus_create(&scoped, &second, bundle.len(), &sha256_hex(&bundle))
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.error(), "case_not_found");
    let attach = intake
        .request(
            Method::POST,
            &format!("/v1/cases/{second}/attachments"),
            Some(&scoped),
        )
        .header("Idempotency-Key", uuid())
        .json(&json!({"bundle": {"sha256": sha256_hex(&bundle), "size": bundle.len()}}));
    assert_eq!(
        intake
            .send("/v1/cases/{case_id}/attachments", attach)
            .await
            .status,
        404
    );
    let escalate = intake
        .request(
            Method::POST,
            &format!("/v1/cases/{second}/escalations"),
            Some(&scoped),
        )
        .json(&json!({"reason": "urgent"}));
    assert_eq!(
        intake
            .send("/v1/cases/{case_id}/escalations", escalate)
            .await
            .status,
        404
    );

    // And it cannot open cases at all.
    assert_eq!(
        intake.create_case(&scoped, &uuid(), &bundle).await.status,
        403
    );

    // Another org's token cannot touch the case either (404), nor its upload (403).
    let stranger = intake.token("globex", None);
    assert_eq!(
        intake
            .tus_create(&stranger, &first, bundle.len(), &sha256_hex(&bundle))
            .await
            .status,
        404
    );
    assert_eq!(intake.head(&stranger, &url).await.status, 403);
}

#[tokio::test]
async fn same_idempotency_key_returns_the_same_case() {
    let intake = Intake::start().await;
    let bundle = sample_bundle();
    let token = intake.token(ORG, None);
    let key = uuid();

    let first = intake.create_case(&token, &key, &bundle).await;
    assert_eq!(first.status, 201);
    let again = intake.create_case(&token, &key, &bundle).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, first.body);
    // Another token of the same org retrying also gets the same case.
    let again = intake
        .create_case(&intake.token(ORG, None), &key, &bundle)
        .await;
    assert_eq!(again.body, first.body);
    assert_eq!(intake.with_store(|store| store.cases()).unwrap().len(), 1);

    // Another org with the same key gets its own case.
    let other = intake
        .create_case(&intake.token("globex", None), &key, &bundle)
        .await;
    assert_eq!(other.status, 201);
    assert_eq!(other.body["case_id"], "00000002");

    // Without a key: refused.
    let body = json!({"case": jcdiag_testkit::case_json(), "bundle": {"sha256": sha256_hex(&bundle), "size": bundle.len()}});
    let request = intake
        .request(Method::POST, "/v1/cases", Some(&token))
        .json(&body);
    let reply = intake.send("/v1/cases", request).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error(), "missing_idempotency_key");
}

#[tokio::test]
async fn attachments_and_escalations_on_an_existing_case() {
    let intake = Intake::start().await;
    let bundle = sample_bundle();
    let (case_id, token) = intake.open_case(&bundle).await;
    let second = jcdiag_testkit::bundle_of_size(2000);
    let key = uuid();

    let attach = |key: &str| {
        intake
            .request(
                Method::POST,
                &format!("/v1/cases/{case_id}/attachments"),
                Some(&token),
            )
            .header("Idempotency-Key", key)
            .json(&json!({"bundle": {"sha256": sha256_hex(&second), "size": second.len()}}))
    };
    let reply = intake
        .send("/v1/cases/{case_id}/attachments", attach(&key))
        .await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.body["case_id"], case_id.as_str());
    assert_eq!(
        reply.body["upload_url"],
        format!("{}/v1/cases/{case_id}/uploads", intake.url)
    );
    assert_eq!(
        intake
            .send("/v1/cases/{case_id}/attachments", attach(&key))
            .await
            .status,
        200
    );

    // Both announced bundles can now be uploaded.
    for bytes in [&bundle, &second] {
        let url = intake.start_upload(&token, &case_id, bytes).await;
        assert_eq!(intake.patch(&token, &url, 0, bytes).await.status, 204);
    }

    let escalate = intake
        .request(
            Method::POST,
            &format!("/v1/cases/{case_id}/escalations"),
            Some(&token),
        )
        .json(&json!({"reason": "Production outage"}));
    let reply = intake
        .send("/v1/cases/{case_id}/escalations", escalate)
        .await;
    assert_eq!(reply.status, 201);
    assert_eq!(
        reply.body,
        json!({"case_id": case_id, "status": "recorded"})
    );

    let case = intake
        .with_store(|store| store.case(case_id.parse().unwrap()))
        .unwrap()
        .unwrap();
    assert_eq!(case.bundles.len(), 2);
    assert_eq!(case.escalations.len(), 1);
    assert_eq!(case.escalations[0].reason, "Production outage");

    // Unknown case: 404.
    let unknown = intake
        .request(Method::POST, "/v1/cases/00000099/escalations", Some(&token))
        .json(&json!({"reason": "?"}));
    let reply = intake
        .send("/v1/cases/{case_id}/escalations", unknown)
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.error(), "case_not_found");
}

#[tokio::test]
async fn bundles_over_the_limit_are_413() {
    let intake = Intake::start_with(|config| config.max_bundle = 100_000).await;
    let token = intake.token(ORG, None);
    let big = jcdiag_testkit::bundle_of_size(150_000);
    let reply = intake.create_case(&token, &uuid(), &big).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.error(), "bundle_too_large");

    let small = jcdiag_testkit::bundle_of_size(1000);
    let (case_id, token) = intake.open_case(&small).await;
    let reply = intake
        .tus_create(&token, &case_id, 100_001, &sha256_hex(&small))
        .await;
    assert_eq!(reply.status, 413);
}

#[tokio::test]
async fn odd_upload_ids_are_404_without_touching_disk() {
    let intake = Intake::start().await;
    let token = intake.token(ORG, None);
    for id in [
        "..%2F..%2Fintake.sqlite",
        "..%2Fintake.sqlite",
        "ABCDEF0123456789ABCDEF0123456789",
        "x",
    ] {
        let url = format!("{}/v1/uploads/{id}", intake.url);
        let reply = intake.head(&token, &url).await;
        assert_eq!(reply.status, 404, "{id}");
        let request = intake
            .request(Method::DELETE, &url, Some(&token))
            .header("Tus-Resumable", "1.0.0");
        assert_eq!(
            intake.send("/v1/uploads/{upload_id}", request).await.status,
            404,
            "{id}"
        );
    }
    if intake.database.is_none() {
        assert!(intake.data_dir.join("intake.sqlite").exists());
    }
    assert!(intake.leftovers().is_empty());
}

#[tokio::test]
async fn openapi_document_is_served_and_declares_the_routes() {
    let intake = Intake::start().await;
    let reply = intake
        .send(
            "/v1/openapi.json",
            intake.request(Method::GET, "/v1/openapi.json", None),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(&reply.body, jcdiag_testkit::openapi());
    assert_eq!(reply.body["openapi"], "3.1.0");

    // Everything the contract names, with the status codes clients rely on.
    let expected: &[(&str, &str, &[u16])] = &[
        ("/v1/cases", "post", &[200, 201, 400, 401, 403, 413]),
        (
            "/v1/cases/{case_id}/attachments",
            "post",
            &[200, 201, 401, 404, 413],
        ),
        ("/v1/cases/{case_id}/escalations", "post", &[201, 401, 404]),
        ("/v1/cases/{case_id}/uploads", "options", &[204]),
        (
            "/v1/cases/{case_id}/uploads",
            "post",
            &[201, 400, 401, 404, 409, 412, 413],
        ),
        ("/v1/uploads/{upload_id}", "head", &[200, 404, 410, 412]),
        (
            "/v1/uploads/{upload_id}",
            "patch",
            &[204, 409, 410, 412, 413, 415, 422, 460],
        ),
        ("/v1/uploads/{upload_id}", "delete", &[204, 404]),
        ("/v1/uploads/{upload_id}/receipt", "get", &[200, 409]),
    ];
    for (path, method, statuses) in expected {
        for status in *statuses {
            assert!(
                reply.body["paths"][path][method]["responses"]
                    .get(status.to_string())
                    .is_some(),
                "openapi lacks {method} {path} {status}"
            );
        }
    }

    // Unknown routes and methods answer in the JSON error format too.
    let response = intake
        .http
        .get(format!("{}/v2/nothing", intake.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    let response = intake
        .http
        .get(format!("{}/v1/cases", intake.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
}
