//! The log viewer: pages through a bundle's log of any size without loading it whole.
//!
//! The first time an entry is viewed it is decompressed once, streaming, into the data
//! folder's `console-cache/<case>/<sha256>/<hash of the name>.log`, while two small indexes
//! are written beside it: the byte offset where every page of [`PAGE_LINES`] lines starts
//! (`.pages`) and the number of every ERROR line (`.errors`), as little-endian u64s. A page
//! is then one seek and at most [`PAGE_BYTES`] read; "next ERROR" is a lookup in `.errors`;
//! a search scans the file from the current line with memchr's substring finder and lands
//! on the page of the first match, that line highlighted.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use sha2::{Digest, Sha256};

use super::auth::Staff;
use super::{ConsoleError, field, form_pairs, html_page, layout, query_string};
use crate::files;
use crate::ids::{CaseId, is_sha256_hex};
use crate::state::AppState;

/// Lines per page.
pub const PAGE_LINES: u64 = 100;
/// Most bytes read for one page; a longer page (huge lines) is cut there.
const PAGE_BYTES: u64 = 1 << 20;
/// Longest line shown; the rest is cut with a marker.
const LINE_CHARS: usize = 2000;
/// Largest entry the viewer extracts.
const MAX_ENTRY: u64 = 2 << 30;
/// What makes a line an ERROR line for the jumps.
const ERROR_MARK: &[u8] = b"ERROR";

/// An extracted log and its indexes.
struct Extracted {
    log: PathBuf,
    /// Byte offset of each page's first line.
    pages: Vec<u64>,
    /// 1-based numbers of the ERROR lines, ascending.
    errors: Vec<u64>,
    lines: u64,
}

fn cache_dir(state: &AppState, case: CaseId, sha256: &str) -> PathBuf {
    state
        .dir
        .root()
        .join("console-cache")
        .join(case.to_string())
        .join(sha256)
}

fn read_u64s(path: &Path) -> std::io::Result<Vec<u64>> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    Ok(bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
        .collect())
}

fn write_u64s(path: &Path, values: &[u64]) -> std::io::Result<()> {
    let mut out = BufWriter::new(
        files::private_options()
            .create(true)
            .truncate(true)
            .write(true)
            .open(path)?,
    );
    for value in values {
        out.write_all(&value.to_le_bytes())?;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// The entry extracted and indexed, extracting it on first use. `None`: no such entry.
fn extract(
    state: &AppState,
    case: CaseId,
    sha256: &str,
    entry: &str,
) -> Result<Option<Extracted>, ConsoleError> {
    let dir = cache_dir(state, case, sha256);
    let stem = hex::encode(Sha256::digest(entry.as_bytes()));
    let log = dir.join(format!("{stem}.log"));
    let pages_path = dir.join(format!("{stem}.pages"));
    let errors_path = dir.join(format!("{stem}.errors"));
    // `.pages` is renamed into place last: its presence means the other two are complete.
    if pages_path.is_file() {
        let mut pages = read_u64s(&pages_path)?;
        let lines = pages.pop().unwrap_or(0);
        return Ok(Some(Extracted {
            log,
            pages,
            errors: read_u64s(&errors_path)?,
            lines,
        }));
    }
    let mut archive = super::bundle::Kept::new(state, case, sha256).archive()?;
    let Ok(source) = archive.by_name(entry) else {
        return Ok(None);
    };
    if !source.is_file() || source.size() > MAX_ENTRY {
        return Ok(None);
    }
    files::create_private_dir_all(&dir)?;
    let nonce = crate::ids::random_hex(8).map_err(ConsoleError::internal)?;
    let tmp_log = dir.join(format!("{stem}.{nonce}.tmp"));
    let mut out = BufWriter::new(
        files::private_options()
            .create_new(true)
            .write(true)
            .open(&tmp_log)?,
    );
    let mut reader = BufReader::with_capacity(256 * 1024, source.take(MAX_ENTRY));
    let mut pages = Vec::new();
    let mut errors = Vec::new();
    let mut offset = 0u64;
    let mut line_no = 0u64;
    let mut line = Vec::new();
    let finder = memchr::memmem::Finder::new(ERROR_MARK);
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line)?;
        if read == 0 {
            break;
        }
        if line_no.is_multiple_of(PAGE_LINES) {
            pages.push(offset);
        }
        line_no += 1;
        if finder.find(&line).is_some() {
            errors.push(line_no);
        }
        out.write_all(&line)?;
        offset += read as u64;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp_log, &log)?;
    let tmp_errors = dir.join(format!("{stem}.{nonce}.errors.tmp"));
    write_u64s(&tmp_errors, &errors)?;
    std::fs::rename(&tmp_errors, &errors_path)?;
    let tmp_pages = dir.join(format!("{stem}.{nonce}.pages.tmp"));
    let mut stored = pages.clone();
    stored.push(line_no);
    write_u64s(&tmp_pages, &stored)?;
    std::fs::rename(&tmp_pages, &pages_path)?;
    Ok(Some(Extracted {
        log,
        pages,
        errors,
        lines: line_no,
    }))
}

