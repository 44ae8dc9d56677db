//! Canary corpus for the secret scrubber: files that look like what `jcdiag` collects, with
//! known random secrets planted in them and look-alikes that must survive.
//!
//! Self-contained (std only, with its own deterministic pseudo-random generator), so that any
//! integration test can include it:
//!
//! ```ignore
//! mod canary_corpus; // this file, in tests/
//! let corpus = canary_corpus::write_corpus(&|name| root.join(name));
//! // scrub every file in corpus.files (those named in JSON_DOCUMENTS as JSON documents), then:
//! // no corpus.secrets value may remain; every corpus.lookalikes entry must survive.
//! ```
//!
//! The corpus is the same on every run. The secrets are random but come from a fixed seed,
//! so a failure can be reproduced.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::PathBuf;

/// What [`write_corpus`] planted and where.
pub struct Corpus {
    /// `(kind, planted value)`: the kind is the scrubber's redaction kind for that secret. No
    /// byte string here may remain in the scrubbed files.
    pub secrets: Vec<(String, Vec<u8>)>,
    /// Byte strings that look secret-ish but are not; each must survive scrubbing unchanged.
    pub lookalikes: Vec<Vec<u8>>,
    /// Every file written, in [`LOGICAL_NAMES`] order.
    pub files: Vec<PathBuf>,
}

/// The logical file names [`write_corpus`] asks its `path_for` mapping about:
///
/// | name | content |
/// |------|---------|
/// | `jcagent.log` | agent log: secrets inside log lines, a line > 100 KB, invalid UTF-8 |
/// | `jcagent.log.1` | rotated log: more secrets, another line > 100 KB, CRLF line endings |
/// | `jcagent.log.2` | rotated log: a multi-line PEM key, and a truncated PEM key at the end |
/// | `jcagent.conf` | one line of JSON: `systemToken`, `certuuid`, `userMgmt.local_ldap_bind_pwd`, nested `password` |
/// | `proxy.conf` | `key=value` proxy settings with `user:pass@` URLs |
/// | `other.yaml` | YAML: plain, quoted and block-scalar secrets |
/// | `agent.ini` | INI with CRLF line endings |
/// | `aws-credentials` | AWS shared credentials file |
/// | `http-trace.txt` | HTTP requests: headers, URLs with credentials and `?token=` |
/// | `install.sh` | shell: `export KEY=`, `curl -H 'x-connect-key: ...'`, `--token=` |
/// | `client.key` | a PEM private key file |
pub const LOGICAL_NAMES: &[&str] = &[
    "jcagent.log",
    "jcagent.log.1",
    "jcagent.log.2",
    "jcagent.conf",
    "proxy.conf",
    "other.yaml",
    "agent.ini",
    "aws-credentials",
    "http-trace.txt",
    "install.sh",
    "client.key",
];

/// The logical names whose files are JSON documents: scrub them structurally, not as text.
pub const JSON_DOCUMENTS: &[&str] = &["jcagent.conf"];

/// Writes the corpus. `path_for` maps each of [`LOGICAL_NAMES`] to the path to write (parent
/// directories are created), so the caller decides the layout.
pub fn write_corpus(path_for: &dyn Fn(&str) -> PathBuf) -> Corpus {
    let mut g = Gen::new(0x6A63_6469_6167_0001);
    let contents: Vec<(&str, Vec<u8>)> = vec![
        ("jcagent.log", g.jcagent_log()),
        ("jcagent.log.1", g.jcagent_log_1()),
        ("jcagent.log.2", g.jcagent_log_2()),
        ("jcagent.conf", g.jcagent_conf()),
        ("proxy.conf", g.proxy_conf()),
        ("other.yaml", g.other_yaml()),
        ("agent.ini", g.agent_ini()),
        ("aws-credentials", g.aws_credentials()),
        ("http-trace.txt", g.http_trace()),
        ("install.sh", g.install_sh()),
        ("client.key", g.client_key()),
    ];
    debug_assert_eq!(contents.len(), LOGICAL_NAMES.len());
    let mut files = Vec::new();
    for (name, bytes) in contents {
        let path = path_for(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create corpus directory");
        }
        std::fs::write(&path, bytes).expect("write corpus file");
        files.push(path);
    }
    Corpus {
        secrets: g.secrets,
        lookalikes: g.lookalikes.into_iter().collect(),
        files,
    }
}

