//! `GET /v1/agent-version`: the newest agent version the support team publishes with
//! `serve --agent-newest`, asked without a token; 404 when none is published.

use std::process::{Command, Stdio};

use jcdiag_testkit::{Intake, Launch, intake_bin};
use reqwest::Method;

#[tokio::test(flavor = "multi_thread")]
async fn the_published_version_is_given_without_a_token_and_none_is_a_404() {
    let publishing =
        Intake::start_with(|config| config.agent_newest = Some("0.155.2".into())).await;
    let request = publishing.request(Method::GET, "/v1/agent-version", None);
    let reply = publishing.send("/v1/agent-version", request).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["newest"], "0.155.2");
    assert_eq!(reply.body["schema"], "jcdiag.agent-version/1");

    let silent = Intake::start().await;
    let request = silent.request(Method::GET, "/v1/agent-version", None);
    let reply = silent.send("/v1/agent-version", request).await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(reply.error(), "not_published");
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap()
            .contains("--agent-newest"),
        "{}",
        reply.body
    );
}

#[test]
fn a_published_version_that_is_not_a_dotted_number_is_refused_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in ["latest", "0.155.x", "1..2", ""] {
        let out = Command::new(intake_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--agent-newest", bad])
            .arg("--data")
            .arg(tmp.path().join("data"))
            .env_remove("JCDIAG_INTAKE_AGENT_NEWEST")
            .stdin(Stdio::null())
            .run()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("--agent-newest"), "{bad}: {stderr}");
        assert!(stderr.contains("0.155.0"), "{bad}: {stderr}");
    }
}
