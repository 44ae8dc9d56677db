//! The email channel: the case (or an escalation) as an RFC 5322 message, written to an
//! owner-only `.eml` file and, when SMTP is configured, sent with lettre over rustls.
//!
//! The guideline names email as the first way to reach support (support@, partnersupport@ for
//! partners) and the escalation path (reply on the case with escalations@ in copy). When the
//! endpoint cannot be reached, or an organisation works by email only, the same case still
//! arrives whole: the body is `summary.txt`, the bundle is attached when it fits the
//! attachment limit, and the body says where it is and how to upload it when it does not.
//!
//! SMTP: `smtps://user@host:465` (TLS from the start) or `smtp://user@host:587` with STARTTLS
//! required; plain `smtp://` without TLS only to a loopback address. The password comes from
//! `JCDIAG_SMTP_PASSWORD`, never from the command line. Certificates are checked with the OS
//! trust store (plus `--ca-file`); nothing turns that off.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};

use jcdiag_profile::Profile;

/// Default largest bundle attached to a message (many mail systems refuse more than 20-25 MB).
pub const DEFAULT_ATTACHMENT_LIMIT: u64 = 20 << 20;

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// An address or the SMTP URL is wrong: the message names it.
    #[error("{0}")]
    Invalid(String),
    /// The message could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The server could not be reached or refused; the .eml is kept.
    #[error("the message was not sent ({0})")]
    Send(String),
}

/// What a case message needs.
pub struct CaseMail<'a> {
    pub from: &'a str,
    pub from_name: Option<&'a str>,
    pub partner: bool,
    pub severity: Option<u8>,
    pub description: &'a str,
    pub existing_case: Option<&'a str>,
    /// `summary.txt` of the bundle: the body.
    pub summary: &'a str,
    pub bundle: &'a Path,
    pub bundle_size: u64,
    pub bundle_sha256: &'a str,
    pub attachment_limit: u64,
}

/// The case as a message: To support@ (partnersupport@ for partners), subject
/// `[Severity N] <first line of the description>`, body = summary.txt, bundle attached when
/// it fits. Returns the message and whether the bundle is attached.
pub fn case_message(profile: &Profile, mail: &CaseMail) -> Result<(Message, bool), EmailError> {
    let to = if mail.partner {
        &profile.contacts.partner_email
    } else {
        &profile.contacts.email
    };
    let first_line = mail
        .description
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("JumpCloud support case");
    let severity = mail
        .severity
        .map_or_else(|| "Severity ?".to_string(), |s| format!("Severity {s}"));
    let subject = match mail.existing_case {
        Some(case) => format!("[{severity}] {first_line} (case {case})"),
        None => format!("[{severity}] {first_line}"),
    };
    let name = bundle_name(mail.bundle);
    let attach = mail.bundle_size <= mail.attachment_limit;
    let mut body = mail.summary.trim_end().to_string();
    body.push_str("\n\n");
    if attach {
        body.push_str(&format!(
            "The case bundle is attached: {name}, {} bytes, SHA-256 {}.\n",
            mail.bundle_size, mail.bundle_sha256
        ));
    } else {
        body.push_str(&format!(
            "The case bundle ({name}, {} bytes, SHA-256 {}) is larger than the {} bytes this \
             message may carry, so it is not attached. It is kept on the affected machine at:\n  {}\n\
             To upload it: jcdiag submit \"{}\" --case <case number> --token <token from support>\n",
            mail.bundle_size,
            mail.bundle_sha256,
            mail.attachment_limit,
            mail.bundle.display(),
            mail.bundle.display()
        ));
    }
    let builder = Message::builder()
        .from(mailbox(mail.from_name, mail.from, "email")?)
        .to(mailbox(None, to, "support address")?)
        .subject(subject);
    let text = SinglePart::plain(body);
    let message = if attach {
        let bytes = std::fs::read(mail.bundle).map_err(|source| EmailError::Write {
            path: mail.bundle.to_path_buf(),
            source,
        })?;
        let zip = ContentType::parse("application/zip").expect("a valid MIME type");
        builder.multipart(
            MultiPart::mixed()
                .singlepart(text)
                .singlepart(Attachment::new(name).body(bytes, zip)),
        )
    } else {
        builder.singlepart(text)
    }
    .map_err(|e| EmailError::Invalid(format!("cannot build the message: {e}")))?;
    Ok((message, attach))
}

/// What an escalation message needs.
pub struct EscalationMail<'a> {
    /// Without it the draft has no From and is marked unsent, for the mail client to complete.
    pub from: Option<&'a str>,
    pub from_name: Option<&'a str>,
    pub partner: bool,
    pub case_id: &'a str,
    pub reason: &'a str,
    /// The Message-ID of the last message received on the case, if the user gave it.
    pub in_reply_to: Option<&'a str>,
}

