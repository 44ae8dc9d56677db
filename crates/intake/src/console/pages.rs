//! The console's pages: the queue, a case (with the forms that change it), the fleet view,
//! bundle downloads and bundle requests.

use std::io::{Read, Seek};

use axum::body::Body;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use jcdiag_protocol::findings::Findings;
use maud::{Markup, html};
use serde_json::{Value, json};

use super::auth::{Posted, Staff};
use super::bundle::{self, Entry};
use super::{ConsoleError, blocking, field, form_pairs, html_page, layout, query_string};
use crate::ids::{CaseId, is_sha256_hex};
use crate::state::AppState;
use crate::store::CaseRecord;
use crate::store::console::{CaseEvent, CaseStatus, CaseWork, QueueFilter, QueueRow};
use crate::tokens;

/// Cases per queue page.
pub const QUEUE_PAGE: u64 = 50;
/// Longest note or first-response text.
const MAX_NOTE: usize = 10_000;
/// Lifetimes a requested bundle's token may have, in hours.
const REQUEST_HOURS: [u64; 3] = [24, 72, 168];

fn parse_case(id: &str) -> Result<CaseId, ConsoleError> {
    id.parse()
        .map_err(|_| ConsoleError::not_found(format!("there is no case {id}")))
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// "3h 20m", "2d 4h".
fn span(minutes: i64) -> String {
    let minutes = minutes.abs();
    match minutes {
        m if m < 60 => format!("{m}m"),
        m if m < 24 * 60 => format!("{}h {}m", m / 60, m % 60),
        m => format!("{}d {}h", m / (24 * 60), (m / 60) % 24),
    }
}

/// How long is left before `due`, or how long it is overdue.
fn time_left(due: Option<&str>, responded: bool, now: DateTime<Utc>) -> (String, bool) {
    let Some(due) = due.and_then(parse_time) else {
        return ("no target".into(), false);
    };
    if responded {
        return ("answered".into(), false);
    }
    let minutes = (due - now).num_minutes();
    if due < now {
        (format!("overdue by {}", span(minutes)), true)
    } else {
        (format!("{} left", span(minutes)), false)
    }
}

fn worst_badge(rank: Option<u8>) -> Markup {
    match rank {
        Some(rank) => {
            let name = bundle::rank_name(rank);
            html! { span class=(format!("badge {name}")) { (name) } }
        }
        None => html! { span.muted { "–" } },
    }
}

// ----- the queue -----

/// `GET /console`: open cases by response target, overdue first, with filters and paging.
pub async fn queue(
    State(state): State<AppState>,
    staff: Staff,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let pairs = form_pairs(query.as_deref().unwrap_or_default());
    let text = |name: &str| {
        field(&pairs, name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let status_text = text("status").unwrap_or_default();
    let filter = QueueFilter {
        org: text("org"),
        tier: text("tier"),
        severity: text("severity").and_then(|s| s.parse().ok()),
        status: CaseStatus::parse(&status_text),
        signature: text("signature"),
    };
    let page = text("page")
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(1)
        .max(1);
    let now = Utc::now();
    let query_filter = filter.clone();
    let (rows, total, orgs) = blocking(&state, move |state| {
        // Bundles that arrived since the last look get their facts read (worst finding,
        // signatures) so the queue can show and filter by them.
        bundle::index_new_bundles(state)?;
        let (rows, total) =
            state
                .store
                .queue(&query_filter, now, QUEUE_PAGE, (page - 1) * QUEUE_PAGE)?;
        Ok((rows, total, state.store.case_orgs()?))
    })
    .await?;
    let pages = total.div_ceil(QUEUE_PAGE).max(1);
    let kept: Vec<(&str, String)> = [
        ("org", filter.org.clone()),
        ("tier", filter.tier.clone()),
        ("severity", filter.severity.map(|s| s.to_string())),
        ("status", filter.status.map(|s| s.id().to_owned())),
        ("signature", filter.signature.clone()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    let page_link = |page: u64| {
        let page = page.to_string();
        let mut all: Vec<(&str, &str)> = kept.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.push(("page", &page));
        format!("/console?{}", query_string(all))
    };
    let selected = |value: &str, current: Option<&str>| Some(value) == current;
    let body = html! {
        h1 { "Queue" }
        form.filters method="get" action="/console" {
            label { "Org"
                select name="org" {
                    option value="" { "any" }
                    @for org in &orgs {
                        option value=(org) selected[selected(org, filter.org.as_deref())] { (org) }
                    }
                }
            }
            label { "Tier"
                select name="tier" {
                    option value="" { "any" }
                    @for tier in ["free", "standard", "premium", "jumpstart"] {
                        option value=(tier) selected[selected(tier, filter.tier.as_deref())] { (tier) }
                    }
                }
            }
            label { "Severity"
                select name="severity" {
                    option value="" { "any" }
                    @for sev in ["1", "2", "3", "4"] {
                        option value=(sev) selected[filter.severity.map(|s| s.to_string()).as_deref() == Some(sev)] { (sev) }
                    }
                }
            }
            label { "Status"
                select name="status" {
                    option value="" { "not resolved" }
                    @for status in CaseStatus::ALL {
                        option value=(status.id()) selected[filter.status == Some(status)] { (status.label()) }
                    }
                }
            }
            label { "Signature"
                input type="text" name="signature" value=(filter.signature.clone().unwrap_or_default());
            }
            button type="submit" { "Filter" }
        }
        p.meta { (total) " cases · page " (page) " of " (pages) }
        table.queue {
            thead { tr {
                th { "Case" } th { "Org" } th { "Tier" } th { "Sev" } th { "Status" }
                th { "Response due" } th { "Time left" } th { "Bundles" } th { "Esc." } th { "Worst" }
            } }
            tbody {
                @for row in &rows { (queue_row(row, now)) }
            }
        }
        nav.pages {
            @if page > 1 { a href=(page_link(page - 1)) { "← previous" } }
            @if page < pages { a href=(page_link(page + 1)) { "next →" } }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        layout("Queue", Some(&staff), body),
    ))
}

fn queue_row(row: &QueueRow, now: DateTime<Utc>) -> Markup {
    let (left, _) = time_left(row.due.as_deref(), row.responded, now);
    html! {
        tr class=(if row.overdue { "overdue" } else { "" }) data-case=(row.case_id) {
            td { a href=(format!("/console/cases/{}", row.case_id)) { (row.case_id) } }
            td { (row.org) }
            td { (row.tier.as_deref().unwrap_or("–")) }
            td { (row.severity) }
            td { (row.status.label()) }
            td { (row.due.as_deref().unwrap_or("–")) }
            td {
                @if row.overdue { strong.overdue { "OVERDUE" } " " }
                (left)
            }
            td { (row.bundles) }
            td { (row.escalations) }
            td { (worst_badge(row.worst)) }
        }
    }
}

// ----- a case -----

/// One bundle as the case page shows it.
struct BundleView {
    sha256: String,
    size: u64,
    received_at: String,
    entries: Vec<Entry>,
    findings: Option<Findings>,
    summary: Option<String>,
    system: Option<Value>,
}

/// One line of a bundle's file tree: a folder (once, before its contents) or a file.
struct TreeRow<'a> {
    depth: usize,
    label: String,
    entry: Option<&'a Entry>,
}

/// The bundle's files (sorted by name) as a tree: each folder named once, its files and
/// subfolders under it.
fn tree_rows(entries: &[Entry]) -> Vec<TreeRow<'_>> {
    let mut rows = Vec::with_capacity(entries.len());
    let mut open: Vec<&str> = Vec::new();
    for entry in entries {
        let mut parts: Vec<&str> = entry.name.split('/').collect();
        let file = parts.pop().unwrap_or_default();
        let common = open.iter().zip(&parts).take_while(|(a, b)| a == b).count();
        open.truncate(common);
        for folder in &parts[common..] {
            rows.push(TreeRow {
                depth: open.len(),
                label: format!("{folder}/"),
                entry: None,
            });
            open.push(folder);
        }
        rows.push(TreeRow {
            depth: parts.len(),
            label: file.to_owned(),
            entry: Some(entry),
        });
    }
    rows
}

fn is_log(name: &str) -> bool {
    name.starts_with("logs/") || name.ends_with(".log") || name.ends_with(".txt")
}

/// `GET /console/cases/{id}`.
pub async fn case(
    State(state): State<AppState>,
    staff: Staff,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ConsoleError> {
    let case_id = parse_case(&id)?;
    let (case, work, events, bundles) = blocking(&state, move |state| {
        let Some(case) = state.store.case(case_id)? else {
            return Err(ConsoleError::not_found(format!(
                "there is no case {case_id}"
            )));
        };
        let work = state.store.case_work(case_id)?;
        let events = state.store.case_events(case_id)?;
        let mut bundles = Vec::new();
        for record in &case.bundles {
            let kept = bundle::Kept::new(state, case_id, &record.sha256);
            let view = BundleView {
                sha256: record.sha256.clone(),
                size: record.size,
                received_at: record.received_at.clone(),
                entries: bundle::entries(kept).unwrap_or_default(),
                findings: bundle::findings(kept).unwrap_or_default(),
                summary: bundle::read_small(kept, "summary.txt")
                    .unwrap_or_default()
                    .map(|b| String::from_utf8_lossy(&b).into_owned()),
                system: bundle::system(kept).unwrap_or_default(),
            };
            bundles.push(view);
        }
        bundle::index_new_bundles(state)?;
        Ok((case, work, events, bundles))
    })
    .await?;
    let body = case_body(&case, &work, &events, &bundles, &staff, Utc::now());
    Ok(html_page(
        StatusCode::OK,
        layout(&format!("Case {case_id}"), Some(&staff), body),
    ))
}

fn form_value(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

fn case_body(
    case: &CaseRecord,
    work: &CaseWork,
    events: &[CaseEvent],
    bundles: &[BundleView],
    staff: &Staff,
    now: DateTime<Utc>,
) -> Markup {
    let id = case.case_id;
    let form = serde_json::from_str::<Value>(&case.case_json)
        .ok()
        .and_then(|mut c| c.get_mut("form").map(Value::take));
    let (left, overdue) = time_left(
        case.intake_due.as_deref(),
        work.first_response.is_some(),
        now,
    );
    // The newest bundle with findings speaks for the case.
    let findings = bundles.iter().rev().find_map(|b| b.findings.as_ref());
    let latest = bundles.last();
    html! {
        h1 { "Case " (id) }
        dl.facts {
            dt { "Org" } dd { (case.org) }
            dt { "Tier" } dd { (case.intake_tier.map_or("not set", |t| t.id())) }
            dt { "Severity" } dd { (case.severity) }
            dt { "Created" } dd { (case.created) }
            dt { "Response due" } dd {
                (case.intake_due.as_deref().unwrap_or("no target"))
                " · "
                @if overdue { strong.overdue { "OVERDUE " } }
                span #time-left { (left) }
            }
            dt { "Status" } dd #status { (work.status.label()) }
            dt { "First response" } dd {
                @match &work.first_response {
                    Some((at, by)) => { (at) " by " (by) },
                    None => { "not yet" },
                }
            }
        }
        section.actions {
            form method="post" action=(format!("/console/cases/{id}/status")) {
                (staff.csrf_field())
                label { "Status "
                    select name="status" {
                        @for status in CaseStatus::ALL {
                            option value=(status.id()) selected[status == work.status] { (status.label()) }
                        }
                    }
                }
                button type="submit" { "Set status" }
            }
            @if work.first_response.is_none() {
                form method="post" action=(format!("/console/cases/{id}/first-response")) {
                    (staff.csrf_field())
                    label { "First response (what was sent to the customer) "
                        textarea name="text" rows="2" required {}
                    }
                    button type="submit" { "Record first response" }
                }
            }
            form method="post" action=(format!("/console/cases/{id}/notes")) {
                (staff.csrf_field())
                label { "Internal note " textarea name="text" rows="2" required {} }
                button type="submit" { "Add note" }
            }
        }
        section #form {
            h2 { "Form" }
            @match &form {
                Some(Value::Object(fields)) if !fields.is_empty() => {
                    dl.form {
                        @for (name, value) in fields {
                            dt { (name) }
                            dd { pre { (form_value(value)) } }
                        }
                    }
                }
                _ => { p.muted { "(empty)" } }
            }
        }
        section #findings {
            h2 { "Findings" }
            @match findings {
                Some(findings) => { (findings_view(findings)) }
                None => { p.muted { "No findings.json in this case's bundles." } }
            }
        }
        @if let Some(latest) = latest {
            section #summary {
                h2 { "summary.txt" }
                @match &latest.summary {
                    Some(text) => { pre.summary { (text) } }
                    None => { p.muted { "(none)" } }
                }
            }
            section #system {
                h2 { "System facts" }
                @match &latest.system {
                    Some(system) => {
                        dl.facts {
                            dt { "Agent version" }
                            dd { (system.pointer("/agent/version").and_then(Value::as_str).unwrap_or("unknown")) }
                            dt { "Host name" }
                            dd { (system.get("hostname").and_then(Value::as_str).unwrap_or("")) }
                        }
                        details { summary { "system.json" } pre { (serde_json::to_string_pretty(system).unwrap_or_default()) } }
                    }
                    None => { p.muted { "(no system.json)" } }
                }
            }
        }
        section #escalations {
            h2 { "Escalations (" (case.escalations.len()) ")" }
            ul {
                @for escalation in &case.escalations {
                    li { span.at { (escalation.at) } " " pre.inline { (escalation.reason) } }
                }
            }
        }
        section #bundles {
            h2 { "Bundles (" (bundles.len()) ")" }
            @for b in bundles {
                article.bundle {
                    h3 { code { (b.sha256) } }
                    p.meta {
                        (b.size) " bytes · received " (b.received_at) " · "
                        a href=(format!("/console/cases/{id}/bundles/{}/download", b.sha256)) { "download" }
                    }
                    details open {
                        summary { (b.entries.len()) " files" }
                        ul.tree {
                            @for row in tree_rows(&b.entries) {
                                li class=(format!("d{}", row.depth.min(6))) {
                                    @match row.entry {
                                        None => { strong { (row.label) } }
                                        Some(entry) => {
                                            @if is_log(&entry.name) {
                                                a href=(format!("/console/cases/{id}/bundles/{}/log?{}", b.sha256, query_string([("entry", entry.name.as_str())]))) { (row.label) }
                                            } @else {
                                                (row.label)
                                            }
                                            " " span.muted { (entry.size) " B" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section #request {
            h2 { "Request a bundle" }
            form method="post" action=(format!("/console/cases/{id}/bundle-requests")) {
                (staff.csrf_field())
                label { "Token valid for "
                    select name="hours" {
                        @for hours in REQUEST_HOURS {
                            option value=(hours) selected[hours == 72] { (hours) " hours" }
                        }
                    }
                }
                label { "JumpCloud device id (optional) " input type="text" name="device" pattern="[0-9a-f]{24}" placeholder="24 hex digits"; }
                label { "Device OS "
                    select name="os" {
                        option value="linux" { "Linux" }
                        option value="mac" { "macOS" }
                        option value="windows" { "Windows" }
                    }
                }
                button type="submit" { "Request a bundle" }
            }
        }
        section #history {
            h2 { "History" }
            ul.events {
                @for event in events {
                    li class=(format!("event {}", event.kind)) {
                        span.at { (event.at) } " " span.who { (event.staff) } " " span.kind { (event.kind.replace('_', " ")) } ": "
                        pre.inline { (event.text) }
                    }
                }
            }
        }
    }
}

/// Only links the console can vouch for become links: `https://` ones. Anything else
/// (`javascript:`, `data:`) is shown as text.
fn safe_link(link: &str) -> Markup {
    if link.starts_with("https://") && !link.chars().any(char::is_whitespace) {
        html! { a href=(link) rel="noreferrer noopener" { (link) } }
    } else {
        html! { span.link { (link) } }
    }
}

fn findings_view(findings: &Findings) -> Markup {
    let mut checks: Vec<_> = findings.checks.iter().collect();
    // Worst first; the order they ran within a status.
    checks.sort_by_key(|check| std::cmp::Reverse(check.status));
    html! {
        ul.checks {
            @for check in checks {
                li class=(format!("check {}", check.status)) {
                    span class=(format!("badge {}", check.status)) { (check.status) }
                    " " strong { (check.title) } " " span.muted { (check.id) }
                    p { (check.summary) }
                    @if !check.evidence.is_empty() {
                        ul.evidence {
                            @for evidence in &check.evidence {
                                li {
                                    code { (evidence.text) }
                                    @if let Some(file) = &evidence.file {
                                        " " span.muted { (file) @if let Some(line) = evidence.line { ":" (line) } }
                                    }
                                }
                            }
                        }
                    }
                    @if let Some(advice) = &check.advice { p.advice { "Advice: " (advice) } }
                    @if let Some(link) = &check.link { p { (safe_link(link)) } }
                }
            }
        }
        @if !findings.signatures.is_empty() {
            h3 { "Error signatures" }
            table.signatures {
                thead { tr { th { "Level" } th { "Count" } th { "Signature" } th { "Known" } } }
                tbody {
                    @for s in &findings.signatures {
                        tr {
                            td { (s.level) } td { (s.count) }
                            td { a href=(format!("/console?{}", query_string([("signature", s.signature.as_str())]))) { code { (s.signature) } } }
                            td { @if let Some(known) = &s.known { (known.meaning) " — " (known.advice) } }
                        }
                    }
                }
            }
        }
    }
}

// ----- changing a case -----

async fn existing_case(state: &AppState, id: &str) -> Result<CaseId, ConsoleError> {
    let case_id = parse_case(id)?;
    let org = blocking(state, move |state| Ok(state.store.case_org(case_id)?)).await?;
    org.map(|_| case_id)
        .ok_or_else(|| ConsoleError::not_found(format!("there is no case {case_id}")))
}

fn back_to(case_id: CaseId) -> Response {
    let to = format!("/console/cases/{case_id}");
    (
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            HeaderValue::from_str(&to).unwrap_or(HeaderValue::from_static("/console")),
        )],
    )
        .into_response()
}

fn note_text(posted: &Posted) -> Result<String, ConsoleError> {
    let text = posted.get("text").unwrap_or_default().trim().to_owned();
    if text.is_empty() || text.chars().count() > MAX_NOTE {
        return Err(ConsoleError::bad_request(format!(
            "write 1 to {MAX_NOTE} characters"
        )));
    }
    Ok(text)
}

/// `POST /console/cases/{id}/status`.
pub async fn set_status(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let case_id = existing_case(&state, &id).await?;
    let status = posted
        .get("status")
        .and_then(CaseStatus::parse)
        .ok_or_else(|| ConsoleError::bad_request("status must be open, waiting or resolved"))?;
    let email = posted.staff.email.clone();
    blocking(&state, move |state| {
        Ok(state
            .store
            .set_case_status(case_id, status, &email, Utc::now())?)
    })
    .await?;
    Ok(back_to(case_id))
}

/// `POST /console/cases/{id}/first-response`: stops the response clock.
pub async fn first_response(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let case_id = existing_case(&state, &id).await?;
    let text = note_text(&posted)?;
    let email = posted.staff.email.clone();
    blocking(&state, move |state| {
        Ok(state
            .store
            .record_first_response(case_id, &email, &text, Utc::now())?)
    })
    .await?;
    Ok(back_to(case_id))
}

/// `POST /console/cases/{id}/notes`.
pub async fn add_note(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let case_id = existing_case(&state, &id).await?;
    let text = note_text(&posted)?;
    let email = posted.staff.email.clone();
    blocking(&state, move |state| {
        Ok(state
            .store
            .add_case_event(case_id, "note", &email, &text, Utc::now())?)
    })
    .await?;
    Ok(back_to(case_id))
}

/// `GET /console/cases/{id}/bundles/{sha256}/download`: the bundle as kept, logged.
pub async fn download(
    State(state): State<AppState>,
    staff: Staff,
    UrlPath((id, sha256)): UrlPath<(String, String)>,
) -> Result<Response, ConsoleError> {
    let case_id = parse_case(&id)?;
    if !is_sha256_hex(&sha256) {
        return Err(ConsoleError::not_found("no such bundle"));
    }
    let sha = sha256.clone();
    let email = staff.email.clone();
    let (reader, len) = blocking(&state, move |state| {
        let known = state
            .store
            .case(case_id)?
            .is_some_and(|c| c.bundles.iter().any(|b| b.sha256 == sha));
        if !known {
            return Err(ConsoleError::not_found("no such bundle on this case"));
        }
        let mut reader = bundle::Kept::new(state, case_id, &sha).reader()?;
        let len = reader.seek(std::io::SeekFrom::End(0))?;
        reader.seek(std::io::SeekFrom::Start(0))?;
        state.store.add_case_event(
            case_id,
            "download",
            &email,
            &format!("bundle {sha}"),
            Utc::now(),
        )?;
        Ok((reader, len))
    })
    .await?;
    tracing::info!(staff = %staff.email, case_id = %case_id, sha256, "bundle downloaded");
    let mut response = Body::from_stream(blocking_stream(reader)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"case-{case_id}-{}.zip\"",
        &sha256[..12]
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The one-liners `token create` prints, one command per line (macOS/Linux, then Windows).
fn commands(url: &str, case_id: CaseId, token: &str) -> Vec<String> {
    crate::cli::one_liners(url, &case_id.to_string(), token)
        .lines()
        .filter_map(|line| line.strip_prefix("  "))
        .map(str::to_owned)
        .collect()
}

/// A JumpCloud Command (`POST /api/commands`) that runs the same installer on one device,
/// as root (macOS, Linux) or as the system (Windows).
pub fn jumpcloud_command(
    url: &str,
    case_id: CaseId,
    token: &str,
    os: &str,
    device: Option<&str>,
) -> Value {
    let url = url.trim_end_matches('/');
    let (command_type, command, shell) = match os {
        "windows" => (
            "windows",
            format!(
                "& ([scriptblock]::Create((irm {url}/install.ps1))) -Case {case_id} -Token {token}"
            ),
            Some("powershell"),
        ),
        os => (
            if os == "mac" { "mac" } else { "linux" },
            format!("curl -fsSL {url}/install.sh | sh -s -- --case {case_id} --token {token}"),
            None,
        ),
    };
    let mut value = json!({
        "name": format!("jcdiag bundle for case {case_id}"),
        "commandType": command_type,
        "command": command,
        "user": "000000000000000000000000",
        "launchType": "manual",
        "timeout": "600",
    });
    if let Some(shell) = shell {
        value["shell"] = json!(shell);
    }
    if let Some(device) = device {
        value["systems"] = json!([device]);
    }
    value
}

/// `POST /console/cases/{id}/bundle-requests`: a case-scoped token with an expiry, and the
/// commands that use it. The token is shown on this page once; only its hash is kept.
pub async fn request_bundle(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let case_id = existing_case(&state, &id).await?;
    let hours = posted
        .get("hours")
        .and_then(|h| h.parse::<u64>().ok())
        .filter(|h| REQUEST_HOURS.contains(h))
        .ok_or_else(|| ConsoleError::bad_request("choose how long the token stays valid"))?;
    let device = posted
        .get("device")
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    if let Some(device) = &device
        && !(device.len() == 24 && device.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(ConsoleError::bad_request(
            "a JumpCloud device id is 24 hex digits (the system's id in the admin console)",
        ));
    }
    let os = match posted.get("os") {
        Some(os @ ("linux" | "mac" | "windows")) => os.to_owned(),
        _ => "linux".to_owned(),
    };
    let email = posted.staff.email.clone();
    let issued = blocking(&state, move |state| {
        let org = state
            .store
            .case_org(case_id)?
            .ok_or_else(|| ConsoleError::not_found("no such case"))?;
        let now = Utc::now();
        let issued = tokens::issue(
            &*state.store,
            &org,
            Some(case_id),
            Some(std::time::Duration::from_secs(hours * 3600)),
            now,
        )
        .map_err(ConsoleError::internal)?;
        state.store.add_case_event(
            case_id,
            "bundle_request",
            &email,
            &format!(
                "case token minted, expires {}",
                issued.expires.as_deref().unwrap_or("never")
            ),
            now,
        )?;
        Ok(issued)
    })
    .await?;
    tracing::info!(staff = %posted.staff.email, %case_id, "bundle requested: case token minted");
    let url = state
        .config
        .public_url
        .clone()
        .unwrap_or_else(|| "https://<this endpoint>".to_owned());
    let lines = commands(&url, case_id, &issued.token);
    let jumpcloud = jumpcloud_command(&url, case_id, &issued.token, &os, device.as_deref());
    let body = html! {
        p.crumbs { a href=(format!("/console/cases/{case_id}")) { "Case " (case_id) } }
        h1 { "Bundle requested for case " (case_id) }
        p { "The token works for this case only and expires at "
            strong #expires { (issued.expires.as_deref().unwrap_or("never")) }
            ". It is shown here once: copy the command now." }
        h2 { "macOS, Linux (as root)" }
        pre #unix.command { (lines.first().map(String::as_str).unwrap_or_default()) }
        h2 { "Windows (elevated PowerShell)" }
        pre #windows.command { (lines.get(1).map(String::as_str).unwrap_or_default()) }
        h2 { "JumpCloud Command" }
        p { "Create it with " code { "POST /api/commands" } " in the JumpCloud API, then run it on the device." }
        pre #jumpcloud.command { (serde_json::to_string_pretty(&jumpcloud).unwrap_or_default()) }
        p { a href=(format!("/console/cases/{case_id}")) { "Back to the case" } }
    };
    Ok(html_page(
        StatusCode::OK,
        layout("Bundle requested", Some(&posted.staff), body),
    ))
}

// ----- the fleet -----

/// Signatures shown in the fleet view at most.
const FLEET_SIGNATURES: u64 = 200;

/// `GET /console/fleet`: error signatures and agent versions across every case.
pub async fn fleet(State(state): State<AppState>, staff: Staff) -> Result<Response, ConsoleError> {
    let (signatures, versions) = blocking(&state, |state| {
        bundle::index_new_bundles(state)?;
        Ok((
            state.store.fleet_signatures(FLEET_SIGNATURES)?,
            state.store.fleet_versions()?,
        ))
    })
    .await?;
    let case_links = |ids: &[CaseId]| {
        html! {
            @for id in ids { a.case href=(format!("/console/cases/{id}")) { (id) } " " }
        }
    };
    let body = html! {
        h1 { "Fleet" }
        section #signatures {
            h2 { "Error signatures" }
            table.signatures {
                thead { tr { th { "Signature" } th { "Level" } th { "Cases" } th { "Occurrences" } th { "Cases (first 20)" } } }
                tbody {
                    @for s in &signatures {
                        tr {
                            td { a href=(format!("/console?{}", query_string([("signature", s.signature.as_str())]))) { code { (s.signature) } } }
                            td { (s.level) } td.cases { (s.cases) } td { (s.occurrences) }
                            td { (case_links(&s.case_ids)) }
                        }
                    }
                }
            }
        }
        section #versions {
            h2 { "Agent versions" }
            table.versions {
                thead { tr { th { "Version" } th { "Cases" } th { "Cases (first 20)" } } }
                tbody {
                    @for v in &versions {
                        tr { td { (v.version) } td.cases { (v.cases) } td { (case_links(&v.case_ids)) } }
                    }
                }
            }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        layout("Fleet", Some(&staff), body),
    ))
}

/// Streams `reader` (a kept bundle: a file, or an object read by ranges on blocking calls)
/// from a blocking thread, a block at a time: at most two blocks wait for a slow client.
fn blocking_stream(
    mut reader: Box<dyn crate::backend::BundleRead>,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> {
    const BLOCK: usize = 256 << 10;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(2);
    tokio::task::spawn_blocking(move || {
        loop {
            let mut block = vec![0u8; BLOCK];
            let read = match reader.read(&mut block) {
                Ok(0) => return,
                Ok(n) => n,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    let _ = tx.blocking_send(Err(error));
                    return;
                }
            };
            block.truncate(read);
            if tx.blocking_send(Ok(block.into())).is_err() {
                return; // the client went away
            }
        }
    });
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jumpcloud_command_runs_the_one_liner_on_the_device() {
        let case = CaseId::from_row(42);
        let linux = jumpcloud_command(
            "https://s.example.com/",
            case,
            "jcd_t",
            "linux",
            Some("0123456789abcdef01234567"),
        );
        assert_eq!(linux["commandType"], "linux");
        assert_eq!(
            linux["command"],
            "curl -fsSL https://s.example.com/install.sh | sh -s -- --case 00000042 --token jcd_t"
        );
        assert_eq!(linux["systems"], json!(["0123456789abcdef01234567"]));
        let windows = jumpcloud_command("https://s.example.com", case, "jcd_t", "windows", None);
        assert_eq!(windows["shell"], "powershell");
        assert!(windows.get("systems").is_none());
        let lines = commands("https://s.example.com", case, "jcd_t");
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("curl -fsSL https://s.example.com/install.sh | sudo sh"));
        assert!(lines[1].starts_with("powershell -c"));
    }

    #[test]
    fn the_file_tree_names_each_folder_once_above_its_contents() {
        let entries: Vec<Entry> = [
            "case.json",
            "logs/a.log",
            "logs/old/b.log",
            "logs/z.log",
            "x/y/z.txt",
        ]
        .iter()
        .map(|name| Entry {
            name: (*name).into(),
            size: 1,
        })
        .collect();
        let rows: Vec<String> = tree_rows(&entries)
            .iter()
            .map(|row| format!("{}{}", "  ".repeat(row.depth), row.label))
            .collect();
        assert_eq!(
            rows,
            [
                "case.json",
                "logs/",
                "  a.log",
                "  old/",
                "    b.log",
                "  z.log",
                "x/",
                "  y/",
                "    z.txt"
            ]
        );
    }

    #[test]
    fn only_https_links_become_links() {
        assert!(
            safe_link("https://jumpcloud.com/support")
                .into_string()
                .contains("<a href")
        );
        for hostile in [
            "javascript:alert(1)",
            "data:text/html,x",
            "http://x",
            "https://x y",
        ] {
            assert!(
                !safe_link(hostile).into_string().contains("<a"),
                "{hostile}"
            );
        }
    }
}
