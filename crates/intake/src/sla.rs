//! The intake's own response targets: from the org's tier on record, the case's severity, the
//! time the case arrived and the support hours of the built-in profile plus `serve --holiday`.
//! A client's case.json may claim any target; the queue never uses it.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use jcdiag_profile::Profile;
use jcdiag_profile::sla::{ResponseDue, Severity, Tier};

use super::store::timestamp;

/// When the first response to a case is due, as stored and answered (RFC 3339 UTC), or `None`
/// for a tier without a published target (JumpStart) or without cases (Free).
pub fn response_due(
    holidays: &BTreeSet<NaiveDate>,
    tier: Tier,
    severity: Severity,
    received: DateTime<Utc>,
) -> Option<String> {
    let mut sla = Profile::builtin().sla.clone();
    sla.support_hours.holidays.extend(holidays.iter().copied());
    match sla.response_due(tier, severity, received) {
        Ok(ResponseDue::At(due)) => Some(timestamp(due.with_timezone(&Utc))),
        Ok(ResponseDue::NoPublishedTarget(_) | ResponseDue::NoCases(_)) => None,
        Err(error) => {
            tracing::warn!("no response target for a {tier} case: {error}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holidays_push_a_standard_target_past_them() {
        // Monday 2026-11-30 10:00 MST, severity 1: due 14:00 the same day, or, with Monday
        // and Tuesday off, 13:00 on Wednesday (the clock starts at Wednesday's opening).
        let filed = "2026-11-30T17:00:00Z".parse().unwrap();
        let severity: Severity = "1".parse().unwrap();
        let none = BTreeSet::new();
        assert_eq!(
            response_due(&none, Tier::Standard, severity, filed).as_deref(),
            Some("2026-11-30T21:00:00Z")
        );
        let off: BTreeSet<NaiveDate> = ["2026-11-30", "2026-12-01"]
            .iter()
            .map(|d| d.parse().unwrap())
            .collect();
        assert_eq!(
            response_due(&off, Tier::Standard, severity, filed).as_deref(),
            Some("2026-12-02T20:00:00Z")
        );
        assert_eq!(response_due(&none, Tier::Jumpstart, severity, filed), None);
    }
}
