//! First-response targets for JumpCloud support cases.
//!
//! JumpCloud's support guidelines promise a first response within a time that
//! depends on the plan (tier) and the case severity. The numbers live in the
//! profile (`[support_hours]` and `[tiers.*]`), not in code, so they can follow
//! the guidelines when those change; [`SlaProfile::response_due`] turns a tier,
//! a severity and a filing time into the instant a response is due.
//!
//! ## Interpretation
//!
//! - **Premium** (24 x 7 x 365): wall clock. Due = filed + 1 h / 2 h / 4 h of
//!   real elapsed time for severity 1 / 2 / 3; a DST change neither stretches
//!   nor shrinks it.
//! - **Standard**: the clock runs only during support hours, 09:00–17:00
//!   America/Denver (MST or MDT as applicable), Monday to Friday, except
//!   configured holidays. A case filed outside support hours (including at
//!   exactly 17:00) starts the clock at the next opening. Severity 1 and 2 are
//!   due after 4 and 8 support hours, carried over into following business
//!   days. Severity 3 ("next business day") is due at closing time of the first
//!   business day after the day the clock starts. It counts from the clock
//!   start, like severity 1 and 2, so a case filed on a weekend or after hours
//!   is treated exactly like one filed at the next opening.
//! - **JumpStart**: cases are accepted but no target is published
//!   ([`ResponseDue::NoPublishedTarget`]). **Free**: no cases at all
//!   ([`ResponseDue::NoCases`]). Both carry the profile's note for the user.
//!
//! Due times are given in the support time zone, so `to_rfc3339()` shows the
//! Mountain Time offset. Worked example, Standard, times MT (checked by the
//! `worked_example_table` test):
//!
//! | filed           | sev 1 (4 h)    | sev 2 (8 h)    | sev 3          |
//! |-----------------|----------------|----------------|----------------|
//! | Mon 10:00       | Mon 14:00      | Tue 10:00      | Tue 17:00      |
//! | Fri 16:30       | Mon 12:30      | Mon 16:30      | Mon 17:00      |
//! | Sat 11:00       | Mon 13:00      | Mon 17:00      | Tue 17:00      |
//! | Mon 17:00       | Tue 13:00      | Tue 17:00      | Wed 17:00      |
//!
//! Friday 16:30, severity 1: 30 minutes on Friday, then 3 h 30 from Monday's
//! 09:00 opening, so Monday 12:30. Saturday, severity 3: the clock starts at
//! Monday 09:00, and the next business day after Monday closes Tuesday 17:00.
//!
//! ## Response rules in the profile
//!
//! `response = { 1 = "4h support", 2 = "8h support", 3 = "next-business-day" }`,
//! where a rule is `"<N>h wall"`, `"<N>h support"` (N in 1..=1000) or
//! `"next-business-day"`. Rules are parsed once, when the profile is read.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use chrono::offset::LocalResult;
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Offset, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Unexpected, Visitor};

// Tier and Severity are part of the wire contract: they live in jcdiag-protocol, and stay
// reachable here under their old paths.
pub use jcdiag_protocol::{LevelError, Severity, Tier};

/// Largest `N` accepted in `"<N>h ..."`: keeps a typo from turning into a
/// calculation that walks thousands of business days.
const MAX_RULE_HOURS: u32 = 1000;

/// Why a target could not be computed or a profile value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlaError {
    /// An unknown tier or a severity outside 1 to 3.
    #[error(transparent)]
    Level(#[from] LevelError),
    #[error(
        "invalid response rule \"{0}\"; expected \"<N>h wall\", \"<N>h support\" \
         (N in 1..={MAX_RULE_HOURS}) or \"next-business-day\""
    )]
    InvalidRule(String),
    #[error("invalid support profile: {0}")]
    InvalidProfile(String),
    #[error("tier {0} is not configured in the support profile")]
    TierNotConfigured(Tier),
    #[error("the response target falls outside the supported date range")]
    OutOfRange,
}

/// How a tier's response time is measured for one severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum ResponseRule {
    /// `"<N>h wall"`: N hours of real elapsed time, around the clock.
    Wall { hours: u32 },
    /// `"<N>h support"`: N hours counted only inside support hours.
    Support { hours: u32 },
    /// `"next-business-day"`: closing time of the business day after the
    /// day the clock starts.
    NextBusinessDay,
}

impl FromStr for ResponseRule {
    type Err = SlaError;