impl Extracted {
    fn page_count(&self) -> u64 {
        self.pages.len() as u64
    }

    /// The lines of page `page` (0-based), each with its 1-based number.
    fn page(&self, page: u64) -> std::io::Result<Vec<(u64, String)>> {
        let Some(&start) = self.pages.get(page as usize) else {
            return Ok(Vec::new());
        };
        let end = self.pages.get(page as usize + 1).copied();
        let mut file = File::open(&self.log)?;
        file.seek(SeekFrom::Start(start))?;
        let want = end.map_or(PAGE_BYTES, |end| (end - start).min(PAGE_BYTES));
        let mut bytes = Vec::new();
        file.take(want).read_to_end(&mut bytes)?;
        let first = page * PAGE_LINES + 1;
        Ok(bytes
            .split(|b| *b == b'\n')
            .take(PAGE_LINES as usize)
            .enumerate()
            .filter(|(i, line)| !(line.is_empty() && *i as u64 + first > self.lines))
            .map(|(i, line)| (first + i as u64, shown(line)))
            .collect())
    }

    /// The first line after `after` holding `needle`.
    fn search(&self, needle: &str, after: u64) -> std::io::Result<Option<u64>> {
        if needle.is_empty() || after >= self.lines {
            return Ok(None);
        }
        let page = after / PAGE_LINES;
        let mut file = File::open(&self.log)?;
        file.seek(SeekFrom::Start(self.pages[page as usize]))?;
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let finder = memchr::memmem::Finder::new(needle.as_bytes());
        let mut line_no = page * PAGE_LINES;
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                return Ok(None);
            }
            line_no += 1;
            if line_no > after && finder.find(&line).is_some() {
                return Ok(Some(line_no));
            }
        }
    }
}

/// A log line for the page: lossy UTF-8, cut at [`LINE_CHARS`], trailing `\r` dropped.
fn shown(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches('\r');
    if text.chars().count() > LINE_CHARS {
        let mut cut: String = text.chars().take(LINE_CHARS).collect();
        cut.push_str(" …[line cut]");
        cut
    } else {
        text.to_owned()
    }
}

