//! A case the caller may not touch answers exactly like a case that does not exist (404), so
//! a token cannot be used to learn which case ids exist in other orgs (or other cases of its
//! own org, for a case-scoped token).

use jcdiag_testkit::{Intake, Reply, sample_bundle, sha256_hex, uuid};
use reqwest::Method;
use serde_json::json;

/// The three case routes, each with `case_id` in its path.
async fn every_case_route(intake: &Intake, token: &str, case_id: &str) -> Vec<Reply> {
    let bundle = sample_bundle();
    let attach = intake
        .request(
            Method::POST,
            &format!("/v1/cases/{case_id}/attachments"),
            Some(token),
        )
        .header("Idempotency-Key", uuid())
        .json(&json!({"bundle": {"sha256": sha256_hex(&bundle), "size": bundle.len()}}));
    let escalate = intake
        .request(
            Method::POST,
            &format!("/v1/cases/{case_id}/escalations"),
            Some(token),
        )
        .json(&json!({"reason": "urgent"}));
    vec![
        intake.send("/v1/cases/{case_id}/attachments", attach).await,
        intake
            .send("/v1/cases/{case_id}/escalations", escalate)
            .await,
        intake
            .tus_create(token, case_id, bundle.len(), &sha256_hex(&bundle))
            .await,
    ]
}

/// What a caller sees, with the case id taken out of the message.
fn seen(reply: &Reply, case_id: &str) -> (u16, String, String) {
    (
        reply.status,
        reply.error().to_owned(),
        reply.body["message"]
            .as_str()
            .unwrap_or_default()
            .replace(case_id, "ID"),
    )
}

#[tokio::test]
async fn another_orgs_case_and_another_case_answer_like_a_missing_case() {
    let intake = Intake::start().await;
    let bundle = sample_bundle();
    let (acme_case, _) = intake.open_case(&bundle).await;
    let (other_acme_case, _) = intake.open_case(&bundle).await;
    let missing = "09999999";

    let stranger = intake.token("globex", None);
    let scoped = intake.token(jcdiag_testkit::ORG, Some(&other_acme_case));
    let absent = every_case_route(&intake, &stranger, missing).await;
    for reply in &absent {
        assert_eq!(reply.status, 404, "{:?}", reply.body);
    }
    for (who, token) in [
        ("another org", &stranger),
        ("another case's token", &scoped),
    ] {
        let refused = every_case_route(&intake, token, &acme_case).await;
        for (refused, absent) in refused.iter().zip(&absent) {
            assert_eq!(
                seen(refused, &acme_case),
                seen(absent, missing),
                "{who}: an existing case must answer like a missing one"
            );
        }
    }
}
