//! The Reports screen in words and shapes: the period a user picked as a [`ReportQuery`], every
//! figure of a [`Report`] as a [`Table`] of plain strings (what each chart's table shows, and what
//! the screen lists), and the geometry of its SVG charts ([`bars`], [`line`]).
//!
//! Pure and native: no Leptos, no browser, no clock (`now` and the zone are parameters). The
//! figures themselves are [`crate::insight`]'s; nothing here computes a metric.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::engine::time::Zone;
use crate::engine::world::World;
use crate::insight::retro::OpenItem;
use crate::insight::{Bucket, Noise, Report, ReportQuery, Stats, TimerCheck};

/// The periods the screen offers, in days.
pub const PERIOD_DAYS: [i64; 3] = [7, 30, 90];
/// A custom period covers at most this many days.
pub const MAX_CUSTOM_DAYS: i64 = 3_650;

/// A table of words: a caption (its accessible name), column heads and rows of cells.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub caption: String,
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    fn new(caption: impl Into<String>, head: &[&str]) -> Table {
        Table { caption: caption.into(), head: head.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }
}

/// The period chosen on the screen: `choice` is `"7"`, `"30"`, `"90"` or `"custom"` (then
/// `from`/`to` are `YYYY-MM-DD` date inputs, both days included, read in `zone`). The query ends
/// at `now` for a number of days; a custom one may end in the future (nothing counts there yet).
pub fn period_query(choice: &str, from: &str, to: &str, zone: Zone, now: DateTime<Utc>) -> Result<ReportQuery, String> {
    if choice != "custom" {
        let days = choice.parse::<i64>().ok().filter(|d| PERIOD_DAYS.contains(d)).ok_or_else(|| format!("“{choice}” is not a period this screen offers."))?;
        return Ok(ReportQuery { time_zone: zone, ..ReportQuery::last_days(now, days) });
    }
    let date = |text: &str, which: &str| NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| format!("Choose the {which} date."));
    let (first, last) = (date(from, "first")?, date(to, "last")?);
    if last < first {
        return Err("The last day comes before the first.".into());
    }
    if (last - first).num_days() >= MAX_CUSTOM_DAYS {
        return Err(format!("A period covers at most {MAX_CUSTOM_DAYS} days."));
    }
    let start = |d: NaiveDate| zone.instant(d.and_hms_opt(0, 0, 0).expect("midnight exists"));
    Ok(ReportQuery { time_zone: zone, ..ReportQuery::period(start(first), start(last + Duration::days(1))) })
}

/// A duration in seconds as on-call people say it: “45 s”, “4 min”, “4 min 10 s”, “1 h 5 min”,
/// “2 d 3 h”; “—” when there is none.
pub fn duration(seconds: Option<i64>) -> String {
    let Some(s) = seconds else { return "—".into() };
    let s = s.max(0);
    match s {
        s if s < 60 => format!("{s} s"),
        s if s < 3_600 && s % 60 == 0 => format!("{} min", s / 60),
        s if s < 3_600 => format!("{} min {} s", s / 60, s % 60),
        s if s < 86_400 && (s % 3_600) / 60 == 0 => format!("{} h", s / 3_600),
        s if s < 86_400 => format!("{} h {} min", s / 3_600, (s % 3_600) / 60),
        s => format!("{} d {} h", s / 86_400, (s % 86_400) / 3_600),
    }
}

/// A share as a whole percentage (“62 %”), “—” when there was nothing to share.
pub fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "—".into(), |s| format!("{:.0} %", s * 100.0))
}

fn median_p90(s: &Stats) -> [String; 2] {
    [duration(s.median_s), duration(s.p90_s)]
}

/// The headline figures, label then value, in the order the screen shows them.
pub fn headline(r: &Report) -> Vec<(String, String)> {
    let t = &r.totals;
    let q = &r.quality;
    let e = &r.efficiency;
    vec![
        ("Incidents".into(), t.incidents.to_string()),
        ("Still open".into(), t.open.to_string()),
        ("MTTA median".into(), duration(r.mtta.median_s)),
        ("MTTA p90".into(), duration(r.mtta.p90_s)),
        ("MTTR median".into(), duration(r.mttr.median_s)),
        ("MTTR p90".into(), duration(r.mttr.p90_s)),
        ("Escalation rate".into(), format!("{} ({} of {} paged)", percent(r.volume.escalation_rate), t.escalated, t.paged)),
        ("Time to escalation (median)".into(), duration(e.time_to_escalation.median_s)),
        ("Handoff delay (median)".into(), format!("{} ({} without action)", duration(e.handoff_delay.median_s), e.handoffs_without_action)),
        ("Resolution of escalated (median)".into(), duration(e.resolution_of_escalated.median_s)),
        ("First-contact resolution".into(), format!("{} ({})", percent(q.first_contact_resolution_rate), q.first_contact_resolutions)),
        ("Context passed".into(), format!("{} ({} of {} escalations)", percent(q.context_passed_rate), q.context_passed, q.escalations_paged)),
        ("Pages".into(), t.pages.to_string()),
        ("Alerts".into(), t.alerts.to_string()),
    ]
}

