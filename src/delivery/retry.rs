//! When to try a delivery again, like Alertmanager's notifier: network errors, 5xx and 429 are
//! retried with backoff (0.5 s × 1.5ⁿ, at most 60 s between attempts) until a time limit (10 minutes
//! by default) counted from the first attempt; any other 4xx is final (the receiver refused the
//! message; sending it again would only storm). A `no-cors` response is opaque: it counts as
//! delivered, unverified. No jitter: the same attempts give the same decisions.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};

/// What one attempt got back, as the adapter saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// No response: offline, DNS, TLS, connection refused, or a CORS refusal (which a page cannot
    /// tell from a network error).
    NetworkError(String),
    /// A readable HTTP status. `retry_after` is the response's `Retry-After`, when it was readable;
    /// a retry never comes earlier than it says.
    Status { code: u16, retry_after: Option<TimeDelta> },
    /// A `no-cors` request came back opaque (status 0): the request left, the answer is invisible.
    Opaque,
}

impl AttemptOutcome {
    pub fn status(code: u16) -> AttemptOutcome {
        AttemptOutcome::Status { code, retry_after: None }
    }
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptOutcome::NetworkError(e) if e.is_empty() => f.write_str("network error"),
            AttemptOutcome::NetworkError(e) => write!(f, "network error: {e}"),
            AttemptOutcome::Status { code, .. } => write!(f, "HTTP {code}"),
            AttemptOutcome::Opaque => f.write_str("sent; the receiver's answer cannot be read (no-cors)"),
        }
    }
}

/// What to do after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Done. `verified: false` for an opaque (`no-cors`) response: say so in the delivery log.
    Delivered { verified: bool },
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// Stop: the delivery goes to the failed list (with a retry button).
    GiveUp(GiveUpReason),
}

/// Why a delivery was given up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GiveUpReason {
    /// A final status: 4xx other than 429, or a status that is neither success nor retryable.
    Refused { code: u16 },
    /// Still failing when the next try would start past the time limit.
    TimeLimit { attempts: u32, limit: TimeDelta, last: AttemptOutcome },
}

/// In words, to read on its own ("refused with HTTP 400 (not retried …)") and after "gave up: ".
impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GiveUpReason::Refused { code } if (400..500).contains(code) => {
                write!(f, "refused with HTTP {code} (not retried: check the URL and the settings)")
            }
            GiveUpReason::Refused { code } => write!(f, "answered HTTP {code}, which is neither success nor worth retrying (not retried)"),
            GiveUpReason::TimeLimit { attempts, limit, last } => {
                let attempt_word = if *attempts == 1 { "attempt" } else { "attempts" };
                write!(f, "no success in {attempts} {attempt_word} within the {} retry limit (last: {last})", words(*limit))
            }
        }
    }
}

fn words(d: TimeDelta) -> String {
    let s = d.num_seconds();
    match (s / 60, s % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// Backoff and time limit. [`RetryPolicy::default`] is Alertmanager's: 0.5 s × 1.5ⁿ, at most 60 s
/// apart, for 10 minutes.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Wait after the first failed attempt.
    pub initial: TimeDelta,
    /// Each further wait is this many times the one before.
    pub factor: f64,
    /// The longest wait between two attempts.
    pub max_delay: TimeDelta,
    /// No attempt starts later than this after the first one.
    pub time_limit: TimeDelta,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy { initial: TimeDelta::milliseconds(500), factor: 1.5, max_delay: TimeDelta::seconds(60), time_limit: TimeDelta::minutes(10) }
    }
}

impl RetryPolicy {
    /// The default backoff with another time limit.
    pub fn with_time_limit(time_limit: TimeDelta) -> RetryPolicy {
        RetryPolicy { time_limit, ..RetryPolicy::default() }
    }

    /// The wait after failed attempt number `attempt_no` (1-based; 0 counts as 1).
    pub fn backoff(&self, attempt_no: u32) -> TimeDelta {
        let n = attempt_no.saturating_sub(1).min(1_000) as i32;
        let ms = self.initial.num_milliseconds() as f64 * self.factor.powi(n);
        let cap = self.max_delay.num_milliseconds();
        if ms.is_finite() && ms < cap as f64 {
            TimeDelta::milliseconds(ms.max(0.0).round() as i64)
        } else {
            TimeDelta::milliseconds(cap)
        }
    }

