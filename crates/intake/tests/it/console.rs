//! The support console's boundaries over real HTTPS: staff accounts from the command line,
//! login with CSRF and lockout, sessions that never upload, upload tokens that never open
//! the console, and every answer checked against openapi/intake-v1.json.

use jcdiag_testkit::*;
use reqwest::Method;
use reqwest::redirect::Policy;

/// `application/x-www-form-urlencoded` bodies, as a browser sends a form.
trait FormOf {
    fn form_of(self, fields: &[(&str, &str)]) -> Self;
}

impl FormOf for reqwest::RequestBuilder {
    fn form_of(self, fields: &[(&str, &str)]) -> Self {
        let encode = |text: &str| {
            text.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                        (b as char).to_string()
                    }
                    b' ' => "+".to_owned(),
                    other => format!("%{other:02X}"),
                })
                .collect::<String>()
        };
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }
}

const EMAIL: &str = "ada@support.example.com";
const PASSWORD: &str = "a long enough password";

/// A client that shows redirects instead of following them, and keeps no cookies itself.
fn raw_client(intake: &Intake) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(intake.certs.client_config())
        .redirect(Policy::none())
        .build()
        .unwrap()
}

struct Console<'a> {
    intake: &'a Intake,
    http: reqwest::Client,
}

impl Console<'_> {
    fn new(intake: &Intake) -> Console<'_> {
        Console {
            intake,
            http: raw_client(intake),
        }
    }

    /// Sends, checks the answer against the OpenAPI document; (status, headers, body text).
    async fn send(
        &self,
        template: &str,
        request: reqwest::RequestBuilder,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let request = request.build().unwrap();
        let method = request.method().clone();
        let response = self.http.execute(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let reply = Reply {
            status,
            headers: headers.clone(),
            body: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        };
        assert_documented(&method, template, &reply);
        if let Some(kind) = headers.get("content-type") {
            let documented =
                openapi()["paths"][template][method.as_str().to_lowercase()]["responses"]
                    [status.to_string()]["content"]
                    .as_object()
                    .map(|c| c.keys().cloned().collect::<Vec<_>>())
                    .unwrap_or_default();
            let kind = kind.to_str().unwrap().split(';').next().unwrap().to_owned();
            assert!(
                documented.is_empty() || documented.contains(&kind),
                "{method} {template} {status}: {kind} not in {documented:?}"
            );
        }
        (status, headers, text)
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.intake.url))
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(format!("{}{path}", self.intake.url))
    }

    /// Logs in through the form; the session cookie's `name=value`.
    async fn login(&self, password: &str) -> (u16, Option<String>, String) {
        let (_, headers, page) = self
            .send("/console/login", self.get("/console/login"))
            .await;
        let login_cookie = cookie_pair(&headers, "__Host-jcdiag-login").unwrap();
        let token = hidden(&page, "login_csrf");
        let (status, headers, body) = self
            .send(
                "/console/login",
                self.post("/console/login")
                    .header("cookie", login_cookie)
                    .form_of(&[
                        ("login_csrf", token.as_str()),
                        ("email", EMAIL),
                        ("password", password),
                    ]),
            )
            .await;
        (status, cookie_pair(&headers, "__Host-jcdiag-session"), body)
    }
}

/// `name=value` of a Set-Cookie with that name, checking its attributes.
fn cookie_pair(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")) && !v.starts_with(&format!("{name}=;")))
        .map(|v| {
            for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
                assert!(v.contains(attribute), "{v} lacks {attribute}");
            }
            v.split(';').next().unwrap().to_owned()
        })
}

/// The value of the hidden input `name` in a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