// ---------------------------------------------------------------------------------------------

/// SplitMix64: small, deterministic, good enough to make unguessable-looking test values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn from(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| alphabet[self.below(alphabet.len())] as char)
            .collect()
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const HEX: &[u8] = b"0123456789abcdef";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// Password characters: no blanks, quotes, `,;&#@/?` (they end values in some syntaxes).
const PASSWORD: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!%*+-_.~^";

struct Gen {
    rng: Rng,
    secrets: Vec<(String, Vec<u8>)>,
    lookalikes: BTreeSet<Vec<u8>>,
    /// Log clock, in seconds since 2021/05/07 00:00:00.
    clock: u64,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen {
            rng: Rng(seed),
            secrets: Vec::new(),
            lookalikes: BTreeSet::new(),
            clock: 9 * 3600,
        }
    }

    /// Records a planted secret and returns it for embedding.
    fn plant(&mut self, kind: &str, value: String) -> String {
        assert!(
            value.len() >= 12,
            "planted values are at least 12 bytes: {value}"
        );
        assert!(
            !self.secrets.iter().any(|(_, v)| v == value.as_bytes()),
            "planted values are unique: {value}"
        );
        self.secrets
            .push((kind.to_owned(), value.clone().into_bytes()));
        value
    }

    /// Records a look-alike and returns it for embedding.
    fn keep(&mut self, value: impl Into<String>) -> String {
        let value = value.into();
        self.lookalikes.insert(value.clone().into_bytes());
        value
    }

    fn password(&mut self) -> String {
        // Start with a letter so that no syntax mistakes the value for a flag or a number.
        let n = 14 + self.rng.below(12);
        format!(
            "{}{}",
            self.rng.from(b"abcdefghjkmnpqrstuvwxyz", 1),
            self.rng.from(PASSWORD, n)
        )
    }

    fn token(&mut self, n: usize) -> String {
        self.rng.from(ALNUM, n)
    }

    fn hex(&mut self, n: usize) -> String {
        self.rng.from(HEX, n)
    }

    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    fn jwt(&mut self) -> String {
        let header = base64(br#"{"alg":"HS256","typ":"JWT"}"#, true);
        let payload = format!(
            r#"{{"sub":"{}","iat":{}}}"#,
            self.token(12),
            1_600_000_000 + self.rng.below(1 << 20)
        );
        let signature = self.rng.from(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
            43,
        );
        format!("{header}.{}.{signature}", base64(payload.as_bytes(), true))
    }

    fn aws_key_id(&mut self) -> String {
        format!("AKIA{}", self.rng.from(UPPER_ALNUM, 16))
    }

    fn aws_secret(&mut self) -> String {
        self.rng.from(B64, 40)
    }

    /// A log line prefix: `2021/05/07 09:25:13 [32713] `.
    fn stamp(&mut self, pid: u32) -> String {
        self.clock += 1 + self.rng.below(30) as u64;
        let t = self.clock;
        format!(
            "2021/05/{:02} {:02}:{:02}:{:02} [{pid}] ",
            7 + t / 86_400,
            t / 3600 % 24,
            t / 60 % 60,
            t % 60
        )
    }

    /// Ordinary log lines; their ids and paths become look-alikes.
    fn noise(&mut self, out: &mut Vec<u8>, pid: u32, lines: usize) {
        for _ in 0..lines {
            let stamp = self.stamp(pid);
            let msg = match self.rng.below(8) {
                0 => "[INFO] Sending heartbeat to agent.jumpcloud.com".to_owned(),
                1 => "[ERROR] skipping update policies: policy conf bundle not valid".to_owned(),
                2 => format!(
                    "[WARN] Could not read /opt/jc/policies/{}/policyConf.json",
                    self.hex(24)
                ),
                3 => format!("[INFO] Plugin lastlogin ran in {}ms", self.rng.below(900)),
                4 => "[INFO] Checking for updated software packages".to_owned(),
                5 => format!("[DEBUG] policy {} result: success", self.hex(24)),
                6 => "[INFO] Sending pending work completion to server".to_owned(),
                _ => format!(
                    "[INFO] user alice updated (uid={}, gid=1001)",
                    1000 + self.rng.below(100)
                ),
            };
            out.extend_from_slice(stamp.as_bytes());
            out.extend_from_slice(msg.as_bytes());
            out.push(b'\n');
        }
    }

    fn line(&mut self, out: &mut Vec<u8>, pid: u32, msg: &str) {
        let stamp = self.stamp(pid);
        out.extend_from_slice(stamp.as_bytes());
        out.extend_from_slice(msg.as_bytes());
        out.push(b'\n');
    }

    fn jcagent_log(&mut self) -> Vec<u8> {
        let pid = 32713;
        let mut out = Vec::new();
        let first = self.stamp(pid);
        self.keep(first.trim_end());
        self.keep(format!("[{pid}]"));
        out.extend_from_slice(first.as_bytes());
        out.extend_from_slice(b"[INFO] jcagent starting\n");
        let version = self.keep("jcagent version 0.154.0");
        self.line(&mut out, pid, &format!("[INFO] {version} (linux-amd64)"));
        self.keep("linux-amd64");
        self.noise(&mut out, pid, 40);
        let refresh = self.keep("token refresh succeeded");
        self.line(&mut out, pid, &format!("[INFO] {refresh}"));
        let policy = self.keep("password policy updated");
        self.line(&mut out, pid, &format!("[INFO] {policy} for 3 users"));
        let system_key = self.hex(24);
        let system_key_line = self.keep(format!("systemKey={system_key}"));
        self.line(
            &mut out,
            pid,
            &format!("[INFO] registered {system_key_line}"),
        );
        let request = self.uuid();
        let request = self.keep(format!("requestId={request}"));

        let p = self.password();
        let p = self.plant("password", p);
        self.line(
            &mut out,
            pid,
            &format!("[ERROR] ldap bind failed: password={p}, {request}"),
        );
        let t = self.token(32);
        let t = self.plant("bearer", t);
        self.line(
            &mut out,
            pid,
            &format!("[DEBUG] request headers: map[Authorization:[Bearer {t}] Content-Type:[application/json]]"),
        );
        let j = self.jwt();
        let j = self.plant("jwt", j);
        self.line(
            &mut out,
            pid,
            &format!("[DEBUG] received id token {j} from console"),
        );
        self.noise(&mut out, pid, 25);
        let u = self.password();
        let u = self.plant("url-credentials", u);
        let path = self.hex(24);
        let path = self.keep(format!("/api/systems/{path}/policies"));
        self.line(
            &mut out,
            pid,
            &format!("[DEBUG] GET https://svc-account:{u}@agent.jumpcloud.com{path} status=200"),
        );
        let q = self.token(28);
        let q = self.plant("query-secret", q);
        let paging = self.keep("?limit=100&skip=0");
        self.line(
            &mut out,
            pid,
            &format!("[DEBUG] GET /api/v2/users{paging}&access_token={q}"),
        );
        let e = self.token(24);
        let e = self.plant("token", e);
        self.line(
            &mut out,
            pid,
            &format!(r#"[DEBUG] payload="{{\"token\":\"{e}\",\"ttl\":3600}}""#),
        );
        let k = self.aws_key_id();
        let k = self.plant("aws-access-key-id", k);
        self.line(
            &mut out,
            pid,
            &format!("[WARN] found AWS key {k} in environment"),
        );
        let gh = format!("ghp_{}", self.token(36));
        let gh = self.plant("github-token", gh);
        self.line(&mut out, pid, &format!("[WARN] git remote uses token {gh}"));
        let sl = format!(
            "xoxb-{}-{}-{}",
            self.rng.from(b"0123456789", 12),
            self.rng.from(b"0123456789", 12),
            self.token(24)
        );
        let sl = self.plant("slack-token", sl);
        self.line(
            &mut out,
            pid,
            &format!("[INFO] slack notifier configured with {sl}"),
        );
        let st = self.token(40);
        let st = self.plant("system-token", st);
        self.line(&mut out, pid, &format!("[DEBUG] systemToken={st} loaded"));
        let xk = self.token(32);
        let xk = self.plant("header-secret", xk);
        self.line(&mut out, pid, &format!("[DEBUG] X-Api-Key: {xk}"));
        let cu = self.password();
        let cu = self.plant("basic-auth", cu);
        self.line(
            &mut out,
            pid,
            &format!("[INFO] ran: curl -s -u admin:{cu} https://localhost:8443/health"),
        );
        self.noise(&mut out, pid, 30);

        // A line over 100 KB, with a secret in the middle and look-alikes on both sides.
        let mut long = String::from("[DEBUG] policy bundle:");
        for i in 0..1600 {
            let id = self.hex(24);
            if i == 7 {
                self.keep(format!("\"id\":\"{id}\""));
            }
            long.push_str(&format!(
                " {{\"id\":\"{id}\",\"name\":\"policy-{i}\",\"enabled\":true}}"
            ));
            if i == 600 {
                let s = self.token(30);
                let s = self.plant("secret", s);
                long.push_str(&format!(" client_secret={s}"));
            }
        }
        assert!(long.len() > 100_000);
        self.line(&mut out, pid, &long);

        // Invalid UTF-8 right around secrets.
        let iv = self.password();
        let iv = self.plant("api-key", iv);
        let stamp = self.stamp(pid);
        out.extend_from_slice(stamp.as_bytes());
        out.extend_from_slice(b"[WARN] garbled \xff\xfe api_key=");
        out.extend_from_slice(iv.as_bytes());
        out.extend_from_slice(b" \xc3\x28 after\n");
        let iv2 = self.token(20);
        let iv2 = self.plant("password", iv2);
        out.extend_from_slice(b"\xfe\xfe\xffpasswd: \"");
        out.extend_from_slice(iv2.as_bytes());
        out.extend_from_slice(b"\"\xff\n");
        self.noise(&mut out, pid, 20);
        out
    }

    fn jcagent_log_1(&mut self) -> Vec<u8> {
        let pid = 1187;
        let mut out = Vec::new();
        self.keep(format!("[{pid}]"));
        self.noise(&mut out, pid, 30);
        let ck = self.token(40);
        let ck = self.plant("connect-key", ck);
        self.line(
            &mut out,
            pid,
            &format!("[INFO] install with connectKey: {ck}"),
        );
        let cli = self.password();
        let cli = self.plant("password", cli);
        self.line(
            &mut out,
            pid,
            &format!("[DEBUG] exec /usr/bin/ldapwhoami --password {cli} --verbose"),
        );
        let cookie = self.token(32);
        let cookie = self.plant("cookie", cookie);
        self.line(
            &mut out,
            pid,
            &format!("[DEBUG] Cookie: jc_session={cookie}; theme=dark"),
        );
        let ldap = self.password();
        let ldap = self.plant("ldap-bind-password", ldap);
        self.line(
            &mut out,
            pid,
            &format!("[DEBUG] userMgmt.local_ldap_bind_pwd={ldap}"),
        );
        let auth_ok = self.keep("Authentication succeeded for user alice");
        self.line(&mut out, pid, &format!("[INFO] {auth_ok}"));
        let authorized = self.keep("/root/.ssh/authorized_keys");
        self.line(
            &mut out,
            pid,
            &format!("[INFO] updated {authorized}: 2 keys"),
        );
        let header_missing = self.keep("Authorization header missing");
        self.line(&mut out, pid, &format!("[WARN] {header_missing}, retrying"));
        self.noise(&mut out, pid, 30);

        // Another long line: escaped JSON with a credential deep inside.
        let mut long = String::from("[DEBUG] sync response: \"[");
        for i in 0..3000 {
            long.push_str(&format!(r#"{{\"uid\":{i},\"home\":\"/home/u{i}\"}},"#));
            if i == 1000 {
                let c = self.token(26);
                let c = self.plant("credential", c);
                long.push_str(&format!(r#"{{\"credential\":\"{c}\"}},"#));
            }
        }
        long.push_str("]\"");
        assert!(long.len() > 100_000);
        self.line(&mut out, pid, &long);
        self.noise(&mut out, pid, 10);
        // CRLF from here on, as on a Windows agent.
        let stamp = self.stamp(pid);
        let crlf = self.token(22);
        let crlf = self.plant("token", crlf);
        out.extend_from_slice(format!("{stamp}[INFO] auth_token={crlf}\r\n").as_bytes());
        let stamp = self.stamp(pid);
        out.extend_from_slice(
            format!("{stamp}[INFO] Sending heartbeat to agent.jumpcloud.com\r\n").as_bytes(),
        );
        out
    }

    fn jcagent_log_2(&mut self) -> Vec<u8> {
        let pid = 990;
        let mut out = Vec::new();
        self.noise(&mut out, pid, 20);
        self.line(&mut out, pid, "[DEBUG] loaded client key:");
        let body = self.pem_body();
        let line = self.plant("private-key", body[1].clone());
        debug_assert!(!line.is_empty());
        out.extend_from_slice(b"-----BEGIN RSA PRIVATE KEY-----\n");
        for l in &body {
            out.extend_from_slice(l.as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(b"-----END RSA PRIVATE KEY-----\n");
        self.noise(&mut out, pid, 10);
        let b = self.token(48);
        let b = self.plant("bearer", b);
        self.line(
            &mut out,
            pid,
            &format!("[DEBUG] retry with header Bearer {b}"),
        );
        // A JWT as a bearer token: the header rule names it.
        let j = self.jwt();
        let j = self.plant("bearer", j);
        self.line(&mut out, pid, &format!("[DEBUG] Authorization: Bearer {j}"));
        let expired = self.keep("bearer token expired");
        self.line(&mut out, pid, &format!("[WARN] {expired}, refreshing"));
        let short = self.keep("ghp_short");
        self.line(
            &mut out,
            pid,
            &format!("[INFO] ignoring placeholder {short}"),
        );
        let akia = self.keep("AKIA1234 is not a key id");
        self.line(&mut out, pid, &format!("[INFO] {akia}"));
        let one_part = self.keep("eyJhbGciOiJub25lIn0");
        self.line(&mut out, pid, &format!("[INFO] header only: {one_part}"));
        let sudo = self.keep("sudo -u root /opt/jc/bin/jcagent");
        self.line(&mut out, pid, &format!("[INFO] restarting: {sudo}"));
        self.noise(&mut out, pid, 10);
        // A key cut off by log rotation: BEGIN without END runs to the end of the file.
        self.line(&mut out, pid, "[DEBUG] dumping key:");
        let cut = self.pem_body();
        let cut_line = self.plant("private-key", cut[0].clone());
        out.extend_from_slice(b"-----BEGIN OPENSSH PRIVATE KEY-----\n");
        out.extend_from_slice(cut_line.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(cut[1].as_bytes());
        out
    }

    fn pem_body(&mut self) -> Vec<String> {
        (0..6).map(|_| self.rng.from(B64, 64)).collect()
    }

    fn jcagent_conf(&mut self) -> Vec<u8> {
        let system_token = self.token(40);
        let system_token = self.plant("system-token", system_token);
        let certuuid = self.uuid();
        let certuuid = self.plant("certuuid", certuuid);
        let bind = self.password();
        let bind = self.plant("ldap-bind-password", bind);
        let nested = self.password();
        let nested = self.plant("password", nested);
        let proxy = self.password();
        let proxy = self.plant("url-credentials", proxy);
        let system_key = self.hex(24);
        self.keep(system_key.clone());
        let policy = self.uuid();
        self.keep(format!("\"policyId\":\"{policy}\""));
        self.keep("\"agentServerHost\":\"agent.jumpcloud.com\"");
        self.keep("\"passwordless\":true");
        self.keep("\"auth_method\":\"ldap\"");
        // One line, as jcagent writes it; serde_json keeps this compact form and key order.
        format!(
            concat!(
                r#"{{"agentServerHost":"agent.jumpcloud.com","agentServerPort":"443","certuuid":"{certuuid}","#,
                r#""systemKey":"{system_key}","systemToken":"{system_token}","policyId":"{policy}","#,
                r#""userMgmt":{{"local_ldap_bind_pwd":"{bind}","passwordless":true,"auth_method":"ldap","#,
                r#""ldap":{{"bindDN":"cn=jcagent","bind":{{"password":"{nested}"}}}}}},"#,
                r#""proxyUrl":"http://proxyuser:{proxy}@proxy.corp.example:3128"}}"#
            ),
            certuuid = certuuid,
            system_key = system_key,
            system_token = system_token,
            policy = policy,
            bind = bind,
            nested = nested,
            proxy = proxy,
        )
        .into_bytes()
    }

    fn proxy_conf(&mut self) -> Vec<u8> {
        let url_pw = self.password();
        let url_pw = self.plant("proxy-credentials", url_pw);
        let key_pw = self.password();
        let key_pw = self.plant("proxy-credentials", key_pw);
        let no_proxy = self.keep("no_proxy=localhost,127.0.0.1,.corp.example");
        let host = self.keep("proxy_host=proxy.corp.example");
        format!(
            "# jcagent proxy settings\nhttps_proxy=http://jcproxy:{url_pw}@proxy.corp.example:3128\n{host}\nproxy_port=3128\nproxy_password={key_pw}\n{no_proxy}\n"
        )
        .into_bytes()
    }

    fn other_yaml(&mut self) -> Vec<u8> {
        let plain = self.password();
        let plain = self.plant("password", plain);
        let quoted = self.token(32);
        let quoted = self.plant("api-key", quoted);
        let block: Vec<String> = self.pem_body();
        let block_line = self.plant("private-key", block[2].clone());
        debug_assert!(!block_line.is_empty());
        let tok = self.token(30);
        let tok = self.plant("token", tok);
        let author = self.keep("author: Jane Doe");
        let method = self.keep("auth_method: ldap");
        let length = self.keep("password_min_length: 12");
        let cert = self.rng.from(B64, 64);
        self.keep(cert.clone());
        let key_path = self.keep("private_key_path: /etc/jumpcloud/client.key");
        let mut out = format!(
            "{author}\nservice:\n  {method}\n  {length}\n  ldap:\n    user: cn=admin\n    password: {plain}\n  api_key: '{quoted}'\n  token: \"{tok}\"\n  {key_path}\n  private_key: |\n"
        );
        for l in &block {
            out.push_str("    ");
            out.push_str(l);
            out.push('\n');
        }
        out.push_str(&format!(
            "  ca_cert: |\n    -----BEGIN CERTIFICATE-----\n    {cert}\n    -----END CERTIFICATE-----\n  timeout: 30\n"
        ));
        out.into_bytes()
    }

    fn agent_ini(&mut self) -> Vec<u8> {
        let spaced = format!("{} {}", self.password(), self.password());
        let spaced = self.plant("password", spaced);
        let secret = self.token(24);
        let secret = self.plant("secret", secret);
        let ttl = self.keep("token_ttl = 3600");
        let server = self.keep("server = ldaps://ldap.corp.example:636");
        format!("[ldap]\r\n{server}\r\nbind_dn = cn=jcagent\r\nbind_password = {spaced}\r\n\r\n[api]\r\nclient_secret={secret}\r\n{ttl}\r\n")
            .into_bytes()
    }

    fn aws_credentials(&mut self) -> Vec<u8> {
        let id = self.aws_key_id();
        let id = self.plant("aws-access-key-id", id);
        let secret = self.aws_secret();
        let secret = self.plant("aws-secret-key", secret);
        let region = self.keep("region = us-east-1");
        format!("[default]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n{region}\n")
            .into_bytes()
    }

    fn http_trace(&mut self) -> Vec<u8> {
        let bearer = self.token(40);
        let bearer = self.plant("bearer", bearer);
        let user_pass = format!("proxyuser:{}", self.password());
        let basic = self.plant("basic-auth", base64(user_pass.as_bytes(), false));
        let x_auth = self.token(36);
        let x_auth = self.plant("header-secret", x_auth);
        let url_pw = self.password();
        let url_pw = self.plant("url-credentials", url_pw);
        let query_tok = self.token(30);
        let query_tok = self.plant("query-secret", query_tok);
        let sig = self.token(44);
        let sig = self.plant("query-secret", sig);
        let request_id = self.uuid();
        let request_id = self.keep(format!("X-Request-Id: {request_id}"));
        let content_type = self.keep("Content-Type: application/json");
        let email = self.keep("alice@example.com");
        let git = self.keep("ssh://git@github.com/jumpcloud/agent.git");
        let systems = self.hex(24);
        let plain_url = self.keep(format!("https://agent.jumpcloud.com/api/systems/{systems}"));
        let checksum = self.hex(64);
        let checksum = self.keep(format!("sha256:{checksum}"));
        let pubkey = self.rng.from(B64, 68);
        let pubkey = self.keep(format!(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5{pubkey} alice@laptop"
        ));
        format!(
            "GET {plain_url} HTTP/1.1\r\nHost: agent.jumpcloud.com\r\nAuthorization: Bearer {bearer}\r\n{content_type}\r\n{request_id}\r\n\r\n\
             CONNECT agent.jumpcloud.com:443 HTTP/1.1\r\nProxy-Authorization: Basic {basic}\r\nX-Auth-Token: {x_auth}\r\n\r\n\
             fetch https://backup:{url_pw}@files.corp.example/dump.tgz owner {email}\n\
             callback https://console.jumpcloud.com/oauth/cb?state=1&token={query_tok}\n\
             blob https://store.blob.core.windows.net/c/x.tgz?sv=2020-08-04&sig={sig}\n\
             clone {git}\nverify {checksum}\nauthorized key {pubkey}\n"
        )
        .into_bytes()
    }

    fn install_sh(&mut self) -> Vec<u8> {
        let env_key = self.token(40);
        let env_key = self.plant("connect-key", env_key);
        let header_key = self.token(40);
        let header_key = self.plant("header-secret", header_key);
        let flag = self.token(30);
        let flag = self.plant("token", flag);
        let pwd = self.keep("cd \"$PWD_DIR\"");
        let user = self.keep("user=alice");
        format!(
            "#!/bin/sh\nexport JC_CONNECT_KEY={env_key}\n{pwd}\n{user}\n\
             curl --silent --show-error --header 'x-connect-key: {header_key}' https://kickstart.jumpcloud.com/Kickstart | sudo bash\n\
             jcctl register --token={flag} --verbose\n"
        )
        .into_bytes()
    }

    fn client_key(&mut self) -> Vec<u8> {
        let body = self.pem_body();
        let line = self.plant("private-key", body[3].clone());
        debug_assert!(!line.is_empty());
        let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
        for l in &body {
            out.push_str(l);
            out.push('\n');
        }
        out.push_str("-----END PRIVATE KEY-----\n");
        out.into_bytes()
    }
}

/// Base64 (standard alphabet with padding, or base64url without padding).
fn base64(data: &[u8], url: bool) -> String {
    let alphabet: &[u8] = if url {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        B64
    };
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        if !url {
            out.push_str(&"=="[..3 - chunk.len()]);
        }
    }
    out
}
