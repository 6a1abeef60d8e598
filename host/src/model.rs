//! What checks report and what leaves the agent.

use serde::{Deserialize, Serialize};

/// How a sample becomes a series (mirrors the WIT `metric-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Sent as is.
    Gauge,
    /// Events during the run, sent as is.
    Count,
    /// Cumulative counter sent as its per-second change.
    Rate,
    /// Cumulative counter sent as its increase.
    MonotonicCount,
    /// One value of the run's distribution, sent as its aggregates and percentiles.
    Histogram,
    /// One value of a sketch, sent as such where the backend takes sketches.
    Distribution,
    /// One member of a set, sent as the run's number of distinct members.
    Set,
}

/// One measurement as a check submitted it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// Metric name, e.g. `system.cpu.user`.
    pub name: String,
    /// How the host treats the value.
    pub kind: MetricKind,
    /// The value.
    pub value: f64,
    /// `key:value` tags.
    pub tags: Vec<String>,
    /// When it was measured (Unix milliseconds), if not at the run's time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp_ms: Option<i64>,
}

/// Longest metric name accepted.
pub const MAX_NAME_LEN: usize = 200;
/// Most tags one sample may carry.
pub const MAX_TAGS: usize = 64;
/// Longest tag accepted.
pub const MAX_TAG_LEN: usize = 200;

impl Sample {
    /// Why the sample cannot be accepted, if it cannot.
    pub fn problem(&self) -> Option<String> {
        if let Some(problem) = name_problem(&self.name) {
            return Some(problem);
        }
        if !self.value.is_finite() {
            return Some(format!(
                "{}: value {} is not a finite number",
                self.name, self.value
            ));
        }
        tags_problem(&self.name, &self.tags)
    }
}

/// Why `name` cannot name a metric or service check, if it cannot.
fn name_problem(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    (!ok).then(|| {
        format!(
            "metric name {:?}: expected 1 to {MAX_NAME_LEN} of A-Z a-z 0-9 . _ -",
            truncate(name)
        )
    })
}

/// Why `tags` cannot be carried, if they cannot.
fn tags_problem(name: &str, tags: &[String]) -> Option<String> {
    if tags.len() > MAX_TAGS {
        return Some(format!("{name}: {} tags, at most {MAX_TAGS}", tags.len()));
    }
    tags.iter()
        .find(|t| t.is_empty() || t.len() > MAX_TAG_LEN || t.chars().any(char::is_control))
        .map(|t| {
            format!(
                "{name}: tag {:?} is empty, too long or has control characters",
                truncate(t)
            )
        })
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(60) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Health verdict of a service check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Healthy.
    Ok,
    /// Degraded.
    Warning,
    /// Failing.
    Critical,
    /// Could not tell.
    Unknown,
}

impl Status {
    /// Datadog's number for it: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    pub fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Warning => 1,
            Self::Critical => 2,
            Self::Unknown => 3,
        }
    }

    /// The status Datadog numbers `code`.
    pub fn from_code(code: u8) -> Option<Self> {
        [Self::Ok, Self::Warning, Self::Critical, Self::Unknown]
            .get(usize::from(code))
            .copied()
    }

    /// Upper-case name, as Datadog prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Warning => "WARNING",
            Self::Critical => "CRITICAL",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// A service check as it leaves the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceCheck {
    /// e.g. `mysql.can_connect` or `wasmon.check.status`.
    pub name: String,
    /// The verdict.
    pub status: Status,
    /// Why, in words.
    pub message: String,
    /// Tags, host and instance tags included.
    pub tags: Vec<String>,
    /// Unix milliseconds of the run.
    pub timestamp_ms: i64,
}

impl ServiceCheck {
    /// Why the service check cannot be accepted, if it cannot (its name and tags follow the
    /// rules of samples').
    pub fn problem(&self) -> Option<String> {
        name_problem(&self.name).or_else(|| tags_problem(&self.name, &self.tags))
    }

    /// The service check as a series, for backends that know no service checks (as Telegraf
    /// and Vector carry them): a gauge named after the check, valued by [`Status::code`].
    pub fn as_series(&self) -> Series {
        Series {
            name: self.name.clone(),
            kind: SeriesKind::Gauge,
            value: f64::from(self.status.code()),
            timestamp_ms: self.timestamp_ms,
            tags: self.tags.clone(),
        }
    }
}

/// An event (Datadog's), as applications send them over DogStatsD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Its title.
    pub title: String,
    /// Its text.
    pub text: String,
    /// Unix milliseconds when it happened.
    pub timestamp_ms: i64,
    /// `normal` or `low`.
    pub priority: Option<String>,
    /// `error`, `warning`, `info` or `success`.
    pub alert_type: Option<String>,
    /// Events with one key are grouped.
    pub aggregation_key: Option<String>,
    /// Where it came from, e.g. `jenkins`.
    pub source_type_name: Option<String>,
    /// Tags, `host:` included.
    pub tags: Vec<String>,
}