/// Efficiency, each with its median and p90.
pub fn efficiency(r: &Report) -> Table {
    let mut t = Table::new("Efficiency: median and p90", &["Figure", "Median", "p90", "Incidents"]);
    let e = &r.efficiency;
    for (name, s) in
        [("Time to escalation", &e.time_to_escalation), ("Handoff delay", &e.handoff_delay), ("Resolution of escalated", &e.resolution_of_escalated)]
    {
        let [m, p] = median_p90(s);
        t.rows.push(vec![name.into(), m, p, s.count.to_string()]);
    }
    t
}

/// MTTA and MTTR per severity.
pub fn by_severity(r: &Report) -> Table {
    let mut t = Table::new("MTTA and MTTR per severity", &["Severity", "Incidents", "MTTA median", "MTTA p90", "MTTR median", "MTTR p90"]);
    for s in &r.by_severity {
        let [am, ap] = median_p90(&s.mtta);
        let [rm, rp] = median_p90(&s.mttr);
        t.rows.push(vec![s.severity.as_str().to_uppercase(), s.incidents.to_string(), am, ap, rm, rp]);
    }
    t
}

/// MTTA and MTTR per policy level.
pub fn by_level(r: &Report) -> Table {
    let mut t = Table::new("MTTA and MTTR per policy level", &["Level", "Acks", "MTTA median", "MTTA p90", "Resolutions", "MTTR median", "MTTR p90"]);
    for l in &r.by_level {
        let [am, ap] = median_p90(&l.mtta);
        let [rm, rp] = median_p90(&l.mttr);
        t.rows.push(vec![format!("Level {}", l.level), l.mtta.count.to_string(), am, ap, l.mttr.count.to_string(), rm, rp]);
    }
    t
}

/// A histogram's bars.
pub fn histogram(caption: &str, buckets: &[Bucket]) -> Table {
    let mut t = Table::new(caption, &["Took", "Incidents"]);
    t.rows = buckets.iter().map(|b| vec![b.label.clone(), b.count.to_string()]).collect();
    t
}

/// The per-day series.
pub fn per_day(r: &Report) -> Table {
    let mut t = Table::new("Per day", &["Day", "Opened", "Escalated", "Resolved", "Pages", "Night pages", "MTTA median"]);
    t.rows = r
        .charts
        .per_day
        .iter()
        .map(|d| {
            vec![
                d.date.format("%a %-d %b").to_string(),
                d.opened.to_string(),
                d.escalated.to_string(),
                d.resolved.to_string(),
                d.pages.to_string(),
                d.night_pages.to_string(),
                duration(d.mtta_median_s),
            ]
        })
        .collect();
    t
}

/// Configured timers beside the real times, with each level's suggestion.
pub fn timers(caption: &str, checks: &[TimerCheck]) -> Table {
    let mut t = Table::new(caption, &["Policy", "Level", "Configured", "Real median", "Real p90", "After the timeout", "Suggestion"]);
    t.rows = checks
        .iter()
        .map(|c| {
            let [m, p] = median_p90(&c.real);
            let configured = if c.configured.is_empty() { "none".to_string() } else { c.configured.clone() };
            vec![
                c.policy_name.clone(),
                c.level.to_string(),
                configured,
                m,
                p,
                format!("{} ({} of {})", percent(c.after_timeout_share), c.after_timeout, c.real.count),
                c.suggestion.clone(),
            ]
        })
        .collect();
    t
}

/// Pages per responder, the flagged ones marked.
pub fn responders(r: &Report) -> Table {
    let mut t = Table::new("Pages per responder", &["Responder", "Pages", "Night pages", "Repeated pages", "Incidents", "Pages a week", "Above the threshold"]);
    t.rows = r
        .fatigue
        .responders
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.pages.to_string(),
                p.night_pages.to_string(),
                p.repeated_pages.to_string(),
                p.incidents.to_string(),
                format!("{:.1}", p.pages_per_week),
                if p.above_threshold { "yes".into() } else { "no".into() },
            ]
        })
        .collect();
    t
}

