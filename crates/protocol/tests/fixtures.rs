//! The golden files in `fixtures/` (today's formats, captured from real runs) read by the
//! protocol types, and written back unchanged where jcdiag writes them.

use jcdiag_protocol::{
    CASE_SCHEMA, CaseRecord, Created, ErrorBody, EscalationAnswer, FINDINGS_SCHEMA, Findings,
    MANIFEST_SCHEMA, Manifest, Receipt, SYSTEM_SCHEMA, Severity, Status, SystemFacts, Tier,
};
use serde_json::{Value, json};

fn fixture(name: &str) -> &'static str {
    match name {
        "case.json" => include_str!("fixtures/case.json"),
        "case-record.json" => include_str!("fixtures/case-record.json"),
        "outbox/case.json" => include_str!("fixtures/outbox/case.json"),
        "manifest.json" => include_str!("fixtures/manifest.json"),
        "manifest-record.json" => include_str!("fixtures/manifest-record.json"),
        "system.json" => include_str!("fixtures/system.json"),
        "created.json" => include_str!("fixtures/created.json"),
        "receipt.json" => include_str!("fixtures/receipt.json"),
        "escalation.json" => include_str!("fixtures/escalation.json"),
        "error.json" => include_str!("fixtures/error.json"),
        "findings.json" => include_str!("fixtures/findings.json"),
        other => panic!("no fixture {other}"),
    }
}

fn value(name: &str) -> Value {
    serde_json::from_str(fixture(name)).unwrap()
}

#[test]
fn todays_case_json_reads_and_writes_back_the_same_fields_and_values() {
    for name in ["case.json", "case-record.json", "outbox/case.json"] {
        let case: CaseRecord = serde_json::from_str(fixture(name)).unwrap();
        assert_eq!(case.schema, CASE_SCHEMA);
        assert_eq!(
            serde_json::to_value(&case).unwrap(),
            value(name),
            "{name} changed on the way through CaseRecord"
        );
        // Byte for byte as jcdiag writes it (pretty in the bundle, compact in the outbox):
        // same fields in the same order.
        let written = if fixture(name).starts_with("{\n") {
            serde_json::to_string_pretty(&case).unwrap()
        } else {
            serde_json::to_string(&case).unwrap()
        };
        assert_eq!(written, fixture(name).trim_end(), "{name}");
    }
    let case: CaseRecord = serde_json::from_str(fixture("case.json")).unwrap();
    assert_eq!(case.tier, Some(Tier::Premium));
    let severity = case.severity.unwrap();
    assert_eq!(severity.level, Severity::try_from(1).unwrap());
    assert_eq!(severity.name.as_deref(), Some("Severity 1"));
    assert_eq!(case.form.contact.email.as_deref(), Some("a@example.com"));
    assert_eq!(case.form.errors, ["sync failed: timeout"]);
    assert_eq!(
        case.response_due.as_deref(),
        Some("2026-12-01T09:43:49-07:00")
    );
    let recorded: CaseRecord = serde_json::from_str(fixture("case-record.json")).unwrap();
    assert_eq!(
        recorded.recording.unwrap().start,
        "2026-12-01T15:44:07.533Z"
    );
}

#[test]
fn the_intakes_old_case_shapes_still_read() {
    // Severity as the intake has accepted and stored it: a number, a string, an object; tier
    // in any case; a bare form.
    for severity in [json!(2), json!("2"), json!({"level": 2, "name": "High"})] {
        let case =
            json!({"schema": CASE_SCHEMA, "form": {}, "tier": "Premium", "severity": severity});
        let case: CaseRecord = serde_json::from_value(case).unwrap();
        assert_eq!(case.tier, Some(Tier::Premium));
        assert_eq!(case.severity.unwrap().level.get(), 2);
    }
    // Fields a newer jcdiag may add are kept, not dropped, on the way through.
    let case = json!({"schema": CASE_SCHEMA, "form": {"new": 1}, "tier": null, "severity": null, "extra": [1]});
    let back = serde_json::to_value(serde_json::from_value::<CaseRecord>(case).unwrap()).unwrap();
    assert_eq!(
        (&back["extra"], &back["form"]["new"]),
        (&json!([1]), &json!(1))
    );
}

#[test]
fn a_bad_tier_or_severity_names_its_field() {
    let bad = json!({"schema": CASE_SCHEMA, "form": {}, "tier": "gold", "severity": 1});
    let e = serde_json::from_value::<CaseRecord>(bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("case.tier") && e.contains("gold"), "{e}");
    for severity in [json!(4), json!("x"), json!({"level": 0})] {
        let bad = json!({"schema": CASE_SCHEMA, "form": {}, "tier": "free", "severity": severity});
        let e = serde_json::from_value::<CaseRecord>(bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("case.severity"), "{e}");
    }
}

