//! What a client sent reaches support's terminal through `case show` and `case list`: control
//! characters (escape sequences, OSC 52 clipboard writes, C1 controls, bidi overrides) must be
//! shown escaped, and no line a client wrote may pose as a line of the layout.

use std::path::Path;

use jcdiag_testkit::{Intake, case_json, sha256_hex, uuid};
use reqwest::Method;
use serde_json::{Value, json};

/// Every kind of character that can act on a terminal or reorder what it shows.
const HOSTILE: &str = "\u{1b}[2J\u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}[31mred\u{9b}1m\u{85}\u{7f}\u{202e}drow\u{2066}x\u{2069}\u{8}\u{c}\t";

fn run(data: &Path, args: &[&str]) -> String {
    let output = jcdiag_testkit::intake_cli(data, args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn is_dangerous(c: char) -> bool {
    (c.is_control() && c != '\n')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

fn assert_clean(what: &str, text: &str) {
    let found: Vec<String> = text
        .chars()
        .filter(|&c| is_dangerous(c))
        .map(|c| format!("U+{:04X}", c as u32))
        .collect();
    assert!(found.is_empty(), "{what} prints {found:?} raw:\n{text}");
}

#[tokio::test]
async fn case_output_shows_control_characters_escaped_and_forges_no_lines() {
    let intake = Intake::start().await;
    // An org name may hold a bidi override (it is not a control character).
    let token = intake.token("acme\u{202e}moc", None);

    let mut case = case_json();
    // Line breaks where the layout has one line, and lines that look like the layout's own.
    let forged = "\nFORGED header\n  Org              FORGED\r  Tier FORGED\u{2028}FORGED";
    case["form"] = json!({
        "description": format!("Agent down{HOSTILE}{forged}"),
        "troubleshooting": format!("restarted{forged}"),
        "errors": ["E1", format!("E2{HOSTILE}{forged}")],
        "email": format!("a@example.com{forged}"),
        format!("note{HOSTILE}{forged}"): format!("x{HOSTILE}"),
        "contact": {"name": format!("Eve{forged}"), "email": "e@example.com"},
        "extra": {format!("k{forged}"): format!("v{HOSTILE}{forged}")},
    });
    let bundle = jcdiag_testkit::sample_bundle();
    let body =
        json!({"case": case, "bundle": {"sha256": sha256_hex(&bundle), "size": bundle.len()}});
    let request = intake
        .request(Method::POST, "/v1/cases", Some(&token))
        .header("Idempotency-Key", uuid())
        .json(&body);
    let created = intake.send("/v1/cases", request).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let case_id = created.body["case_id"].as_str().unwrap().to_owned();
    let reason = format!("Still down{HOSTILE}{forged}");
    let escalate = intake
        .request(
            Method::POST,
            &format!("/v1/cases/{case_id}/escalations"),
            Some(&token),
        )
        .json(&json!({ "reason": reason }));
    let answer = intake
        .send("/v1/cases/{case_id}/escalations", escalate)
        .await;
    assert_eq!(answer.status, 201);
    // A second, ordinary case: the list must still show exactly one line per case.
    let plain = intake.token("globex", None);
    assert_eq!(
        intake.create_case(&plain, &uuid(), &bundle).await.status,
        201
    );

    let data = &intake.data_dir;
    let page = run(data, &["case", "show", &case_id]);
    assert_clean("case show", &page);
    for line in page.lines() {
        // A client's text is either on its label's line or indented under the value column
        // (19 columns); a line break it sent never starts a line of its own.
        if let Some(at) = line.find("FORGED") {
            let before = &line[..at];
            assert!(
                before.starts_with(&" ".repeat(19)) || before.contains('\\'),
                "a client's line poses as the layout's: {line:?}\n{page}"
            );
        }
    }
    // The escapes say what was there, so support can still read it.
    assert!(page.contains("\\u{1b}[2J"), "{page}");
    assert!(page.contains("\\u{202e}"), "{page}");
    assert!(page.contains("Agent down"), "{page}");

    let table = run(data, &["case", "list"]);
    assert_clean("case list", &table);
    assert_eq!(
        table.lines().count(),
        3,
        "header and one line per case:\n{table}"
    );

    // JSON escapes control characters itself; what reaches the terminal must be clean of the
    // C1 controls and bidi overrides JSON leaves raw, and still read back as sent.
    for args in [
        vec!["case", "show", case_id.as_str(), "--json"],
        vec!["case", "list", "--json"],
    ] {
        let text = run(data, &args);
        assert_clean(&format!("{args:?}"), &text);
        let value: Value = serde_json::from_str(&text).unwrap();
        let shown = if args[1] == "show" {
            value
        } else {
            value
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["case_id"] == case_id.as_str())
                .unwrap()
                .clone()
        };
        assert_eq!(shown["org"], "acme\u{202e}moc");
        assert_eq!(shown["escalations"][0]["reason"], reason.trim());
    }
}
