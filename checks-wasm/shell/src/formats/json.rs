//! `json`: Open-Falcon style objects, one per line or as one array: `metric`, `value`,
//! `tags` (`"k=v,k2=v2"`), `timestamp`, `counterType` (`GAUGE`, or `COUNTER` sent as a rate),
//! and `endpoint`/`step`, which are accepted and ignored (the agent knows its host and interval).

use serde::Deserialize;
use serde_json::Value;
use wasmon_sdk::MetricKind;

use super::{Parsed, Point};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FalconPoint {
    metric: String,
    value: Value,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    counter_type: Option<String>,
    #[serde(default, rename = "timestamp")]
    _timestamp: Option<Value>,
    #[serde(default, rename = "endpoint")]
    _endpoint: Option<String>,
    #[serde(default, rename = "step")]
    _step: Option<Value>,
}

/// Parses the output.
pub fn parse(output: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let trimmed = output.trim();
    if trimmed.starts_with('[') {
        match serde_json::from_str::<Vec<Value>>(trimmed) {
            Ok(items) => items
                .into_iter()
                .for_each(|item| add(&mut parsed, &item.to_string(), item.clone())),
            Err(e) => parsed.invalid(trimmed, format!("not a JSON array: {e}")),
        }
        return parsed;
    }
    for line in trimmed.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match serde_json::from_str::<Value>(line) {
            Ok(item) => add(&mut parsed, line, item),
            Err(e) => parsed.invalid(line, format!("not JSON: {e}")),
        }
    }
    parsed
}

fn add(parsed: &mut Parsed, text: &str, item: Value) {
    match point(item) {
        Ok(p) => parsed.points.push(p),
        Err(reason) => parsed.invalid(text, reason),
    }
}

fn point(item: Value) -> Result<Point, String> {
    let p: FalconPoint = serde_json::from_value(item).map_err(|e| e.to_string())?;
    let value = match &p.value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .filter(|v| v.is_finite())
    .ok_or_else(|| format!("value {} is not a number", p.value))?;
    let kind = match p
        .counter_type
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("GAUGE") => MetricKind::Gauge,
        Some("COUNTER") => MetricKind::Rate,
        Some(other) => return Err(format!("counterType {other:?}: expected GAUGE or COUNTER")),
    };
    let mut tags = Vec::new();
    for tag in p.tags.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (k, v) = tag
            .split_once('=')
            .ok_or_else(|| format!("tag {tag:?} is not k=v"))?;
        tags.push(format!("{}:{}", k.trim(), v.trim()));
    }
    if p.metric.is_empty() {
        return Err("metric is empty".into());
    }
    Ok(Point {
        name: p.metric,
        kind,
        value,
        tags,
        timestamp_ms: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_arrays() {
        let lines = r#"{"endpoint":"h","metric":"app.qps","value":12.5,"tags":"idc=a,app=b","timestamp":1700000000,"counterType":"GAUGE","step":60}
{"metric":"app.requests","value":"100","counterType":"COUNTER"}
{"metric":"bad","value":"x"}
not json"#;
        let p = parse(lines);
        assert_eq!(p.points.len(), 2);
        assert_eq!(p.points[0].tags, ["idc:a", "app:b"]);
        assert_eq!(
            (p.points[1].kind, p.points[1].value),
            (MetricKind::Rate, 100.0)
        );
        assert_eq!(p.invalid.len(), 2);
        let array = r#"[{"metric":"a","value":1},{"metric":"b","value":2,"counterType":"DERIVE"}]"#;
        let p = parse(array);
        assert_eq!(p.points.len(), 1);
        assert!(p.invalid[0].reason.contains("DERIVE"));
    }
}