    /// Decide after attempt number `attempt_no` (1-based) ended with `outcome` at `now`; the first
    /// attempt started at `first_attempt_at`.
    pub fn next_attempt(&self, attempt_no: u32, outcome: &AttemptOutcome, first_attempt_at: DateTime<Utc>, now: DateTime<Utc>) -> Decision {
        let retry_after = match outcome {
            AttemptOutcome::Opaque | AttemptOutcome::Status { code: 0, .. } => return Decision::Delivered { verified: false },
            AttemptOutcome::Status { code: 200..=299, .. } => return Decision::Delivered { verified: true },
            AttemptOutcome::Status { code, retry_after } if *code == 429 || (500..=599).contains(code) => *retry_after,
            AttemptOutcome::Status { code, .. } => return Decision::GiveUp(GiveUpReason::Refused { code: *code }),
            AttemptOutcome::NetworkError(_) => None,
        };
        let wait = retry_after.map_or(self.backoff(attempt_no), |r| r.max(self.backoff(attempt_no)));
        let Some(at) = now.checked_add_signed(wait) else {
            return Decision::GiveUp(GiveUpReason::TimeLimit { attempts: attempt_no.max(1), limit: self.time_limit, last: outcome.clone() });
        };
        if at - first_attempt_at > self.time_limit {
            return Decision::GiveUp(GiveUpReason::TimeLimit { attempts: attempt_no.max(1), limit: self.time_limit, last: outcome.clone() });
        }
        Decision::RetryAt(at)
    }
}