/// `GET /console/cases/{id}/bundles/{sha256}/log?entry=NAME` with one of `page=N`
/// (1-based), `line=N`, `error=next|prev&from=N`, or `q=TEXT&from=N`.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    UrlPath((id, sha256)): UrlPath<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let case: CaseId = id
        .parse()
        .map_err(|_| ConsoleError::not_found(format!("no case {id}")))?;
    if !is_sha256_hex(&sha256) {
        return Err(ConsoleError::not_found("no such bundle"));
    }
    let pairs = form_pairs(query.as_deref().unwrap_or_default());
    let entry = field(&pairs, "entry").unwrap_or_default().to_owned();
    let number = |name: &str| field(&pairs, name).and_then(|v| v.parse::<u64>().ok());
    let needle = field(&pairs, "q").unwrap_or_default().to_owned();
    let error_dir = field(&pairs, "error").map(str::to_owned);
    let (page_arg, line_arg, from) = (number("page"), number("line"), number("from").unwrap_or(0));
    let sha = sha256.clone();
    let view = super::blocking(&state, move |state| {
        let known = state
            .store
            .case(case)?
            .is_some_and(|c| c.bundles.iter().any(|b| b.sha256 == sha));
        if !known {
            return Err(ConsoleError::not_found("no such bundle on this case"));
        }
        let Some(log) = extract(state, case, &sha, &entry)? else {
            return Err(ConsoleError::not_found("no such file in this bundle"));
        };
        let mut note = None;
        let target = if let Some(direction) = error_dir.as_deref() {
            let found = match direction {
                "prev" => log.errors.iter().rev().find(|&&l| l < from).copied(),
                _ => log.errors.iter().find(|&&l| l > from).copied(),
            };
            if found.is_none() {
                note = Some(format!(
                    "No {} ERROR line.",
                    if direction == "prev" {
                        "earlier"
                    } else {
                        "later"
                    }
                ));
            }
            found.or(Some(from.max(1)))
        } else if !needle.is_empty() {
            let found = log.search(&needle, from)?;
            if found.is_none() {
                note = Some("Not found after this line.".to_owned());
            }
            found.or(Some(from.max(1)))
        } else {
            line_arg
        };
        let page = match (target, page_arg) {
            (Some(line), _) => (line.max(1) - 1) / PAGE_LINES,
            (None, Some(page)) => page.max(1) - 1,
            (None, None) => 0,
        }
        .min(log.page_count().saturating_sub(1));
        let highlight = target.filter(|_| note.is_none());
        let lines = log.page(page)?;
        Ok((
            log.lines,
            log.page_count(),
            log.errors.len(),
            page,
            lines,
            highlight,
            note,
            entry,
        ))
    })
    .await?;
    let (total, pages, errors, page, lines, highlight, note, entry) = view;
    let base = format!("/console/cases/{case}/bundles/{sha256}/log");
    let link = |pairs: &[(&str, &str)]| {
        let mut all = vec![("entry", entry.as_str())];
        all.extend_from_slice(pairs);
        format!("{base}?{}", query_string(all))
    };
    let first_line = page * PAGE_LINES + 1;
    let last_line = lines.last().map_or(first_line, |(n, _)| *n);
    let here = highlight.unwrap_or(last_line);
    let (prev_from, next_from) = (
        highlight.unwrap_or(first_line).to_string(),
        here.to_string(),
    );
    let page_no = (page + 1).to_string();
    let body = html! {
        p.crumbs {
            a href=(format!("/console/cases/{case}")) { "Case " (case) } " › " (entry)
        }
        h1 { "Log " (entry) }
        p.meta {
            (total) " lines · page " (page_no) " of " (pages) " · " (errors) " ERROR lines"
        }
        @if let Some(note) = &note { p.note { (note) } }
        nav.logbar {
            @if page > 0 {
                a href=(link(&[("page", &page.to_string())])) { "← previous page" }
            }
            @if page + 1 < pages {
                a href=(link(&[("page", &(page + 2).to_string())])) { "next page →" }
            }
            a.err href=(link(&[("error", "prev"), ("from", &prev_from)])) { "↑ previous ERROR" }
            a.err href=(link(&[("error", "next"), ("from", &next_from)])) { "↓ next ERROR" }
        }
        form.search method="get" action=(base) {
            input type="hidden" name="entry" value=(entry);
            input type="hidden" name="from" value=(here);
            input type="search" name="q" placeholder="search (case-sensitive), from here on" required;
            button type="submit" { "Find" }
        }
        ol.log start=(first_line) {
            @for (number, text) in &lines {
                @let classes = match (Some(*number) == highlight, text.contains("ERROR")) {
                    (true, _) => "hit",
                    (false, true) => "error",
                    _ => "",
                };
                li id=(format!("L{number}")) class=(classes) { code { (text) } }
            }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        layout(&format!("Log {entry}"), Some(&staff), body),
    ))
}