    fn from_str(s: &str) -> Result<Self, SlaError> {
        let bad = || SlaError::InvalidRule(s.to_string());
        let mut words = s.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("next-business-day"), None, None) => Ok(ResponseRule::NextBusinessDay),
            (Some(amount), Some(clock), None) => {
                let hours = amount
                    .strip_suffix('h')
                    .and_then(|n| n.parse().ok())
                    .filter(|n| (1..=MAX_RULE_HOURS).contains(n))
                    .ok_or_else(bad)?;
                match clock {
                    "wall" => Ok(ResponseRule::Wall { hours }),
                    "support" => Ok(ResponseRule::Support { hours }),
                    _ => Err(bad()),
                }
            }
            _ => Err(bad()),
        }
    }
}

impl TryFrom<String> for ResponseRule {
    type Error = SlaError;

    fn try_from(s: String) -> Result<Self, SlaError> {
        s.parse()
    }
}

/// Prints the profile syntax, so messages can quote the rule as configured.
impl fmt::Display for ResponseRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseRule::Wall { hours } => write!(f, "{hours}h wall"),
            ResponseRule::Support { hours } => write!(f, "{hours}h support"),
            ResponseRule::NextBusinessDay => f.write_str("next-business-day"),
        }
    }
}

/// When Standard-tier support is staffed: `[support_hours]` in the profile.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportHours {
    /// IANA zone the hours and holidays are stated in; due times are given in it.
    #[serde(deserialize_with = "from_text")]
    pub time_zone: Tz,
    /// Local opening time, `"HH:MM"`.
    #[serde(deserialize_with = "from_text")]
    pub open: NaiveTime,
    /// Local closing time, `"HH:MM"`; must be after `open` (no overnight shifts).
    #[serde(deserialize_with = "from_text")]
    pub close: NaiveTime,
    /// Weekdays with support hours: `"Mon"`, `"Tuesday"`, ...
    pub days: Vec<Weekday>,
    /// Local dates without support, `"YYYY-MM-DD"` (quoted or TOML dates).
    #[serde(default, deserialize_with = "dates_from_text")]
    pub holidays: BTreeSet<NaiveDate>,
}

impl SupportHours {
    /// Rejects hours that would leave no business day at all; checked on load
    /// and before every support-clock calculation, which relies on it to end.
    pub fn validate(&self) -> Result<(), SlaError> {
        if self.open >= self.close {
            return Err(SlaError::InvalidProfile(format!(
                "support_hours: open {} must be before close {}",
                self.open.format("%H:%M"),
                self.close.format("%H:%M")
            )));
        }
        if self.days.is_empty() {
            return Err(SlaError::InvalidProfile(
                "support_hours: days must name at least one weekday".into(),
            ));
        }
        Ok(())
    }

    pub fn is_business_day(&self, day: NaiveDate) -> bool {
        self.days.contains(&day.weekday()) && !self.holidays.contains(&day)
    }

    /// When the support clock starts for a case filed at `filed`: `filed`
    /// itself inside support hours, otherwise the next opening. Hours are
    /// half-open, so a case filed at closing time starts at the next opening.
    pub fn clock_start(&self, filed: DateTime<Utc>) -> Result<DateTime<Tz>, SlaError> {
        self.validate()?;
        let filed = filed.with_timezone(&self.time_zone);
        let (open, _) = self
            .windows_after(filed)
            .next()
            .ok_or(SlaError::OutOfRange)?;
        Ok(open.max(filed))
    }

    /// `[open, close]` of each business day, in order, skipping those already
    /// closed at `t`. Ends only at chrono's last date, given `validate()`.
    fn windows_after(
        &self,
        t: DateTime<Tz>,
    ) -> impl Iterator<Item = (DateTime<Tz>, DateTime<Tz>)> + '_ {
        std::iter::successors(Some(t.date_naive()), |d| d.succ_opt())
            .filter(|&d| self.is_business_day(d))
            .filter_map(|d| {
                let open = at_local(self.time_zone, d, self.open)?;
                let close = at_local(self.time_zone, d, self.close)?;
                (open < close).then_some((open, close))
            })
            .skip_while(move |&(_, close)| close <= t)
    }

    /// `t` plus `remaining` of support time. A target may land exactly at
    /// closing time rather than being pushed to the next opening.
    fn add_support_time(
        &self,
        t: DateTime<Tz>,
        mut remaining: TimeDelta,
    ) -> Result<DateTime<Tz>, SlaError> {
        for (open, close) in self.windows_after(t) {
            let start = open.max(t);
            if remaining <= close - start {
                return Ok(start + remaining);
            }
            remaining -= close - start;
        }
        Err(SlaError::OutOfRange)
    }

    /// Closing time of the business day after the clock-start day: the first
    /// window is the clock-start day's, the second is the next business day's.
    fn next_business_day_close(&self, t: DateTime<Tz>) -> Result<DateTime<Tz>, SlaError> {
        let (_, close) = self.windows_after(t).nth(1).ok_or(SlaError::OutOfRange)?;
        Ok(close)
    }
}