/// Longest aggregation key or source type of an event (Datadog's limit).
pub const MAX_EVENT_KEY_LEN: usize = 100;

impl Event {
    /// Why the event cannot be accepted, if it cannot: a blank title, an aggregation key or
    /// source type too long or with control characters, or bad tags.
    pub fn problem(&self) -> Option<String> {
        if self.title.trim().is_empty() {
            return Some("an event's title is blank".into());
        }
        let what = format!("event {:?}", truncate(&self.title));
        let keys = [
            ("aggregation key", &self.aggregation_key),
            ("source type", &self.source_type_name),
        ];
        for (key, value) in keys {
            if let Some(v) = value
                && (v.len() > MAX_EVENT_KEY_LEN || v.chars().any(char::is_control))
            {
                return Some(format!(
                    "{what}: {key} {:?} is longer than {MAX_EVENT_KEY_LEN} bytes or has control characters",
                    truncate(v)
                ));
            }
        }
        tags_problem(&what, &self.tags)
    }
}

/// The kind of a series as backends know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesKind {
    /// A value at a point in time.
    Gauge,
    /// A number of events since the previous point.
    Count,
    /// Events per second.
    Rate,
}

/// One point of one series, ready for a sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Metric name.
    pub name: String,
    /// Kind, as backends know it.
    pub kind: SeriesKind,
    /// The value.
    pub value: f64,
    /// Unix milliseconds, shared by every series of one run.
    pub timestamp_ms: i64,
    /// Sorted `key:value` tags, `host:` included.
    pub tags: Vec<String>,
}

/// One window of a distribution, as Datadog's sketches intake takes it (the Datadog agent's
/// bins), with the series a backend that takes no sketches gets instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sketch {
    /// Metric name.
    pub name: String,
    /// Sorted tags, `host:` included.
    pub tags: Vec<String>,
    /// Unix milliseconds of the window.
    pub timestamp_ms: i64,
    /// How many values.
    pub count: u64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Their sum.
    pub sum: f64,
    /// Bin keys, in the Datadog agent's mapping, ascending.
    pub keys: Vec<i32>,
    /// How many values each bin holds.
    pub counts: Vec<u32>,
    /// Its aggregates and percentiles as series.
    pub summary: Vec<Series>,
}

/// What one run of one instance (or one window of pushed metrics) produced, after aggregation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload {
    /// Series.
    pub series: Vec<Series>,
    /// Service checks.
    pub service_checks: Vec<ServiceCheck>,
    /// Events.
    pub events: Vec<Event>,
    /// Distributions.
    pub sketches: Vec<Sketch>,
}

impl Payload {
    /// Its series, and what a backend that takes nothing else gets in their place: service
    /// checks as gauges ([`ServiceCheck::as_series`]), distributions as their summaries. Events
    /// are left out.
    pub fn all_series(&self) -> impl Iterator<Item = Series> + '_ {
        self.metric_series()
            .cloned()
            .chain(self.service_checks.iter().map(ServiceCheck::as_series))
    }

    /// The series, then the distributions' summaries: every metric, as a person reads them.
    pub fn metric_series(&self) -> impl Iterator<Item = &Series> + '_ {
        self.series
            .iter()
            .chain(self.sketches.iter().flat_map(|s| &s.summary))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str, value: f64, tags: &[&str]) -> Sample {
        Sample {
            name: name.into(),
            kind: MetricKind::Gauge,
            value,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            timestamp_ms: None,
        }
    }

    #[test]
    fn pushed_lines_follow_the_same_rules() {
        assert_eq!(wasmon_dogstatsd::MAX_NAME_LEN, MAX_NAME_LEN);
        assert_eq!(wasmon_dogstatsd::MAX_TAGS, MAX_TAGS);
        assert_eq!(wasmon_dogstatsd::MAX_TAG_LEN, MAX_TAG_LEN);
    }

    #[test]
    fn lies_are_caught() {
        assert_eq!(sample("a.b_c-d", 1.0, &["k:v"]).problem(), None);
        assert!(sample("", 1.0, &[]).problem().is_some());
        assert!(sample("has space", 1.0, &[]).problem().is_some());
        assert!(
            sample("a", f64::NAN, &[])
                .problem()
                .unwrap()
                .contains("finite")
        );
        assert!(sample("a", f64::INFINITY, &[]).problem().is_some());
        assert!(sample("a", 1.0, &[""]).problem().is_some());
        assert!(sample("a", 1.0, &["a\nb"]).problem().is_some());
        let many: Vec<String> = (0..65).map(|i| format!("t:{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(
            sample("a", 1.0, &refs)
                .problem()
                .unwrap()
                .contains("65 tags")
        );
        assert!(sample(&"x".repeat(201), 1.0, &[]).problem().is_some());
    }
}