/// The threshold in words, for the note under the responders.
pub fn threshold_note(r: &Report) -> String {
    let f = &r.fatigue;
    format!(
        "A responder is flagged above {} pages or {} night pages (22:00–07:00 their time) per 7 days: about two pages a day, or sleep broken more than twice a week.",
        f.pages_per_week_threshold, f.night_pages_per_week_threshold
    )
}

/// The noisiest services, rules or dedup keys.
pub fn noise(caption: &str, first: &str, rows: &[Noise]) -> Table {
    let mut t = Table::new(caption, &[first, "Incidents", "Pages", "Alerts"]);
    t.rows = rows.iter().map(|n| vec![n.name.clone(), n.incidents.to_string(), n.pages.to_string(), n.alerts.to_string()]).collect();
    t
}

/// Services or dedup keys escalated more than once.
pub fn repeat_escalations(r: &Report) -> Table {
    let mut t = Table::new("Repeat escalations", &["By", "Value", "Incidents", "Escalations"]);
    t.rows = r.volume.repeat_escalations.iter().map(|x| vec![x.by.clone(), x.value.clone(), x.incidents.to_string(), x.escalations.to_string()]).collect();
    t
}

/// Severity changes after opening, per service.
pub fn severity_accuracy(r: &Report) -> Table {
    let mut t = Table::new("Severity changed after opening, per service", &["Service", "Incidents", "Changed", "Up", "Down", "Back and forth"]);
    t.rows = r
        .severity_accuracy
        .iter()
        .map(|s| vec![s.service.clone(), s.incidents.to_string(), s.changed.to_string(), s.up.to_string(), s.down.to_string(), s.other.to_string()])
        .collect();
    t
}

/// Open action items: what, whose, due, and how late.
pub fn open_items(items: &[OpenItem], world: &World) -> Table {
    let mut t = Table::new("Open action items", &["Action item", "Owner", "Due", "Status", "Incident"]);
    t.rows = items
        .iter()
        .map(|i| {
            let owner = i.owner.as_ref().map(|o| world.person(o).map_or_else(|| o.to_string(), |p| p.name.clone())).unwrap_or_else(|| "nobody yet".into());
            let status = match (i.overdue, i.days_overdue) {
                (true, 1) => "overdue by 1 day".to_string(),
                (true, n) => format!("overdue by {n} days"),
                _ => "open".to_string(),
            };
            vec![i.text.clone(), owner, i.due.map_or_else(|| "—".into(), |d| d.to_string()), status, i.incident.to_string()]
        })
        .collect();
    t
}

/// One bar of a chart, in the chart's own units (its viewBox).
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub label: String,
    /// The value in words, written beside the bar.
    pub text: String,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// A chart's shapes and the size of its viewBox.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub width: f64,
    pub height: f64,
    pub bars: Vec<Bar>,
}

/// Width of every chart's viewBox: drawn at 100 % width, so 320 units fill a 360 px phone.
pub const CHART_WIDTH: f64 = 320.0;
/// Horizontal bars: the label column, each row's height and the gap between rows.
const LABEL_W: f64 = 110.0;
const TEXT_W: f64 = 60.0;
const ROW_H: f64 = 18.0;
const ROW_GAP: f64 = 6.0;

/// Horizontal bars, one row per `(label, value, text)`, longest value full width. A label goes
/// left, the value's words right of its bar; zero is no bar.
pub fn bars(items: &[(String, f64, String)]) -> Chart {
    let max = items.iter().map(|i| i.1).fold(0.0, f64::max);
    let room = CHART_WIDTH - LABEL_W - TEXT_W;
    let bars = items
        .iter()
        .enumerate()
        .map(|(n, (label, value, text))| Bar {
            label: label.clone(),
            text: text.clone(),
            x: LABEL_W,
            y: n as f64 * (ROW_H + ROW_GAP),
            width: if max > 0.0 { room * value.max(0.0) / max } else { 0.0 },
            height: ROW_H,
        })
        .collect();
    Chart { width: CHART_WIDTH, height: (items.len() as f64 * (ROW_H + ROW_GAP) - ROW_GAP).max(ROW_H), bars }
}

