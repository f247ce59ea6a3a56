//! On-call schedules: who is on call at a given instant, and when that next changes.
//!
//! Owns: [`OnCallSchedule`] (layers of [`Layer`] rotations, restrictions, [`Override`]s, holidays)
//! and its two questions, [`OnCallSchedule::on_call_at`] and [`OnCallSchedule::next_handoff`].
//! Never: reads the clock or pages anyone; the escalation asks it at the intended instant.
//!
//! DST, written down: daily, weekly and N-day rotations hand off at the same *wall-clock* time in
//! the schedule's zone (so a shift across the spring-forward night is 23 hours long, across the
//! autumn night 25), while N-hour rotations count *elapsed* hours. Wall times that fall in a DST gap
//! or occur twice follow [`Zone::instant`].

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::person::PersonId;
use super::policy::ScheduleId;
use super::time::{LocalDateTime, TimeWindow, Zone};

/// A schedule: layers listed bottom to top (a later layer wins wherever it has someone on call),
/// then overrides applied in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnCallSchedule {
    pub id: ScheduleId,
    #[serde(default)]
    pub name: String,
    pub time_zone: Zone,
    pub layers: Vec<Layer>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<Override>,
    /// Dates the restrictions' `holidays` setting refers to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holidays: Vec<NaiveDate>,
}

/// A rotation of people: `people[0]` takes over at `start` (wall-clock time in the schedule's zone),
/// the next one after `every`, and so on round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub people: Vec<PersonId>,
    /// The first handoff; nobody is on call on this layer before it.
    pub start: LocalDateTime,
    pub every: RotationLength,
    /// The layer has someone on call only inside one of these windows; empty: always.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restrictions: Vec<TimeWindow>,
}

/// Shift length. JSON: `"daily"`, `"weekly"`, `{"days": 3}`, `{"hours": 12}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationLength {
    Daily,
    Weekly,
    /// N calendar days, handing off at the start's wall-clock time.
    Days(u32),
    /// N elapsed hours.
    Hours(u32),
}

/// A change to who is on call for a time range: `{"start", "end", "add": "carol"}`,
/// `{…, "remove": "bob"}`, `{…, "replace": "bob", "with": "carol"}`, or `{…, "with": "carol"}`
/// (Carol covers for whoever is on call).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add: Option<PersonId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove: Option<PersonId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace: Option<PersonId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<PersonId>,
}

impl Override {
    fn covers(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    fn apply(&self, on_call: &mut Vec<PersonId>) {
        if let Some(p) = &self.add {
            if !on_call.contains(p) {
                on_call.push(p.clone());
            }
        }
        if let Some(p) = &self.remove {
            on_call.retain(|x| x != p);
        }
        if let Some(with) = &self.with {
            match &self.replace {
                Some(who) => {
                    if let Some(i) = on_call.iter().position(|x| x == who) {
                        on_call[i] = with.clone();
                        let mut seen = Vec::new();
                        on_call.retain(|x| {
                            if seen.contains(x) {
                                false
                            } else {
                                seen.push(x.clone());
                                true
                            }
                        });
                    }
                }
                None => *on_call = vec![with.clone()],
            }
        }
    }
}

impl Layer {
    /// Index of the shift that covers `t` (0 = the one starting at `start`), and when the next one
    /// begins. `None` before the first handoff or with nobody in the rotation.
    fn shift_at(&self, zone: Zone, t: DateTime<Utc>) -> Option<(i64, DateTime<Utc>)> {
        if self.people.is_empty() {
            return None;
        }
        let start = zone.instant(self.start.0);
        if t < start {
            return None;
        }
        match self.every {
            RotationLength::Hours(h) => {
                let len = (h.max(1) as i64) * 3600;
                let k = (t - start).num_seconds().div_euclid(len);
                let next = Duration::try_seconds(len.checked_mul(k.checked_add(1)?)?).and_then(|d| start.checked_add_signed(d))?;
                Some((k, next))
            }
            RotationLength::Daily | RotationLength::Weekly | RotationLength::Days(_) => {
                let n = match self.every {
                    RotationLength::Daily => 1,
                    RotationLength::Weekly => 7,
                    RotationLength::Days(n) => n.max(1) as i64,
                    RotationLength::Hours(_) => unreachable!(),
                };
                // Checked: a start or a length near the calendar's ends gives no shift, not a panic.
                let handoff = |k: i64| Some(zone.instant(self.start.0.checked_add_signed(Duration::try_days(k.checked_mul(n)?)?)?));
                let days = (zone.local(t).date() - self.start.0.date()).num_days();
                let mut k = days.div_euclid(n);
                if t < handoff(k)? {
                    k -= 1;
                }
                Some((k, handoff(k + 1)?))
            }
        }
    }