/// The instant a local wall time names. Denver switches at 02:00, so 09:00 and
/// 17:00 are never ambiguous or skipped; for other settings an ambiguous time
/// takes the earlier instant, and a skipped one is read with the offset in
/// force before the gap (it lands as far past the gap as it was into it).
fn at_local(tz: Tz, day: NaiveDate, time: NaiveTime) -> Option<DateTime<Tz>> {
    let local = day.and_time(time);
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t),
        LocalResult::None => {
            let day_before = local.checked_sub_signed(TimeDelta::days(1))?;
            let offset = tz.offset_from_utc_datetime(&day_before).fix();
            let utc =
                local.checked_sub_signed(TimeDelta::seconds(offset.local_minus_utc().into()))?;
            Some(tz.from_utc_datetime(&utc))
        }
    }
}

/// What one tier promises: `[tiers.<tier>]` in the profile.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierTerms {
    /// Display name, e.g. "JumpStart".
    pub name: String,
    pub accepts_cases: bool,
    /// Human-readable availability, e.g. "24 x 7 x 365".
    pub availability: String,
    /// Rule per severity: all three, or none when no target is published.
    #[serde(default)]
    pub response: BTreeMap<Severity, ResponseRule>,
    /// Told to the user when the tier takes no cases or publishes no target.
    #[serde(default)]
    pub no_target_note: Option<String>,
}

/// Support hours and tier terms. Deserializing validates the whole profile,
/// so a loaded profile answers every tier and severity.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "ProfileFields")]
pub struct SlaProfile {
    pub support_hours: SupportHours,
    pub tiers: BTreeMap<Tier, TierTerms>,
}

#[derive(Deserialize)]
struct ProfileFields {
    support_hours: SupportHours,
    tiers: BTreeMap<Tier, TierTerms>,
}

impl TryFrom<ProfileFields> for SlaProfile {
    type Error = SlaError;

    fn try_from(f: ProfileFields) -> Result<Self, SlaError> {
        SlaProfile::new(f.support_hours, f.tiers)
    }
}

/// The answer for one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseDue {
    /// First response due at this instant, in the support time zone.
    At(DateTime<Tz>),
    /// The tier takes cases but publishes no target; the note says so.
    NoPublishedTarget(String),
    /// The tier cannot open cases; the note says what to do instead.
    NoCases(String),
}

impl SlaProfile {
    /// Builds a profile, rejecting one that is missing a tier, has a partial
    /// set of rules, or promises targets for a tier that takes no cases.
    pub fn new(
        support_hours: SupportHours,
        tiers: BTreeMap<Tier, TierTerms>,
    ) -> Result<Self, SlaError> {
        support_hours.validate()?;
        for tier in Tier::ALL {
            let terms = tiers
                .get(&tier)
                .ok_or_else(|| SlaError::InvalidProfile(format!("tiers.{tier} is missing")))?;
            if !terms.accepts_cases && !terms.response.is_empty() {
                return Err(SlaError::InvalidProfile(format!(
                    "tiers.{tier} has response rules but accepts_cases = false"
                )));
            }
            if let Some(missing) = Severity::ALL
                .into_iter()
                .find(|s| !terms.response.is_empty() && !terms.response.contains_key(s))
            {
                return Err(SlaError::InvalidProfile(format!(
                    "tiers.{tier}.response has no rule for severity {missing}"
                )));
            }
        }
        Ok(SlaProfile {
            support_hours,
            tiers,
        })
    }

    /// When the first response to a case of `tier` and `severity`, filed at
    /// `filed`, is due; see the module docs for the interpretation.
    pub fn response_due(
        &self,
        tier: Tier,
        severity: Severity,
        filed: DateTime<Utc>,
    ) -> Result<ResponseDue, SlaError> {
        let terms = self
            .tiers
            .get(&tier)
            .ok_or(SlaError::TierNotConfigured(tier))?;
        let note = |fallback: &str| {
            terms
                .no_target_note
                .clone()
                .unwrap_or_else(|| format!("{} {fallback}", terms.name))
        };
        if !terms.accepts_cases {
            return Ok(ResponseDue::NoCases(note("does not accept support cases.")));
        }
        let Some(rule) = terms.response.get(&severity) else {
            return Ok(ResponseDue::NoPublishedTarget(note(
                "has no published response target.",
            )));
        };
        let hours = &self.support_hours;
        let filed = filed.with_timezone(&hours.time_zone);
        let due = match *rule {
            ResponseRule::Wall { hours: h } => filed
                .checked_add_signed(TimeDelta::hours(h.into()))
                .ok_or(SlaError::OutOfRange)?,
            ResponseRule::Support { hours: h } => {
                hours.validate()?;
                hours.add_support_time(filed, TimeDelta::hours(h.into()))?
            }
            ResponseRule::NextBusinessDay => {
                hours.validate()?;
                hours.next_business_day_close(filed)?
            }
        };
        Ok(ResponseDue::At(due))
    }
}