/// The guideline's escalation: a reply on the case, escalations@ in Cc.
pub fn escalation_message(profile: &Profile, mail: &EscalationMail) -> Result<Message, EmailError> {
    let to = if mail.partner {
        &profile.contacts.partner_email
    } else {
        &profile.contacts.email
    };
    // Without the last message's id, a reference naming the case keeps the thread together
    // in mail clients; support's ticketing matches the case number in the subject.
    let reference = match mail.in_reply_to {
        Some(id) => format!(
            "<{}>",
            id.trim().trim_start_matches('<').trim_end_matches('>')
        ),
        None => format!("<case-{}@jcdiag.invalid>", mail.case_id),
    };
    let mut body = format!(
        "Please escalate JumpCloud support case {}.\n\nReason:\n{}\n\n",
        mail.case_id,
        mail.reason.trim()
    );
    body.push_str(&escalation_next_steps(profile));
    // lettre insists on a From; an address-less draft gets the support address as a stand-in,
    // removed below.
    let from = match mail.from {
        Some(from) => mailbox(mail.from_name, from, "email")?,
        None => mailbox(None, to, "support address")?,
    };
    let mut message = Message::builder()
        .from(from)
        .to(mailbox(None, to, "support address")?)
        .cc(mailbox(
            None,
            &profile.contacts.escalation_email,
            "escalation address",
        )?)
        .subject(format!(
            "Re: JumpCloud support case {}: escalation request",
            mail.case_id
        ))
        .in_reply_to(reference.clone())
        .references(reference)
        .singlepart(SinglePart::plain(body))
        .map_err(|e| EmailError::Invalid(format!("cannot build the message: {e}")))?;
    if mail.from.is_none() {
        // `X-Unsent: 1` makes Outlook (and others) open the .eml as a new message to send,
        // asking for the sender.
        let headers = message.headers_mut();
        headers.remove::<lettre::message::header::From>();
        headers.insert_raw(lettre::message::header::HeaderValue::new(
            lettre::message::header::HeaderName::new_from_ascii_str("X-Unsent"),
            "1".into(),
        ));
    }
    Ok(message)
}

/// What happens after an escalation request, and when it ends, in the guideline's words.
pub fn escalation_next_steps(profile: &Profile) -> String {
    let e = &profile.escalation;
    let mut text = format!(
        "What happens next: {}\nThe request will not be de-escalated until JumpCloud has:\n",
        e.next
    );
    for condition in &e.de_escalation {
        text.push_str(&format!("  - {condition}\n"));
    }
    text
}