    /// Who this layer has on call at `t`, if anyone.
    pub fn on_call_at(&self, zone: Zone, holidays: &[NaiveDate], t: DateTime<Utc>) -> Option<&PersonId> {
        if !self.restrictions.is_empty() && !self.restrictions.iter().any(|w| w.contains(zone, holidays, t)) {
            return None;
        }
        let (k, _) = self.shift_at(zone, t)?;
        Some(&self.people[k.rem_euclid(self.people.len() as i64) as usize])
    }
}

/// How far ahead [`OnCallSchedule::next_handoff`] looks before saying "no change".
const HANDOFF_HORIZON_DAYS: i64 = 400;

impl OnCallSchedule {
    /// Who is on call at `t`: the highest layer with someone, then the overrides covering `t`.
    /// Usually one person; overrides may add more or leave nobody.
    pub fn on_call_at(&self, t: DateTime<Utc>) -> Vec<PersonId> {
        let mut on_call = Vec::with_capacity(1);
        if let Some(p) = self.layers.iter().rev().find_map(|l| l.on_call_at(self.time_zone, &self.holidays, t)) {
            on_call.push(p.clone());
        }
        for o in self.overrides.iter().filter(|o| o.covers(t)) {
            o.apply(&mut on_call);
        }
        on_call
    }

    /// The first instant after `after` at which who is on call changes (a rotation handoff, a
    /// restriction opening or closing, an override starting or ending), within about a year.
    pub fn next_handoff(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let sorted = |mut v: Vec<PersonId>| {
            v.sort();
            v
        };
        let now = sorted(self.on_call_at(after));
        let horizon = after + Duration::days(HANDOFF_HORIZON_DAYS);
        let mut cursor = after;
        let mut candidates = Vec::new();
        while cursor < horizon {
            candidates.clear();
            for layer in &self.layers {
                if let Some((_, next)) = layer.shift_at(self.time_zone, cursor) {
                    candidates.push(next);
                } else if !layer.people.is_empty() {
                    let start = self.time_zone.instant(layer.start.0);
                    if start > cursor {
                        candidates.push(start);
                    }
                }
                for w in &layer.restrictions {
                    w.edges_after(self.time_zone, cursor, &mut candidates);
                }
            }
            for o in &self.overrides {
                candidates.extend([o.start, o.end].into_iter().filter(|&i| i > cursor));
            }
            let next = candidates.iter().copied().filter(|&c| c > cursor).min()?;
            if sorted(self.on_call_at(next)) != now {
                return Some(next);
            }
            cursor = next;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn schedule(json: &str) -> OnCallSchedule {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn weekly_rotation_hands_off_at_local_time_across_dst() {
        // Handoff Mondays 09:00 Amsterdam. DST starts Sunday 2025-03-30.
        let s = schedule(
            r#"{"id":"p","time_zone":"Europe/Amsterdam","layers":[
            {"people":["ann","bob"],"start":"2025-03-24T09:00","every":"weekly"}]}"#,
        );
        let cases = [
            ("2025-03-24T07:59:00Z", vec![]),      // before the first handoff
            ("2025-03-24T08:00:00Z", vec!["ann"]), // 09:00 CET
            ("2025-03-31T06:59:00Z", vec!["ann"]), // 08:59 CEST
            ("2025-03-31T07:00:00Z", vec!["bob"]), // 09:00 CEST
        ];
        for (t, want) in cases {
            assert_eq!(s.on_call_at(utc(t)), want, "at {t}");
        }
        assert_eq!(s.next_handoff(utc("2025-03-25T00:00:00Z")), Some(utc("2025-03-31T07:00:00Z")));
    }

    #[test]
    fn higher_layer_wins_where_it_has_someone_and_overrides_apply() {
        let s = schedule(
            r#"{"id":"p","time_zone":"UTC","layers":[
            {"people":["ann"],"start":"2025-01-01T00:00","every":"daily"},
            {"people":["day"],"start":"2025-01-01T00:00","every":"daily",
             "restrictions":[{"days":"weekdays","from":"09:00","to":"17:00"}]}],
            "overrides":[{"start":"2025-01-06T10:00:00Z","end":"2025-01-06T11:00:00Z","replace":"day","with":"cat"},
                         {"start":"2025-01-06T12:00:00Z","end":"2025-01-06T13:00:00Z","add":"dan"}]}"#,
        );
        let cases = [
            ("2025-01-06T08:00:00Z", vec!["ann"]),
            ("2025-01-06T09:00:00Z", vec!["day"]),
            ("2025-01-06T10:30:00Z", vec!["cat"]),
            ("2025-01-06T12:30:00Z", vec!["day", "dan"]),
            ("2025-01-04T12:00:00Z", vec!["ann"]), // Saturday
        ];
        for (t, want) in cases {
            assert_eq!(s.on_call_at(utc(t)), want, "at {t}");
        }
        let handoffs: Vec<_> = std::iter::successors(Some(utc("2025-01-06T08:00:00Z")), |&t| s.next_handoff(t)).skip(1).take(6).collect();
        let want = ["09:00", "10:00", "11:00", "12:00", "13:00", "17:00"].map(|h| utc(&format!("2025-01-06T{h}:00Z")));
        assert_eq!(handoffs, want);
    }

    #[test]
    fn hour_rotations_count_elapsed_hours() {
        let s = schedule(
            r#"{"id":"p","time_zone":"America/New_York","layers":[
            {"people":["a","b"],"start":"2025-11-01T20:00","every":{"hours":12}}]}"#,
        );
        // 20:00 EDT = 00:00Z; DST ends 2025-11-02 02:00 EDT. Shifts stay 12 real hours.
        let cases = [("2025-11-02T11:59:00Z", "a"), ("2025-11-02T12:00:00Z", "b"), ("2025-11-03T00:00:00Z", "a")];
        for (t, want) in cases {
            assert_eq!(s.on_call_at(utc(t)), vec![want.to_string()], "at {t}");
        }
    }
}