#[test]
fn staff_accounts_are_added_with_a_password_from_stdin_listed_and_removed() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let add = |password: &str| {
        let mut child = std::process::Command::new(intake_bin())
            .args([
                "staff",
                "add",
                "Ada@Support.example.com",
                "--password-stdin",
                "--data",
            ])
            .arg(dir.path())
            .env_remove("JCDIAG_INTAKE_DATA")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .start()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let short = add("short\n");
    assert_eq!(
        short.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&short.stderr)
    );
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12"));
    assert_eq!(
        stdout_of_success(&add(&format!("{PASSWORD}\n"))),
        format!("added {EMAIL}\n")
    );

    // Only an argon2id hash is stored, never the password.
    let db = std::fs::read(dir.path().join("intake.sqlite")).unwrap();
    assert!(!db.windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes()));
    assert!(db.windows(10).any(|w| w == b"$argon2id$"));

    let list = stdout_of_success(&intake_cli(dir.path(), &["staff", "list"]));
    assert!(list.starts_with(EMAIL), "{list}");
    let removed = intake_cli(dir.path(), &["staff", "remove", EMAIL]);
    assert_eq!(stdout_of_success(&removed), format!("removed {EMAIL}\n"));
    let again = intake_cli(dir.path(), &["staff", "remove", EMAIL]);
    assert_eq!(again.status.code(), Some(2));
    let list = stdout_of_success(&intake_cli(dir.path(), &["staff", "list"]));
    assert!(list.starts_with("No staff accounts"), "{list}");
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_add_with_a_database_makes_an_account_the_served_console_accepts() {
    use std::io::Write;
    let intake = Intake::start().await;
    let Some(database) = intake.database.clone() else {
        eprintln!("skipped: runs with JCDIAG_TEST_METADATA=postgres (accounts in PostgreSQL)");
        return;
    };
    let mut child = std::process::Command::new(intake_bin())
        .args(["staff", "add", EMAIL, "--password-stdin", "--data"])
        .arg(&intake.data_dir)
        .arg("--database")
        .arg(&database.url)
        .env(
            "JCDIAG_INTAKE_DATABASE_PASSWORD",
            database.password.as_deref().unwrap_or_default(),
        )
        .env_remove("JCDIAG_INTAKE_DATA")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .start()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    let added = child.wait_with_output().unwrap();
    assert_eq!(stdout_of_success(&added), format!("added {EMAIL}\n"));
    // The running server reads the account from the database the command wrote it to.
    let console = Console::new(&intake);
    let (_, session, _) = console.login(PASSWORD).await;
    assert!(
        session.is_some(),
        "no session for an account added with --database"
    );
    let list = stdout_of_success(&intake_cli(&intake.data_dir, &["staff", "list"]));
    assert!(list.starts_with(EMAIL), "{list}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_needs_a_session_a_csrf_token_and_never_mixes_with_upload_tokens() {
    let intake = Intake::start().await;
    let bundle = sample_bundle();
    let (case, org_token) = intake.open_case(&bundle).await;
    let url = intake.start_upload(&org_token, &case, &bundle).await;
    intake
        .upload_all(&org_token, &url, &bundle, bundle.len())
        .await;
    add_staff(&intake.data_dir, EMAIL, PASSWORD);
    let console = Console::new(&intake);
    let sha = sha256_hex(&bundle);

    let gets = [
        ("/console", "/console".to_owned()),
        ("/console/fleet", "/console/fleet".to_owned()),
        ("/console/cases/{case_id}", format!("/console/cases/{case}")),
        (
            "/console/cases/{case_id}/bundles/{sha256}/download",
            format!("/console/cases/{case}/bundles/{sha}/download"),
        ),
        (
            "/console/cases/{case_id}/bundles/{sha256}/log",
            format!("/console/cases/{case}/bundles/{sha}/log?entry=summary.txt"),
        ),
    ];
    let posts = [
        ("/console/logout", "/console/logout".to_owned()),
        (
            "/console/cases/{case_id}/status",
            format!("/console/cases/{case}/status"),
        ),
        (
            "/console/cases/{case_id}/first-response",
            format!("/console/cases/{case}/first-response"),
        ),
        (
            "/console/cases/{case_id}/notes",
            format!("/console/cases/{case}/notes"),
        ),
        (
            "/console/cases/{case_id}/bundle-requests",
            format!("/console/cases/{case}/bundle-requests"),
        ),
    ];
    // Without a session, and with an upload token instead: 401 and the login form.
    for token in [None, Some(org_token.as_str())] {
        for (template, path) in &gets {
            let mut request = console.get(path);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let (status, headers, body) = console.send(template, request).await;
            assert_eq!(status, 401, "GET {path} with {token:?}");
            assert!(body.contains("action=\"/console/login\""), "{body}");
            assert!(
                headers["content-security-policy"]
                    .to_str()
                    .unwrap()
                    .contains("default-src 'none'")
            );
        }
        for (template, path) in &posts {
            let mut request = console.post(path).form_of(&[("csrf", "x"), ("text", "hi")]);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let (status, _, _) = console.send(template, request).await;
            assert_eq!(status, 401, "POST {path} with {token:?}");
        }
    }

    // The login form's own CSRF token: missing or wrong is 403.
    let (_, headers, page) = console
        .send("/console/login", console.get("/console/login"))
        .await;
    let login_cookie = cookie_pair(&headers, "__Host-jcdiag-login").unwrap();
    let good = hidden(&page, "login_csrf");
    for (cookie, token) in [
        (None, good.as_str()),
        (Some(login_cookie.as_str()), "wrong"),
        (Some(login_cookie.as_str()), ""),
    ] {
        let mut request = console.post("/console/login").form_of(&[
            ("login_csrf", token),
            ("email", EMAIL),
            ("password", PASSWORD),
        ]);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let (status, headers, _) = console.send("/console/login", request).await;
        assert_eq!(status, 403);
        assert!(cookie_pair(&headers, "__Host-jcdiag-session").is_none());
    }

    let (status, session, _) = console.login(PASSWORD).await;
    assert_eq!(status, 303);
    let session = session.expect("a session cookie");
    let (status, headers, queue) = console
        .send(
            "/console",
            console.get("/console").header("cookie", &session),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "no-store");
    assert!(queue.contains(&format!("/console/cases/{case}")), "{queue}");
    // The session's CSRF token, from a form on the page.
    let csrf = hidden(&queue, "csrf");

    // A session cookie never uploads.
    let reply = intake
        .send(
            "/v1/cases",
            intake
                .request(Method::POST, "/v1/cases", None)
                .header("cookie", &session)
                .header("Idempotency-Key", uuid())
                .json(&serde_json::json!({"case": case_json(), "bundle": {"sha256": sha, "size": bundle.len()}})),
        )
        .await;
    assert_eq!(reply.status, 401);
    let reply = intake
        .send(
            "/v1/cases/{case_id}/uploads",
            intake
                .request(Method::POST, &format!("/v1/cases/{case}/uploads"), None)
                .header("cookie", &session)
                .header("Tus-Resumable", "1.0.0")
                .header("Upload-Length", "10"),
        )
        .await;
    assert_eq!(reply.status, 401);
    // A session plus an upload token is still refused on the console.
    let (status, _, _) = console
        .send(
            "/console",
            console
                .get("/console")
                .header("cookie", &session)
                .bearer_auth(&org_token),
        )
        .await;
    assert_eq!(status, 401);

    // Every POST: without or with a wrong CSRF token, 403 and nothing changes.
    for (template, path) in &posts {
        for token in [None, Some("wrong"), Some(&csrf[1..])] {
            let mut fields = vec![("text", "a note"), ("status", "resolved"), ("hours", "24")];
            if let Some(token) = token {
                fields.push(("csrf", token));
            }
            let (status, _, _) = console
                .send(
                    template,
                    console
                        .post(path)
                        .header("cookie", &session)
                        .form_of(&fields),
                )
                .await;
            assert_eq!(status, 403, "POST {path} with csrf {token:?}");
        }
    }
    let (_, _, page) = console
        .send(
            "/console/cases/{case_id}",
            console
                .get(&format!("/console/cases/{case}"))
                .header("cookie", &session),
        )
        .await;
    assert!(
        !page.contains("a note") && page.contains("not yet"),
        "nothing changed"
    );

    // With the token: a note, a status, the first response, each with who and when.
    for (path, fields) in [
        ("notes", vec![("text", "<b>checked</b> the agent")]),
        ("status", vec![("status", "waiting")]),
        ("first-response", vec![("text", "asked for a restart")]),
    ] {
        let mut fields = fields;
        fields.push(("csrf", &csrf));
        let template = format!("/console/cases/{{case_id}}/{path}");
        let (status, headers, _) = console
            .send(
                &template,
                console
                    .post(&format!("/console/cases/{case}/{path}"))
                    .header("cookie", &session)
                    .form_of(&fields),
            )
            .await;
        assert_eq!(status, 303, "{path}");
        assert_eq!(
            headers["location"],
            format!("/console/cases/{case}").as_str()
        );
    }
    // A download is logged with who.
    let (status, headers, _) = console
        .send(
            gets[3].0,
            console.get(&gets[3].1).header("cookie", &session),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/zip");
    // The bundle as kept, wherever the objects are (the data folder, or S3 read by ranges).
    let downloaded = console
        .get(&gets[3].1)
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(downloaded[..] == bundle[..], "the download is the bundle");
    let (_, _, page) = console
        .send(
            "/console/cases/{case_id}",
            console
                .get(&format!("/console/cases/{case}"))
                .header("cookie", &session),
        )
        .await;
    assert!(
        page.contains("&lt;b&gt;checked&lt;/b&gt; the agent"),
        "escaped note: {page}"
    );
    assert!(page.contains("waiting on customer"));
    // The bundle's file tree and summary, read from wherever the bundle is kept.
    assert!(
        page.contains("3 files") && page.contains("Agent stopped reporting."),
        "{page}"
    );
    assert!(page.contains("asked for a restart"));
    assert!(
        page.contains(&format!("bundle {sha}")) && page.contains(EMAIL),
        "download logged"
    );

    // Logout ends the session on the server, not only in the browser.
    let (status, _, _) = console
        .send(
            "/console/logout",
            console
                .post("/console/logout")
                .header("cookie", &session)
                .form_of(&[("csrf", &csrf)]),
        )
        .await;
    assert_eq!(status, 303);
    let (status, _, _) = console
        .send(
            "/console",
            console.get("/console").header("cookie", &session),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn five_wrong_passwords_lock_the_account_even_against_the_right_one() {
    let intake = Intake::start().await;
    add_staff(&intake.data_dir, EMAIL, PASSWORD);
    let console = Console::new(&intake);
    for attempt in 1..=4 {
        let (status, session, body) = console.login("wrong password!!").await;
        assert_eq!(status, 401, "attempt {attempt}");
        assert!(session.is_none() && body.contains("Wrong email or password"));
    }
    let (status, _, body) = console.login("wrong password!!").await;
    assert_eq!(status, 429);
    assert!(body.contains("locked"), "{body}");
    let (status, session, _) = console.login(PASSWORD).await;
    assert_eq!((status, session), (429, None));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_log_viewer_pages_jumps_between_errors_and_searches_without_leaving_its_bundle() {
    let intake = Intake::start().await;
    let mut log = String::new();
    for line in 1..=450 {
        let level = if line == 120 || line == 330 {
            "ERROR"
        } else {
            "INFO"
        };
        log.push_str(&format!("2026/12/01 [{level}] line {line}\n"));
    }
    log.push_str(&format!("{}\n", "x".repeat(5000)));
    let bundle = zip_of(&[("case.json", b"{}"), ("logs/jcagent.log", log.as_bytes())]);
    let (case, token) = intake.open_case(&bundle).await;
    let url = intake.start_upload(&token, &case, &bundle).await;
    intake.upload_all(&token, &url, &bundle, bundle.len()).await;
    add_staff(&intake.data_dir, EMAIL, PASSWORD);
    let console = Console::new(&intake);
    let (_, session, _) = console.login(PASSWORD).await;
    let session = session.unwrap();
    let sha = sha256_hex(&bundle);
    let view = |query: &str| {
        let path =
            format!("/console/cases/{case}/bundles/{sha}/log?entry=logs%2Fjcagent.log&{query}");
        console.get(&path).header("cookie", session.clone())
    };
    let template = "/console/cases/{case_id}/bundles/{sha256}/log";
    let highlighted = |page: &str| page.split("class=\"hit\"").count() - 1;

    let (status, _, page) = console.send(template, view("page=2")).await;
    assert_eq!(status, 200);
    assert!(page.contains("<ol class=\"log\" start=\"101\">"), "{page}");
    assert!(
        page.contains("line 101\n") || page.contains("line 101<"),
        "page 2 starts at line 101"
    );
    assert!(!page.contains("line 100<") && !page.contains("line 201<"));
    assert!(
        page.contains("451 lines")
            && page.contains("page 2 of 5")
            && page.contains("2 ERROR lines"),
        "{page}"
    );

    // ERROR jumps, both ways; past the last one, a note and no highlight.
    let (_, _, page) = console.send(template, view("error=next&from=1")).await;
    assert!(page.contains("id=\"L120\" class=\"hit\""), "{page}");
    let (_, _, page) = console.send(template, view("error=next&from=120")).await;
    assert!(page.contains("id=\"L330\" class=\"hit\""));
    let (_, _, page) = console.send(template, view("error=prev&from=330")).await;
    assert!(page.contains("id=\"L120\" class=\"hit\""));
    let (_, _, page) = console.send(template, view("error=next&from=330")).await;
    assert!(page.contains("No later ERROR line") && highlighted(&page) == 0);

    // Search from a line: lands on the first match after it, on its page.
    let (_, _, page) = console.send(template, view("q=line+42&from=0")).await;
    assert!(page.contains("id=\"L42\" class=\"hit\""), "{page}");
    let (_, _, page) = console.send(template, view("q=line+42&from=42")).await;
    assert!(
        page.contains("id=\"L420\" class=\"hit\"") && page.contains("start=\"401\""),
        "{page}"
    );
    let (_, _, page) = console.send(template, view("q=nowhere&from=0")).await;
    assert!(page.contains("Not found after this line") && highlighted(&page) == 0);
    // A huge line is cut; the file and index were extracted once, into the data folder.
    let (_, _, page) = console.send(template, view("page=5")).await;
    assert!(page.contains("…[line cut]") && !page.contains(&"x".repeat(2001)));
    let cache = intake.data_dir.join("console-cache").join(&case).join(&sha);
    assert_eq!(
        std::fs::read_dir(&cache).unwrap().count(),
        3,
        "log, pages and errors"
    );

    // Another entry name, another bundle, another case: 404.
    for path in [
        format!("/console/cases/{case}/bundles/{sha}/log?entry=logs%2Fmissing.log"),
        format!(
            "/console/cases/{case}/bundles/{}/log?entry=logs%2Fjcagent.log",
            "0".repeat(64)
        ),
        format!("/console/cases/99999999/bundles/{sha}/log?entry=logs%2Fjcagent.log"),
        format!("/console/cases/{case}/bundles/{sha}/log?entry=..%2F..%2Fintake.sqlite"),
    ] {
        let (status, _, _) = console
            .send(
                template,
                console.get(&path).header("cookie", session.clone()),
            )
            .await;
        assert_eq!(status, 404, "{path}");
    }
}