/// Writes `message` to `path` owner-only, complete or not at all.
pub fn write_eml(path: &Path, message: &Message) -> Result<(), EmailError> {
    let error = |source| EmailError::Write {
        path: path.to_path_buf(),
        source,
    };
    let aside = path.with_extension(format!("eml.part-{}", std::process::id()));
    let _ = std::fs::remove_file(&aside);
    let in_progress = crate::interrupt::remove_if_interrupted(&aside);
    let written = (|| {
        let mut file = jcdiag_fs::fsafe::create_private(&aside)?;
        file.write_all(&message.formatted())?;
        file.sync_all()?;
        // Closed before the rename: Windows refuses to rename an open file.
        drop(file);
        std::fs::rename(&aside, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&aside);
    }
    drop(in_progress);
    written.map_err(error)
}

/// How to reach the SMTP server a URL names.
#[derive(Debug, PartialEq, Eq)]
pub struct SmtpTarget {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub security: Security,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Security {
    /// `smtps://`: TLS from the first byte.
    Implicit,
    /// `smtp://`: STARTTLS, and the server must offer it.
    StartTls,
    /// `smtp://` to a loopback address: STARTTLS if offered, else plain (a local relay).
    LoopbackPlainAllowed,
}

/// Parses `--smtp`. Plain SMTP is allowed only to loopback addresses.
pub fn parse_smtp_url(text: &str) -> Result<SmtpTarget, EmailError> {
    let usage = |why: &str| {
        EmailError::Invalid(format!(
            "--smtp `{text}`: {why}; give smtps://user@host:465 or smtp://user@host:587 (STARTTLS)"
        ))
    };
    let url = url::Url::parse(text).map_err(|_| usage("not a URL"))?;
    let host = url
        .host_str()
        .ok_or_else(|| usage("no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let (security, default_port) = match url.scheme() {
        "smtps" => (Security::Implicit, 465),
        "smtp" if loopback => (Security::LoopbackPlainAllowed, 25),
        "smtp" => (Security::StartTls, 587),
        _ => return Err(usage("the scheme must be smtps or smtp")),
    };
    if url.password().is_some() {
        return Err(usage(
            "a password in the URL would be seen by other users of this machine; set JCDIAG_SMTP_PASSWORD instead",
        ));
    }
    let user = (!url.username().is_empty()).then(|| {
        percent_encoding::percent_decode_str(url.username())
            .decode_utf8_lossy()
            .into_owned()
    });
    Ok(SmtpTarget {
        host,
        port: url.port().unwrap_or(default_port),
        user,
        security,
    })
}

/// Sends `message` through the server `target` names. `extra_ca` is a PEM file of CAs trusted
/// besides the OS store.
pub fn send(
    target: &SmtpTarget,
    password: Option<String>,
    extra_ca: Option<&Path>,
    message: &Message,
) -> Result<(), EmailError> {
    let mut tls = TlsParameters::builder(target.host.clone());
    if let Some(path) = extra_ca {
        let pem = std::fs::read(path).map_err(|e| {
            EmailError::Invalid(format!(
                "--ca-file {}: cannot be read ({e})",
                path.display()
            ))
        })?;
        let ca = Certificate::from_pem(&pem).map_err(|e| {
            EmailError::Invalid(format!(
                "--ca-file {}: not a PEM certificate ({e})",
                path.display()
            ))
        })?;
        tls = tls.add_root_certificate(ca);
    }
    let tls = tls
        .build_rustls()
        .map_err(|e| EmailError::Send(format!("TLS setup: {e}")))?;
    let mut builder = SmtpTransport::builder_dangerous(target.host.clone())
        .port(target.port)
        .timeout(Some(Duration::from_secs(30)))
        .tls(match target.security {
            Security::Implicit => Tls::Wrapper(tls),
            Security::StartTls => Tls::Required(tls),
            Security::LoopbackPlainAllowed => Tls::Opportunistic(tls),
        });
    if let Some(user) = &target.user {
        builder = builder.credentials(Credentials::new(user.clone(), password.unwrap_or_default()));
    }
    builder
        .build()
        .send(message)
        .map(|_| ())
        .map_err(|e| EmailError::Send(crate::deliver::client::chain(&e)))
}

fn mailbox(name: Option<&str>, address: &str, field: &str) -> Result<Mailbox, EmailError> {
    let address = address.parse().map_err(|e| {
        EmailError::Invalid(format!(
            "{field}: `{address}` is not an email address ({e}); give one like admin@example.com"
        ))
    })?;
    Ok(Mailbox::new(name.map(str::to_string), address))
}

fn bundle_name(bundle: &Path) -> String {
    bundle
        .file_name()
        .map_or_else(|| "bundle.zip".into(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_choose_tls_and_refuse_plain_text_off_loopback() {
        let t = parse_smtp_url("smtps://ada@mail.example.com").unwrap();
        assert_eq!(
            (t.port, t.security, t.user.as_deref()),
            (465, Security::Implicit, Some("ada"))
        );
        let t = parse_smtp_url("smtp://mail.example.com").unwrap();
        assert_eq!((t.port, t.security), (587, Security::StartTls));
        let t = parse_smtp_url("smtp://127.0.0.1:2525").unwrap();
        assert_eq!((t.port, t.security), (2525, Security::LoopbackPlainAllowed));
        let t = parse_smtp_url("smtp://[::1]:2525").unwrap();
        assert_eq!(t.security, Security::LoopbackPlainAllowed);
        let t = parse_smtp_url("smtp://user%40corp@localhost").unwrap();
        assert_eq!(t.user.as_deref(), Some("user@corp"));
        for bad in [
            "http://mail.example.com",
            "smtp://ada:secret@mail.example.com",
            "mail",
        ] {
            assert!(
                matches!(parse_smtp_url(bad), Err(EmailError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_escalation_replies_on_the_case_with_escalations_in_copy() {
        let profile = Profile::builtin();
        let message = escalation_message(
            profile,
            &EscalationMail {
                from: Some("admin@example.com"),
                from_name: Some("Ada"),
                partner: true,
                case_id: "00000042",
                reason: "No answer for two days",
                in_reply_to: Some("<abc@mail.jumpcloud.com>"),
            },
        )
        .unwrap();
        let text = String::from_utf8(message.formatted()).unwrap();
        assert!(text.contains("To: partnersupport@jumpcloud.com"), "{text}");
        assert!(text.contains("Cc: escalations@jumpcloud.com"), "{text}");
        assert!(
            text.contains("In-Reply-To: <abc@mail.jumpcloud.com>"),
            "{text}"
        );
        assert!(
            text.contains("References: <abc@mail.jumpcloud.com>"),
            "{text}"
        );
        assert!(text.contains("Documented that all parties agree"), "{text}");
    }
}
