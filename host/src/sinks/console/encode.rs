//! Series and service checks as lines, in tcollector's `metric timestamp value tag=value`
//! form.

use crate::model::{Series, ServiceCheck};

/// `name timestamp value key=value ...` with the timestamp in seconds (milliseconds when
/// not whole) and the kind as a final `kind=` field.
pub fn format_series(s: &Series) -> String {
    let mut line = format!("{} {} {}", s.name, seconds(s.timestamp_ms), s.value);
    for tag in &s.tags {
        line.push(' ');
        line.push_str(&tag_field(tag));
    }
    line.push_str(match s.kind {
        crate::model::SeriesKind::Gauge => " kind=gauge",
        crate::model::SeriesKind::Count => " kind=count",
        crate::model::SeriesKind::Rate => " kind=rate",
    });
    line
}

/// `SERVICE_CHECK name timestamp STATUS key=value ... "message"`.
pub fn format_service_check(c: &ServiceCheck) -> String {
    let mut line = format!(
        "SERVICE_CHECK {} {} {}",
        c.name,
        seconds(c.timestamp_ms),
        c.status.as_str()
    );
    for tag in &c.tags {
        line.push(' ');
        line.push_str(&tag_field(tag));
    }
    if !c.message.is_empty() {
        line.push_str(&format!(" {:?}", c.message));
    }
    line
}

fn seconds(ms: i64) -> String {
    if ms % 1000 == 0 {
        (ms / 1000).to_string()
    } else {
        format!("{:.3}", ms as f64 / 1000.0)
    }
}

/// `key:value` becomes `key=value`; a bare tag stays as it is.
fn tag_field(tag: &str) -> String {
    match tag.split_once(':') {
        Some((k, v)) => format!("{k}={v}"),
        None => tag.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SeriesKind, Status};

    #[test]
    fn series_line() {
        let s = Series {
            name: "system.load.1".into(),
            kind: SeriesKind::Gauge,
            value: 0.25,
            timestamp_ms: 1_700_000_000_000,
            tags: vec!["host:h".into(), "mount_point:/a:b".into(), "bare".into()],
        };
        assert_eq!(
            format_series(&s),
            "system.load.1 1700000000 0.25 host=h mount_point=/a:b bare kind=gauge"
        );
        let s = Series {
            timestamp_ms: 1_700_000_000_500,
            kind: SeriesKind::Rate,
            tags: vec![],
            ..s
        };
        assert_eq!(
            format_series(&s),
            "system.load.1 1700000000.500 0.25 kind=rate"
        );
    }

    #[test]
    fn service_check_line() {
        let c = ServiceCheck {
            name: "wasmon.check.status".into(),
            status: Status::Critical,
            message: "trapped: \"x\"".into(),
            tags: vec!["check:trap".into()],
            timestamp_ms: 1_000,
        };
        assert_eq!(
            format_service_check(&c),
            "SERVICE_CHECK wasmon.check.status 1 CRITICAL check=trap \"trapped: \\\"x\\\"\""
        );
    }
}