/// [`RetryPolicy::next_attempt`] with the default policy.
pub fn next_attempt(attempt_no: u32, outcome: &AttemptOutcome, first_attempt_at: DateTime<Utc>, now: DateTime<Utc>) -> Decision {
    RetryPolicy::default().next_attempt(attempt_no, outcome, first_attempt_at, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-03-01T03:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn ms(n: i64) -> TimeDelta {
        TimeDelta::milliseconds(n)
    }

    #[test]
    fn backoff_grows_by_half_and_caps_at_a_minute() {
        let p = RetryPolicy::default();
        let waits: Vec<i64> = (1..=12).map(|n| p.backoff(n).num_milliseconds()).collect();
        assert_eq!(waits, vec![500, 750, 1125, 1688, 2531, 3797, 5695, 8543, 12814, 19222, 28833, 43249]);
        assert_eq!(p.backoff(13), TimeDelta::seconds(60), "500 × 1.5¹² ≈ 64.9 s, capped");
        assert_eq!(p.backoff(u32::MAX), TimeDelta::seconds(60));
        assert_eq!(p.backoff(0), ms(500));
    }

    #[test]
    fn every_branch() {
        let now = t0() + TimeDelta::seconds(5);
        let cases: Vec<(AttemptOutcome, Decision)> = vec![
            (AttemptOutcome::status(200), Decision::Delivered { verified: true }),
            (AttemptOutcome::status(202), Decision::Delivered { verified: true }),
            (AttemptOutcome::status(204), Decision::Delivered { verified: true }),
            (AttemptOutcome::Opaque, Decision::Delivered { verified: false }),
            (AttemptOutcome::status(0), Decision::Delivered { verified: false }),
            (AttemptOutcome::NetworkError("Failed to fetch".into()), Decision::RetryAt(now + ms(750))),
            (AttemptOutcome::status(500), Decision::RetryAt(now + ms(750))),
            (AttemptOutcome::status(503), Decision::RetryAt(now + ms(750))),
            (AttemptOutcome::status(429), Decision::RetryAt(now + ms(750))),
            (AttemptOutcome::Status { code: 429, retry_after: Some(TimeDelta::seconds(30)) }, Decision::RetryAt(now + TimeDelta::seconds(30))),
            (AttemptOutcome::Status { code: 503, retry_after: Some(ms(100)) }, Decision::RetryAt(now + ms(750))),
            (AttemptOutcome::status(400), Decision::GiveUp(GiveUpReason::Refused { code: 400 })),
            (AttemptOutcome::status(401), Decision::GiveUp(GiveUpReason::Refused { code: 401 })),
            (AttemptOutcome::status(404), Decision::GiveUp(GiveUpReason::Refused { code: 404 })),
            (AttemptOutcome::status(408), Decision::GiveUp(GiveUpReason::Refused { code: 408 })),
            (AttemptOutcome::status(302), Decision::GiveUp(GiveUpReason::Refused { code: 302 })),
            (AttemptOutcome::status(600), Decision::GiveUp(GiveUpReason::Refused { code: 600 })),
        ];
        for (outcome, expected) in cases {
            assert_eq!(next_attempt(2, &outcome, t0(), now), expected, "{outcome:?}");
        }
    }

    #[test]
    fn gives_up_when_the_next_try_would_pass_the_time_limit() {
        let p = RetryPolicy::default();
        let err = AttemptOutcome::status(502);
        // Just inside: 9 min 59.5 s + 0.5 s = exactly 10 min.
        let now = t0() + TimeDelta::minutes(10) - ms(500);
        assert_eq!(p.next_attempt(1, &err, t0(), now), Decision::RetryAt(t0() + TimeDelta::minutes(10)));
        let now = now + ms(1);
        let decision = p.next_attempt(1, &err, t0(), now);
        assert_eq!(decision, Decision::GiveUp(GiveUpReason::TimeLimit { attempts: 1, limit: TimeDelta::minutes(10), last: err.clone() }));
        // A Retry-After beyond the limit gives up at once.
        let later = AttemptOutcome::Status { code: 429, retry_after: Some(TimeDelta::minutes(11)) };
        assert!(matches!(p.next_attempt(1, &later, t0(), t0()), Decision::GiveUp(GiveUpReason::TimeLimit { .. })));
        // A shorter, configured limit.
        let short = RetryPolicy::with_time_limit(TimeDelta::seconds(1));
        assert_eq!(short.next_attempt(1, &err, t0(), t0()), Decision::RetryAt(t0() + ms(500)));
        assert!(matches!(short.next_attempt(2, &err, t0(), t0() + ms(500)), Decision::GiveUp(_)));
    }

    #[test]
    fn a_run_of_failures_then_success_is_delivered_once() {
        // 500 then 200: one retry, then delivered.
        let first = t0();
        let retry_at = match next_attempt(1, &AttemptOutcome::status(500), first, first) {
            Decision::RetryAt(t) => t,
            other => panic!("{other:?}"),
        };
        assert_eq!(retry_at, first + ms(500));
        assert_eq!(next_attempt(2, &AttemptOutcome::status(200), first, retry_at), Decision::Delivered { verified: true });
        // Offline the whole time: attempts march on until ten minutes are used up.
        let (mut n, mut now) = (1, first);
        while let Decision::RetryAt(t) = next_attempt(n, &AttemptOutcome::NetworkError(String::new()), first, now) {
            assert!(t > now && t - first <= TimeDelta::minutes(10));
            n += 1;
            now = t;
        }
        assert_eq!(n, 20, "12 growing waits (≈ 2 min 9 s), then 7 a minute apart; an 8th would pass 10 min");
    }

    #[test]
    fn reasons_read_as_words() {
        let cases = [
            (GiveUpReason::Refused { code: 400 }, "refused with HTTP 400 (not retried: check the URL and the settings)"),
            (GiveUpReason::Refused { code: 404 }, "refused with HTTP 404 (not retried: check the URL and the settings)"),
            (GiveUpReason::Refused { code: 302 }, "answered HTTP 302, which is neither success nor worth retrying (not retried)"),
            (
                GiveUpReason::TimeLimit { attempts: 10, limit: TimeDelta::minutes(10), last: AttemptOutcome::status(502) },
                "no success in 10 attempts within the 10 min retry limit (last: HTTP 502)",
            ),
            (
                GiveUpReason::TimeLimit { attempts: 21, limit: TimeDelta::minutes(10), last: AttemptOutcome::NetworkError("Failed to fetch".into()) },
                "no success in 21 attempts within the 10 min retry limit (last: network error: Failed to fetch)",
            ),
            (
                GiveUpReason::TimeLimit {
                    attempts: 1,
                    limit: TimeDelta::seconds(90),
                    last: AttemptOutcome::Status { code: 429, retry_after: Some(TimeDelta::minutes(5)) },
                },
                "no success in 1 attempt within the 1 min 30 s retry limit (last: HTTP 429)",
            ),
            (
                GiveUpReason::TimeLimit { attempts: 3, limit: TimeDelta::seconds(45), last: AttemptOutcome::NetworkError(String::new()) },
                "no success in 3 attempts within the 45 s retry limit (last: network error)",
            ),
        ];
        for (reason, want) in cases {
            let text = reason.to_string();
            assert_eq!(text, want);
            for debug in ["{", "}", "TimeDelta", "TimeLimit", "Refused", "Status", "secs", "None"] {
                assert!(!text.contains(debug), "{text:?} holds {debug:?}");
            }
        }
        assert_eq!(AttemptOutcome::Opaque.to_string(), "sent; the receiver's answer cannot be read (no-cors)");
    }
}