/// A line over time: the polyline's points (`"x,y x,y …"`) in a [`CHART_WIDTH`]×`height` box,
/// the highest value at the top, and that highest value.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub width: f64,
    pub height: f64,
    pub points: String,
    pub max: f64,
}

const LINE_H: f64 = 120.0;
const LINE_PAD: f64 = 8.0;

pub fn line(values: &[f64]) -> Line {
    let max = values.iter().copied().fold(0.0, f64::max);
    let step = if values.len() > 1 { (CHART_WIDTH - 2.0 * LINE_PAD) / (values.len() - 1) as f64 } else { 0.0 };
    let points = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let y = LINE_PAD + (LINE_H - 2.0 * LINE_PAD) * (1.0 - if max > 0.0 { v.max(0.0) / max } else { 0.0 });
            format!("{:.1},{:.1}", LINE_PAD + step * i as f64, y)
        })
        .collect::<Vec<_>>()
        .join(" ");
    Line { width: CHART_WIDTH, height: LINE_H, points, max }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
    }

    #[test]
    fn the_period_is_a_number_of_days_up_to_now_or_whole_days_in_the_zone() {
        let q = period_query("7", "", "", Zone::default(), now()).unwrap();
        assert_eq!((q.from, q.to), (now() - Duration::days(7), now()));
        let amsterdam = Zone("Europe/Amsterdam".parse().unwrap());
        let q = period_query("custom", "2026-03-01", "2026-03-02", amsterdam, now()).unwrap();
        // Both days included, midnight to midnight in Amsterdam (UTC+1 in March before the switch).
        assert_eq!(q.from, Utc.with_ymd_and_hms(2026, 2, 28, 23, 0, 0).unwrap());
        assert_eq!(q.to, Utc.with_ymd_and_hms(2026, 3, 2, 23, 0, 0).unwrap());
        assert_eq!(q.time_zone, amsterdam);
        assert_eq!(period_query("custom", "2026-03-02", "2026-03-01", amsterdam, now()).unwrap_err(), "The last day comes before the first.");
        assert_eq!(period_query("custom", "", "2026-03-01", amsterdam, now()).unwrap_err(), "Choose the first date.");
        assert!(period_query("12", "", "", amsterdam, now()).is_err());
        assert!(period_query("custom", "2000-01-01", "2026-03-01", amsterdam, now()).is_err());
    }

    #[test]
    fn durations_and_shares_read_as_people_say_them() {
        let cases = [
            (None, "—"),
            (Some(45), "45 s"),
            (Some(240), "4 min"),
            (Some(250), "4 min 10 s"),
            (Some(3_600), "1 h"),
            (Some(3_900), "1 h 5 min"),
            (Some(183_600), "2 d 3 h"),
        ];
        for (s, words) in cases {
            assert_eq!(duration(s), words, "{s:?}");
        }
        assert_eq!(percent(Some(0.625)), "62 %");
        assert_eq!(percent(Some(1.0)), "100 %");
        assert_eq!(percent(None), "—");
    }

    #[test]
    fn bars_scale_to_the_longest_and_stay_inside_the_box() {
        let c = bars(&[("a".into(), 10.0, "10".into()), ("b".into(), 5.0, "5".into()), ("c".into(), 0.0, "0".into())]);
        assert_eq!(c.bars.len(), 3);
        let room = CHART_WIDTH - LABEL_W - TEXT_W;
        assert_eq!(c.bars[0].width, room);
        assert_eq!(c.bars[1].width, room / 2.0);
        assert_eq!(c.bars[2].width, 0.0);
        assert_eq!(c.bars[2].y, 2.0 * (ROW_H + ROW_GAP));
        assert_eq!(c.height, 3.0 * ROW_H + 2.0 * ROW_GAP);
        for b in &c.bars {
            assert!(b.x + b.width + TEXT_W <= c.width);
        }
        // Nothing at all draws no bar rather than dividing by zero.
        assert!(bars(&[("a".into(), 0.0, "0".into())]).bars.iter().all(|b| b.width == 0.0));
    }

    #[test]
    fn a_line_runs_from_the_left_edge_to_the_right_with_the_highest_at_the_top() {
        let l = line(&[0.0, 2.0, 1.0]);
        assert_eq!(l.points, "8.0,112.0 160.0,8.0 312.0,60.0");
        assert_eq!(l.max, 2.0);
        assert_eq!(line(&[3.0]).points, "8.0,8.0");
        assert_eq!(line(&[]).points, "");
    }
}