/// TOML hands native dates and times (`2026-12-25`, `09:00`) to serde as a
/// one-entry map under this key; accepting it lets users quote or not.
const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

/// Reads a `T` from its text form, quoted or a TOML native date/time.
struct FromText<T>(T);

impl<'de, T: FromStr<Err: fmt::Display>> Deserialize<'de> for FromText<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor<T>(PhantomData<T>);

        impl<'de, T: FromStr<Err: fmt::Display>> Visitor<'de> for TextVisitor<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
                s.parse().map_err(|e| E::custom(format!("\"{s}\": {e}")))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
                match map.next_entry::<String, String>()? {
                    Some((key, text)) if key == TOML_DATETIME_KEY => self.visit_str(&text),
                    _ => Err(de::Error::invalid_type(Unexpected::Map, &self)),
                }
            }
        }

        d.deserialize_str(TextVisitor(PhantomData)).map(FromText)
    }
}

fn from_text<'de, D: Deserializer<'de>, T: FromStr<Err: fmt::Display>>(
    d: D,
) -> Result<T, D::Error> {
    FromText::deserialize(d).map(|FromText(t)| t)
}

fn dates_from_text<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<NaiveDate>, D::Error> {
    let dates = Vec::<FromText<NaiveDate>>::deserialize(d)?;
    Ok(dates.into_iter().map(|FromText(date)| date).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The fragment the main crate's profile contains, verbatim.
    const PROFILE: &str = r#"
[support_hours]
time_zone = "America/Denver"
open = "09:00"
close = "17:00"
days = ["Mon", "Tue", "Wed", "Thu", "Fri"]
holidays = []            # "YYYY-MM-DD" dates, settable from the config file

[tiers.premium]
name = "Premium"
accepts_cases = true
availability = "24 x 7 x 365"
response = { 1 = "1h wall", 2 = "2h wall", 3 = "4h wall" }

[tiers.standard]
name = "Standard"
accepts_cases = true
availability = "9am-5pm MT weekdays"
response = { 1 = "4h support", 2 = "8h support", 3 = "next-business-day" }

[tiers.jumpstart]
name = "JumpStart"
accepts_cases = true
availability = "dedicated support specialist during the trial"
no_target_note = "JumpStart has a dedicated support specialist and no published response target."

[tiers.free]
name = "Free"
accepts_cases = false
availability = "Knowledge Base only"
no_target_note = "Free accounts have Knowledge Base access only; join JumpStart or buy a plan to open cases."
"#;

    fn profile() -> SlaProfile {
        toml::from_str(PROFILE).expect("fragment parses")
    }

    fn profile_with_holidays(dates: &[&str]) -> SlaProfile {
        let mut p = profile();
        p.support_hours.holidays = dates.iter().map(|d| d.parse().unwrap()).collect();
        p
    }

    /// A Mountain Time wall clock reading ("2026-04-17 16:30") as an instant.
    fn mt(s: &str) -> DateTime<Utc> {
        let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        chrono_tz::America::Denver
            .from_local_datetime(&naive)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn sev(n: u8) -> Severity {
        Severity::try_from(n).unwrap()
    }

    /// The due time as RFC 3339 in MT, failing on any non-`At` answer.
    fn due(p: &SlaProfile, tier: Tier, severity: u8, filed: DateTime<Utc>) -> String {
        match p.response_due(tier, sev(severity), filed).unwrap() {
            ResponseDue::At(t) => t.to_rfc3339(),
            other => panic!("expected a due time, got {other:?}"),
        }
    }

    fn standard(severity: u8, filed: &str) -> String {
        due(&profile(), Tier::Standard, severity, mt(filed))
    }

    #[test]
    fn fragment_deserializes() {
        let p = profile();
        let h = &p.support_hours;
        assert_eq!(h.time_zone, chrono_tz::America::Denver);
        assert_eq!(
            (h.open.to_string(), h.close.to_string()),
            ("09:00:00".into(), "17:00:00".into())
        );
        assert_eq!(
            h.days,
            [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri
            ]
        );
        assert!(h.holidays.is_empty());
        let standard = &p.tiers[&Tier::Standard];
        assert_eq!(standard.name, "Standard");
        assert_eq!(
            standard.response[&sev(1)],
            ResponseRule::Support { hours: 4 }
        );
        assert_eq!(standard.response[&sev(3)], ResponseRule::NextBusinessDay);
        assert_eq!(
            p.tiers[&Tier::Premium].response[&sev(2)],
            ResponseRule::Wall { hours: 2 }
        );
        assert!(p.tiers[&Tier::Jumpstart].response.is_empty());
        assert!(!p.tiers[&Tier::Free].accepts_cases);
    }

    #[test]
    fn every_tier_and_severity() {
        let p = profile();
        let filed = mt("2026-04-15 10:00"); // Wednesday, MDT
        let cases = [
            (Tier::Premium, 1, "2026-04-15T11:00:00-06:00"),
            (Tier::Premium, 2, "2026-04-15T12:00:00-06:00"),
            (Tier::Premium, 3, "2026-04-15T14:00:00-06:00"),
            (Tier::Standard, 1, "2026-04-15T14:00:00-06:00"),
            (Tier::Standard, 2, "2026-04-16T10:00:00-06:00"),
            (Tier::Standard, 3, "2026-04-16T17:00:00-06:00"),
        ];
        for (tier, s, want) in cases {
            assert_eq!(due(&p, tier, s, filed), want, "{tier} sev {s}");
        }
        for s in Severity::ALL {
            assert_eq!(
                p.response_due(Tier::Jumpstart, s, filed).unwrap(),
                ResponseDue::NoPublishedTarget(
                    "JumpStart has a dedicated support specialist and no published response target.".into()
                )
            );
            let ResponseDue::NoCases(note) = p.response_due(Tier::Free, s, filed).unwrap() else {
                panic!("free tier must not accept cases");
            };
            assert!(note.starts_with("Free accounts have Knowledge Base access only"));
        }
    }

    #[test]
    fn worked_example_table() {
        // Mon 2026-04-13 .. Sat 2026-04-18; the rows of the module docs.
        let rows = [
            (
                "2026-04-13 10:00",
                ["04-13T14:00", "04-14T10:00", "04-14T17:00"],
            ),
            (
                "2026-04-17 16:30",
                ["04-20T12:30", "04-20T16:30", "04-20T17:00"],
            ),
            (
                "2026-04-18 11:00",
                ["04-20T13:00", "04-20T17:00", "04-21T17:00"],
            ),
            (
                "2026-04-13 17:00",
                ["04-14T13:00", "04-14T17:00", "04-15T17:00"],
            ),
        ];
        for (filed, wants) in rows {
            for (s, want) in (1..=3).zip(wants) {
                assert_eq!(
                    standard(s, filed),
                    format!("2026-{want}:00-06:00"),
                    "{filed} sev {s}"
                );
            }
        }
    }

    #[test]
    fn friday_afternoon_carries_over_the_weekend() {
        assert_eq!(
            mt("2026-04-17 16:30")
                .with_timezone(&chrono_tz::America::Denver)
                .weekday(),
            Weekday::Fri
        );
        assert_eq!(standard(1, "2026-04-17 16:30"), "2026-04-20T12:30:00-06:00");
        assert_eq!(standard(2, "2026-04-17 16:30"), "2026-04-20T16:30:00-06:00");
        assert_eq!(standard(3, "2026-04-17 16:30"), "2026-04-20T17:00:00-06:00");
        assert_eq!(standard(3, "2026-04-17 16:00"), "2026-04-20T17:00:00-06:00");
    }

    #[test]
    fn saturday_filing_starts_at_monday_opening() {
        let filed = mt("2026-04-18 11:00");
        let start = profile().support_hours.clock_start(filed).unwrap();
        assert_eq!(start.to_rfc3339(), "2026-04-20T09:00:00-06:00");
        assert_eq!(standard(1, "2026-04-18 11:00"), "2026-04-20T13:00:00-06:00");
        assert_eq!(standard(3, "2026-04-18 11:00"), "2026-04-21T17:00:00-06:00");
    }

    #[test]
    fn before_opening_starts_at_opening() {
        assert_eq!(standard(1, "2026-04-14 08:00"), "2026-04-14T13:00:00-06:00");
        assert_eq!(standard(2, "2026-04-14 08:00"), "2026-04-14T17:00:00-06:00");
        assert_eq!(standard(3, "2026-04-14 08:00"), "2026-04-15T17:00:00-06:00");
    }

    #[test]
    fn closing_time_is_outside_but_a_target_may_land_on_it() {
        // Filed exactly at 17:00: the clock waits for the next opening.
        assert_eq!(standard(1, "2026-04-14 17:00"), "2026-04-15T13:00:00-06:00");
        assert_eq!(standard(3, "2026-04-14 17:00"), "2026-04-16T17:00:00-06:00");
        // Eight hours from 09:00 end at 17:00 the same day, not the next morning.
        assert_eq!(standard(2, "2026-04-14 09:00"), "2026-04-14T17:00:00-06:00");
        assert_eq!(standard(1, "2026-04-14 13:00"), "2026-04-14T17:00:00-06:00");
    }

    #[test]
    fn spring_forward_standard_counts_support_hours() {
        // 2026-03-08 is the second Sunday of March: MST (-07) becomes MDT (-06).
        assert_eq!(standard(2, "2026-03-06 16:00"), "2026-03-09T16:00:00-06:00");
        assert_eq!(standard(1, "2026-03-06 16:00"), "2026-03-09T12:00:00-06:00");
        assert_eq!(standard(3, "2026-03-07 12:00"), "2026-03-10T17:00:00-06:00");
    }

    #[test]
    fn spring_forward_premium_is_elapsed_time() {
        // 01:30 MST + 2 real hours: the clock jumps 02:00 -> 03:00, so 04:30 MDT.
        let filed = mt("2026-03-08 01:30");
        assert_eq!(
            due(&profile(), Tier::Premium, 2, filed),
            "2026-03-08T04:30:00-06:00"
        );
        assert_eq!(
            due(&profile(), Tier::Premium, 1, filed),
            "2026-03-08T03:30:00-06:00"
        );
    }

    #[test]
    fn fall_back_standard_and_premium() {
        // 2026-11-01 is the first Sunday of November: MDT (-06) becomes MST (-07).
        assert_eq!(standard(2, "2026-10-30 16:00"), "2026-11-02T16:00:00-07:00");
        let filed = mt("2026-11-01 00:30"); // MDT
        // Two real hours later the wall clock reads 01:30 for the second time.
        assert_eq!(
            due(&profile(), Tier::Premium, 2, filed),
            "2026-11-01T01:30:00-07:00"
        );
        assert_eq!(
            due(&profile(), Tier::Premium, 3, filed),
            "2026-11-01T03:30:00-07:00"
        );
    }

    #[test]
    fn holidays_are_skipped() {
        let p = profile_with_holidays(&["2026-12-25"]);
        let thursday = mt("2026-12-24 16:00");
        assert_eq!(
            due(&p, Tier::Standard, 1, thursday),
            "2026-12-28T12:00:00-07:00"
        );
        assert_eq!(
            due(&p, Tier::Standard, 3, mt("2026-12-24 10:00")),
            "2026-12-28T17:00:00-07:00"
        );
        // Filed on the holiday itself: the clock starts Monday 09:00.
        assert_eq!(
            due(&p, Tier::Standard, 1, mt("2026-12-25 10:00")),
            "2026-12-28T13:00:00-07:00"
        );
        // Premium ignores support hours and holidays.
        assert_eq!(
            due(&p, Tier::Premium, 1, thursday),
            "2026-12-24T17:00:00-07:00"
        );
        // Without the holiday, Friday is a business day.
        assert_eq!(standard(1, "2026-12-24 16:00"), "2026-12-25T12:00:00-07:00");
    }

    #[test]
    fn holidays_accept_quoted_and_native_toml_dates() {
        let p: SlaProfile = toml::from_str(
            &PROFILE.replace("holidays = []", r#"holidays = ["2026-12-25", 2027-01-01]"#),
        )
        .unwrap();
        let want: BTreeSet<NaiveDate> = ["2026-12-25", "2027-01-01"]
            .iter()
            .map(|d| d.parse().unwrap())
            .collect();
        assert_eq!(p.support_hours.holidays, want);
        let native_times: SlaProfile =
            toml::from_str(&PROFILE.replace(r#"open = "09:00""#, "open = 09:00")).unwrap();
        assert_eq!(
            native_times.support_hours.open,
            NaiveTime::from_hms_opt(9, 0, 0).unwrap()
        );
    }

    #[test]
    fn dst_edge_inside_configured_hours_resolves() {
        let tz = chrono_tz::America::Denver;
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        // 02:30 does not exist on 2026-03-08; read with MST it is 03:30 MDT.
        let skipped = at_local(tz, day("2026-03-08"), hm(2, 30)).unwrap();
        assert_eq!(skipped.to_rfc3339(), "2026-03-08T03:30:00-06:00");
        // 01:30 happens twice on 2026-11-01; the earlier (MDT) one is taken.
        let twice = at_local(tz, day("2026-11-01"), hm(1, 30)).unwrap();
        assert_eq!(twice.to_rfc3339(), "2026-11-01T01:30:00-06:00");
    }

    #[test]
    fn tier_and_severity_parse_with_helpful_errors() {
        assert_eq!("JumpStart".parse::<Tier>().unwrap(), Tier::Jumpstart);
        assert_eq!(" premium ".parse::<Tier>().unwrap(), Tier::Premium);
        let err = "gold".parse::<Tier>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown tier \"gold\"; valid tiers: free, standard, premium, jumpstart"
        );
        assert_eq!("2".parse::<Severity>().unwrap().get(), 2);
        for bad in ["0", "4", "high", ""] {
            let err = bad.parse::<Severity>().unwrap_err().to_string();
            assert_eq!(err, format!("invalid severity \"{bad}\"; allowed: 1, 2, 3"));
        }
        assert!(Severity::try_from(4).is_err());
    }

    #[test]
    fn response_rules_round_trip_and_reject_typos() {
        for text in ["1h wall", "8h support", "next-business-day"] {
            assert_eq!(text.parse::<ResponseRule>().unwrap().to_string(), text);
        }
        for bad in [
            "4 hours",
            "0h wall",
            "4h",
            "4h supprt",
            "next business day",
            "1001h wall",
        ] {
            assert_eq!(
                bad.parse::<ResponseRule>(),
                Err(SlaError::InvalidRule(bad.into()))
            );
        }
    }

    /// Loads the fragment with one substitution and returns the error text.
    fn load_error(from: &str, to: &str) -> String {
        let text = PROFILE.replace(from, to);
        assert_ne!(text, PROFILE, "substitution must apply");
        toml::from_str::<SlaProfile>(&text).unwrap_err().to_string()
    }

    #[test]
    fn bad_profiles_name_the_bad_entry() {
        let err = load_error(r#"3 = "next-business-day""#, r#"3 = "next business day""#);
        assert!(
            err.contains(r#"invalid response rule "next business day""#),
            "{err}"
        );
        assert!(
            err.contains(r#"3 = "next business day""#),
            "points at the entry: {err}"
        );
        let err = load_error(r#"3 = "4h wall""#, r#"4 = "4h wall""#);
        assert!(
            err.contains(r#"invalid severity "4"; allowed: 1, 2, 3"#),
            "{err}"
        );
        let err = load_error("[tiers.jumpstart]", "[tiers.gold]");
        assert!(err.contains("unknown variant `gold`"), "{err}");
        let err = load_error(r#", 3 = "4h wall""#, "");
        assert!(
            err.contains("tiers.premium.response has no rule for severity 3"),
            "{err}"
        );
        let err = load_error(
            r#"availability = "Knowledge Base only""#,
            "availability = \"x\"\nresponse = { 1 = \"1h wall\", 2 = \"1h wall\", 3 = \"1h wall\" }",
        );
        assert!(
            err.contains("tiers.free has response rules but accepts_cases = false"),
            "{err}"
        );
        let err = load_error(r#"close = "17:00""#, r#"close = "08:00""#);
        assert!(
            err.contains("support_hours: open 09:00 must be before close 08:00"),
            "{err}"
        );
        let err = load_error(r#"days = ["Mon", "Tue", "Wed", "Thu", "Fri"]"#, "days = []");
        assert!(err.contains("days must name at least one weekday"), "{err}");
        let err = load_error("America/Denver", "America/Denvr");
        assert!(
            err.contains(r#""America/Denvr": failed to parse timezone"#),
            "{err}"
        );
        let err = load_error("holidays = []", r#"holidays = ["2026-13-01"]"#);
        assert!(err.contains(r#""2026-13-01""#), "{err}");
        let err = load_error(
            "no_target_note = \"JumpStart",
            "no_target_notes = \"JumpStart",
        );
        assert!(err.contains("unknown field `no_target_notes`"), "{err}");
    }

    #[test]
    fn hand_built_profiles_are_checked_too() {
        let mut p = profile();
        p.tiers.remove(&Tier::Jumpstart);
        assert_eq!(
            p.response_due(Tier::Jumpstart, sev(1), mt("2026-04-15 10:00")),
            Err(SlaError::TierNotConfigured(Tier::Jumpstart))
        );
        assert!(SlaProfile::new(p.support_hours.clone(), p.tiers.clone()).is_err());
        let mut p = profile();
        p.support_hours.days.clear();
        assert!(matches!(
            p.response_due(Tier::Standard, sev(1), mt("2026-04-15 10:00")),
            Err(SlaError::InvalidProfile(_))
        ));
        // Premium needs no support hours, so it still answers.
        assert!(
            p.response_due(Tier::Premium, sev(1), mt("2026-04-15 10:00"))
                .is_ok()
        );
    }

    /// Support time inside `[from, to]`, counted day by day independently of
    /// the code under test.
    fn support_time(h: &SupportHours, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        let tz = h.time_zone;
        let local = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
        let mut total = TimeDelta::zero();
        let mut day = local(from);
        while day <= local(to) {
            if h.days.contains(&day.weekday()) && !h.holidays.contains(&day) {
                let at = |t: NaiveTime| {
                    tz.from_local_datetime(&day.and_time(t))
                        .single()
                        .unwrap()
                        .with_timezone(&Utc)
                };
                let (start, end) = (at(h.open).max(from), at(h.close).min(to));
                if end > start {
                    total += end - start;
                }
            }
            day = day.succ_opt().unwrap();
        }
        total
    }

    /// Filing times 2025-2028 (four of each DST change), half of them on whole
    /// hours so that filings at exactly 09:00 and 17:00 come up often.
    fn filed_and_holidays() -> impl Strategy<Value = (DateTime<Utc>, SlaProfile)> {
        let (lo, hi) = (1_735_689_600_i64, 1_861_920_000_i64);
        let secs = prop_oneof![lo..hi, (lo / 3600..hi / 3600).prop_map(|h| h * 3600)];
        (secs, proptest::collection::vec(0_u64..21, 0..6)).prop_map(|(s, offsets)| {
            let filed = DateTime::from_timestamp(s, 0).unwrap();
            let mut p = profile();
            let first = filed.with_timezone(&p.support_hours.time_zone).date_naive();
            p.support_hours.holidays = offsets
                .into_iter()
                .map(|o| first.checked_add_days(chrono::Days::new(o)).unwrap())
                .collect();
            (filed, p)
        })
    }

    fn standard_due(p: &SlaProfile, s: u8, filed: DateTime<Utc>) -> DateTime<Utc> {
        match p.response_due(Tier::Standard, sev(s), filed).unwrap() {
            ResponseDue::At(t) => t.with_timezone(&Utc),
            other => panic!("expected a due time, got {other:?}"),
        }
    }

    proptest! {
        #[test]
        fn standard_target_is_inside_support_hours((filed, p) in filed_and_holidays(), s in 1_u8..=3) {
            let h = &p.support_hours;
            let due = standard_due(&p, s, filed).with_timezone(&h.time_zone);
            prop_assert!(due >= filed);
            prop_assert!(h.days.contains(&due.weekday()));
            prop_assert!(!h.holidays.contains(&due.date_naive()));
            prop_assert!(h.open <= due.time() && due.time() <= h.close, "due {due}");
        }

        #[test]
        fn sev_1_and_2_count_exactly_the_promised_support_hours(
            (filed, p) in filed_and_holidays(), s in 1_u8..=2
        ) {
            let h = &p.support_hours;
            let promised = TimeDelta::hours(if s == 1 { 4 } else { 8 });
            let start = h.clock_start(filed).unwrap().with_timezone(&Utc);
            let due = standard_due(&p, s, filed);
            prop_assert_eq!(support_time(h, filed, start), TimeDelta::zero());
            prop_assert_eq!(support_time(h, start, due), promised);
            // Earliest such instant: never at an opening (it would be the previous close).
            prop_assert!(due.with_timezone(&h.time_zone).time() > h.open);
        }

        #[test]
        fn sev_3_is_the_close_of_the_next_business_day(
            (filed, p) in filed_and_holidays()
        ) {
            let h = &p.support_hours;
            let start = h.clock_start(filed).unwrap().with_timezone(&Utc);
            let due = standard_due(&p, 3, filed);
            prop_assert_eq!(due.with_timezone(&h.time_zone).time(), h.close);
            // What is left of the clock-start day plus one whole 8 h day.
            let counted = support_time(h, start, due);
            prop_assert!(TimeDelta::hours(8) < counted && counted <= TimeDelta::hours(16), "{counted}");
        }
    }
}