#[test]
fn todays_manifests_read_and_write_back_unchanged() {
    for name in ["manifest.json", "manifest-record.json"] {
        let manifest: Manifest = serde_json::from_str(fixture(name)).unwrap();
        assert_eq!(manifest.schema, MANIFEST_SCHEMA);
        assert_eq!(
            serde_json::to_string_pretty(&manifest).unwrap(),
            fixture(name).trim_end(),
            "{name}"
        );
    }
    let manifest: Manifest = serde_json::from_str(fixture("manifest.json")).unwrap();
    assert_eq!(manifest.entries[0].name, "logs/var/log/jcagent.log");
    assert_eq!(manifest.entries[1].source, None);
    assert!(manifest.recording.is_none());
    let recorded: Manifest = serde_json::from_str(fixture("manifest-record.json")).unwrap();
    let recording = recorded.recording.unwrap();
    assert_eq!(
        recording.logs[0].entry.as_deref(),
        Some("logs/recorded/jcagent.log")
    );
    assert_eq!(recording.logs[0].lines_recorded, 1);
}

#[test]
fn todays_system_json_reads_and_writes_back_unchanged() {
    let system: SystemFacts = serde_json::from_str(fixture("system.json")).unwrap();
    assert_eq!(system.schema, SYSTEM_SCHEMA);
    assert_eq!(system.collection.target_os, "linux");
    assert!(!system.collection.live_system);
    assert_eq!(system.hostname, "fixture-host");
    assert_eq!(system.agent.service, "jcagent");
    assert_eq!(
        serde_json::to_string_pretty(&system).unwrap(),
        fixture("system.json").trim_end()
    );
}

#[test]
fn the_api_answers_read() {
    let created: Created = serde_json::from_str(fixture("created.json")).unwrap();
    assert_eq!(created.case_id, "00000002");
    assert!(created.upload_url.ends_with("/v1/cases/00000002/uploads"));
    assert_eq!(
        created.response_due.as_deref(),
        Some("2026-12-01T09:43:49-07:00")
    );
    let receipt: Receipt = serde_json::from_str(fixture("receipt.json")).unwrap();
    assert_eq!((receipt.case_id.as_str(), receipt.size), ("00000001", 3099));
    assert!(receipt.receipt_id.starts_with("rcpt_"));
    assert_eq!(
        serde_json::to_value(&receipt).unwrap(),
        value("receipt.json")
    );
    let answer: EscalationAnswer = serde_json::from_str(fixture("escalation.json")).unwrap();
    assert_eq!(
        (answer.case_id.as_str(), answer.status.as_str()),
        ("00000001", "recorded")
    );
    let error: ErrorBody = serde_json::from_str(fixture("error.json")).unwrap();
    assert_eq!(error.error, "invalid_case");
    assert!(error.message.contains("unknown tier"));
}

#[test]
fn a_receipt_missing_a_field_is_refused() {
    let whole = value("receipt.json");
    for field in ["receipt_id", "case_id", "sha256", "size", "received_at"] {
        let mut partial = whole.clone();
        partial.as_object_mut().unwrap().remove(field);
        let refused = serde_json::from_value::<Receipt>(partial);
        assert!(refused.is_err(), "a receipt without {field} was accepted");
    }
    // An empty id is no receipt either.
    let mut empty = whole.clone();
    empty["receipt_id"] = json!("");
    assert!(Receipt::from_json(&serde_json::to_vec(&empty).unwrap()).is_err());
    assert!(Receipt::from_json(fixture("receipt.json").as_bytes()).is_ok());
}

#[test]
fn todays_findings_json_reads_and_writes_back_unchanged() {
    let findings: Findings = serde_json::from_str(fixture("findings.json")).unwrap();
    assert_eq!(findings.schema, FINDINGS_SCHEMA);
    assert_eq!(findings.worst(), Some(Status::Fail));
    let cert = findings
        .checks
        .iter()
        .find(|c| c.id == "cert.client")
        .unwrap();
    assert_eq!(cert.status, Status::Fail);
    let level = findings
        .checks
        .iter()
        .find(|c| c.id == "agent.log-level")
        .unwrap();
    assert_eq!(
        level.evidence[0].file.as_deref(),
        Some("agent/loglevel.cache")
    );
    assert_eq!(level.evidence[0].line, Some(1));
    let poll = &findings.signatures[0];
    assert_eq!(poll.known.as_ref().unwrap().id, "poll-eof");
    assert_eq!(poll.count, 1);
    assert_eq!(
        serde_json::to_string_pretty(&findings).unwrap(),
        fixture("findings.json").trim_end()
    );
}
