//! `--since` for the OS's own log files, whose lines start with one of a few time formats: RFC
//! 3339 (rsyslog's default on current distributions, `2026-12-01T18:09:00.123+00:00`),
//! `2026-12-01 18:09:00` (dpkg.log, macOS install.log), the traditional syslog
//! `Dec  1 18:09:00` (no year: the most recent such date not in the future), or the agent's own
//! `2026/12/01 18:09:00`. Times without a zone are local time, like the agent log's.

use chrono::{DateTime, Datelike, Local, NaiveDate, NaiveDateTime, TimeZone};

/// Byte offset of the first line dated at or after `since`; lines without a date go with the
/// one before them. The text's length when every dated line is older; 0 when no line is dated
/// (nothing is dropped from a log whose format is not known).
pub fn first_line_since(text: &[u8], since: DateTime<Local>, now: DateTime<Local>) -> usize {
    let mut offset = 0;
    let mut dated = false;
    for line in text.split_inclusive(|&b| b == b'\n') {
        if let Some(at) = line_time(line, now) {
            dated = true;
            if at >= since {
                return offset;
            }
        }
        offset += line.len();
    }
    if dated { text.len() } else { 0 }
}

/// The time a line starts with, if it starts with one of the known formats.
pub fn line_time(line: &[u8], now: DateTime<Local>) -> Option<DateTime<Local>> {
    let head = std::str::from_utf8(line.get(..line.len().min(40))?).ok()?;
    let token = head.split_whitespace().next()?;
    if token.len() >= 20
        && let Ok(at) = DateTime::parse_from_rfc3339(token)
    {
        return Some(at.with_timezone(&Local));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S"] {
        if let Some(prefix) = head.get(..19)
            && let Ok(at) = NaiveDateTime::parse_from_str(prefix, format)
        {
            return Local.from_local_datetime(&at).earliest();
        }
    }
    // `Dec  1 18:09:00`: this year, or last year when that would be in the future.
    let prefix = head.get(..15)?;
    let parsed =
        NaiveDateTime::parse_from_str(&format!("{} {prefix}", now.year()), "%Y %b %e %H:%M:%S")
            .ok()?;
    let at = Local.from_local_datetime(&parsed).earliest()?;
    if at > now + chrono::Duration::days(1) {
        let last_year = NaiveDate::from_ymd_opt(now.year() - 1, parsed.month(), parsed.day())?
            .and_time(parsed.time());
        return Local.from_local_datetime(&last_year).earliest();
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Local> {
        Local
            .from_local_datetime(&NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap())
            .unwrap()
    }

    #[test]
    fn each_format_is_dated() {
        let now = at("2026-12-01 12:00:00");
        let expected = at("2026-11-30 18:09:00");
        assert_eq!(
            line_time(b"Nov 30 18:09:00 host sshd[1]: x\n", now),
            Some(expected)
        );
        assert_eq!(
            line_time(b"2026-11-30 18:09:00 status installed x\n", now),
            Some(expected)
        );
        assert_eq!(
            line_time(b"2026/11/30 18:09:00 [1] [INFO] x\n", now),
            Some(expected)
        );
        let rfc = line_time(b"2026-11-30T18:09:00.123456+00:00 host x\n", now).unwrap();
        assert_eq!(rfc.timestamp(), 1_796_062_140);
        // December's lines read in January are last year's.
        let january = at("2027-01-02 00:00:00");
        assert_eq!(
            line_time(b"Dec 31 23:00:00 h x\n", january),
            Some(at("2026-12-31 23:00:00"))
        );
        assert_eq!(line_time(b"Start-Date: 2026-11-30  18:09:00\n", now), None);
    }

    #[test]
    fn older_lines_are_dropped_and_undated_ones_kept_with_theirs() {
        let now = at("2026-12-01 12:00:00");
        let text = b"Nov 28 10:00:00 h old\n  more old\nNov 30 10:00:00 h new\n  more new\n";
        let start = first_line_since(text, at("2026-11-29 00:00:00"), now);
        assert_eq!(&text[start..], b"Nov 30 10:00:00 h new\n  more new\n");
        assert_eq!(
            first_line_since(text, at("2026-12-01 00:00:00"), now),
            text.len()
        );
        assert_eq!(
            first_line_since(b"no dates here\n", at("2026-12-01 00:00:00"), now),
            0
        );
    }
}
