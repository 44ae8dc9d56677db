//! A headless Chromium driven over WebDriver (Debian's `chromium` and `chromium-driver`),
//! for the console's browser tests and its screenshot script.
//!
//! chromedriver is started from its explicit path on a free 127.0.0.1 port; Chromium runs
//! headless with its own temp profile and every feature that would talk to outside services
//! off (background networking, component updates, sync, metrics, phishing checks, domain
//! reliability). `--no-sandbox` only when running as root, where Chromium refuses to start
//! otherwise. The test intake's certificate is trusted by its public key's hash
//! (`--ignore-certificate-errors-spki-list`): in this test browser only, never in the product.
//!
//! The protocol is a handful of JSON calls (W3C WebDriver), spoken with reqwest.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::{Certs, Launch};

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Whether this machine has the browser and its driver (`apt-get install chromium chromium-driver`).
pub fn available() -> bool {
    std::path::Path::new(CHROMEDRIVER).is_file() && std::path::Path::new(CHROMIUM).is_file()
}

pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
    base: String,
    _profile: tempfile::TempDir,
}

/// A found element.
#[derive(Debug, Clone)]
pub struct Element(String);

fn running_as_root() -> bool {
    #[cfg(unix)]
    {
        Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        false
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium that trusts the test intake's certificate.
    pub async fn start(certs: &Certs) -> Browser {
        assert!(
            available(),
            "{CHROMIUM} and {CHROMEDRIVER} are needed: apt-get install chromium chromium-driver"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .start()
            .expect("chromedriver starts");
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(certs.client_config())
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            let ready = http.get(format!("{base}/status")).send().await;
            if let Ok(reply) = ready
                && let Ok(status) = reply.json::<Value>().await
                && status["value"]["ready"] == true
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless=new".to_owned(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--metrics-recording-only".into(),
            "--disable-default-apps".into(),
            "--no-first-run".into(),
            "--disable-domain-reliability".into(),
            "--disable-client-side-phishing-detection".into(),
            "--disable-breakpad".into(),
            "--no-default-browser-check".into(),
            "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication".into(),
            "--disable-dev-shm-usage".into(),
            "--window-size=1400,1000".into(),
            format!("--user-data-dir={}", profile.path().display()),
            format!("--ignore-certificate-errors-spki-list={}", certs.leaf_spki_sha256),
        ];
        if running_as_root() {
            args.push("--no-sandbox".into());
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let mut browser = Browser {
            driver,
            http,
            session: String::new(),
            base,
            _profile: profile,
        };
        let created = browser
            .call(reqwest::Method::POST, "/session", capabilities)
            .await;
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_owned();
        browser
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.clone(), url);
        if method != reqwest::Method::GET && method != reqwest::Method::DELETE {
            request = request.json(&body);
        }
        let reply = request.send().await.expect("chromedriver answers");
        let value: Value = reply.json().await.expect("chromedriver answers JSON");
        if value["value"].get("error").is_some() {
            panic!("WebDriver {method} {path}: {}", value["value"]);
        }
        value["value"].clone()
    }

    fn at(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, &self.at("/url"), json!({"url": url}))
            .await;
    }

    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, &self.at("/url"), Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn find(&self, css: &str) -> Element {
        let found = self
            .call(
                reqwest::Method::POST,
                &self.at("/element"),
                json!({"using": "css selector", "value": css}),
            )
            .await;
        Element(
            found[ELEMENT]
                .as_str()
                .unwrap_or_else(|| panic!("{css}: {found}"))
                .to_owned(),
        )
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let found = self
            .call(
                reqwest::Method::POST,
                &self.at("/elements"),
                json!({"using": "css selector", "value": css}),
            )
            .await;
        found
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| Element(e[ELEMENT].as_str().unwrap_or_default().to_owned()))
            .collect()
    }

    pub async fn click(&self, element: &Element) {
        self.call(
            reqwest::Method::POST,
            &self.at(&format!("/element/{}/click", element.0)),
            json!({}),
        )
        .await;
    }

    /// Clicks something that loads a new page (a link, a form's button) and waits until the
    /// new page has loaded.
    pub async fn click_to_load(&self, element: &Element) {
        self.execute("window.__jcdiag_old_page = true; return null;")
            .await;
        self.click(element).await;
        for _ in 0..600 {
            let loaded = self
                .execute(
                    "return window.__jcdiag_old_page === undefined && document.readyState === 'complete';",
                )
                .await;
            if loaded == Value::Bool(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no new page loaded after the click (at {})",
            self.url().await
        );
    }

    pub async fn type_into(&self, element: &Element, text: &str) {
        self.call(
            reqwest::Method::POST,
            &self.at(&format!("/element/{}/value", element.0)),
            json!({"text": text}),
        )
        .await;
    }

    pub async fn text(&self, element: &Element) -> String {
        self.call(
            reqwest::Method::GET,
            &self.at(&format!("/element/{}/text", element.0)),
            Value::Null,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    pub async fn attribute(&self, element: &Element, name: &str) -> Option<String> {
        self.call(
            reqwest::Method::GET,
            &self.at(&format!("/element/{}/attribute/{name}", element.0)),
            Value::Null,
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub async fn execute(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            &self.at("/execute/sync"),
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let data = self
            .call(reqwest::Method::GET, &self.at("/screenshot"), Value::Null)
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .unwrap()
    }

    /// Ends the session and stops chromedriver.
    pub async fn quit(mut self) {
        let path = self.at("");
        let _ = self
            .http
            .delete(format!("{}{path}", self.base))
            .send()
            .await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
