//! `nagios`: a plugin's exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN) becomes a service
//! check named `metric_name` with the first output line as its message; perfdata
//! (`'label'=value[UOM];warn;crit;min;max`) becomes gauges `<metric_name>.<label>`, units
//! normalised to seconds and bytes, `c` counters sent as monotonic counts. A plugin that cannot
//! be run is UNKNOWN with the reason, as Nagios reports it.

use wasmon_sdk::{MetricKind, Status};

use super::{Parsed, Point, number};

/// A plugin that could not be started: UNKNOWN, saying why.
pub fn not_run(metric_name: &str, why: &str) -> Parsed {
    Parsed {
        service_check: Some((metric_name.to_string(), Status::Unknown, why.to_string())),
        ..Parsed::default()
    }
}

/// Parses a plugin's output and exit; `stderr` says why a shell could not run it.
pub fn parse(
    output: &str,
    stderr: &str,
    metric_name: &str,
    exit_code: Option<i32>,
    timed_out: bool,
) -> Parsed {
    let mut parsed = Parsed::default();
    let mut lines = output.lines();
    let first = lines.next().unwrap_or_default();
    let (message, mut perfdata) = match first.split_once('|') {
        Some((text, perf)) => (text.trim().to_string(), vec![perf.to_string()]),
        None => (first.trim().to_string(), Vec::new()),
    };
    // Long output: perfdata starts after the first `|` of a later line and runs to the end.
    let mut in_perf = false;
    for line in lines {
        if in_perf {
            perfdata.push(line.to_string());
        } else if let Some((_, perf)) = line.split_once('|') {
            in_perf = true;
            perfdata.push(perf.to_string());
        }
    }
    let status = match (timed_out, exit_code) {
        (true, _) => Status::Critical,
        (false, Some(0)) => Status::Ok,
        (false, Some(1)) => Status::Warning,
        (false, Some(2)) => Status::Critical,
        _ => Status::Unknown,
    };
    let message = match exit_code {
        _ if timed_out => format!("plugin timed out; {message}"),
        // A shell's "cannot execute" and "not found" (`shell: true`), before the plugin said
        // anything.
        Some(code @ (126 | 127)) if message.is_empty() => {
            match stderr.lines().map(str::trim).rfind(|l| !l.is_empty()) {
                Some(why) => format!("cannot run the plugin (exit {code}): {why}"),
                None => format!("cannot run the plugin (exit {code})"),
            }
        }
        _ => message,
    };
    parsed.service_check = Some((metric_name.to_string(), status, message));
    for chunk in &perfdata {
        for item in split_perfdata(chunk) {
            match perf_item(&item, metric_name) {
                Ok(Some(point)) => parsed.points.push(point),
                Ok(None) => {}
                Err(reason) => parsed.invalid(&item, reason),
            }
        }
    }
    parsed
}

/// Splits perfdata on spaces outside single-quoted labels.
fn split_perfdata(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    items.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        items.push(current);
    }
    items
}

/// One `label=value[UOM];...` item; `Ok(None)` for an unknown (`U`) value.
fn perf_item(item: &str, prefix: &str) -> Result<Option<Point>, String> {
    let (label, rest) = item.rsplit_once('=').ok_or("expected label=value")?;
    let label = label.trim_matches('\'').replace("''", "'");
    let value_uom = rest.split(';').next().unwrap_or_default();
    if value_uom == "U" {
        return Ok(None);
    }
    let split = value_uom
        .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
        .unwrap_or(value_uom.len());
    let (value, uom) = value_uom.split_at(split);
    let value = number(value)?;
    let (factor, kind) = match uom.to_ascii_lowercase().as_str() {
        "" | "%" => (1.0, MetricKind::Gauge),
        "s" => (1.0, MetricKind::Gauge),
        "ms" => (1e-3, MetricKind::Gauge),
        "us" => (1e-6, MetricKind::Gauge),
        "b" => (1.0, MetricKind::Gauge),
        "kb" => (1024.0, MetricKind::Gauge),
        "mb" => (1024.0 * 1024.0, MetricKind::Gauge),
        "gb" => (1024.0 * 1024.0 * 1024.0, MetricKind::Gauge),
        "tb" => (1024.0 * 1024.0 * 1024.0 * 1024.0, MetricKind::Gauge),
        "c" => (1.0, MetricKind::MonotonicCount),
        other => return Err(format!("unknown unit {other:?}")),
    };
    Ok(Some(Point {
        name: format!("{prefix}.{}", metric_part(&label)),
        kind,
        value: value * factor,
        tags: vec![format!("label:{label}")],
        timestamp_ms: None,
    }))
}

/// A label as a metric name part: other characters become `_`.
fn metric_part(label: &str) -> String {
    let part: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if part.is_empty() { "_".into() } else { part }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(p: &Parsed, name: &str) -> f64 {
        p.points
            .iter()
            .find(|x| x.name == name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", p.points))
            .value
    }

    #[test]
    fn check_load_output() {
        let out = "LOAD OK - total load average: 0.10, 0.20, 0.30|load1=0.100;5.000;10.000;0; load5=0.200;4.000;6.000;0; load15=0.300;3.000;4.000;0;\n";
        let p = parse(out, "", "nagios.load", Some(0), false);
        let (name, status, message) = p.service_check.clone().unwrap();
        assert_eq!((name.as_str(), status), ("nagios.load", Status::Ok));
        assert_eq!(message, "LOAD OK - total load average: 0.10, 0.20, 0.30");
        assert_eq!(value(&p, "nagios.load.load5"), 0.2);
        assert!(p.invalid.is_empty());
    }

    #[test]
    fn check_disk_units_and_quoted_labels() {
        let out = "DISK CRITICAL - free space: / 100 MB (1% inode=90%);| /=9800MB;5000;9000;0;9900 'my disk'=1.5GB;;;0;10 \n";
        let p = parse(out, "", "nagios.disk", Some(2), false);
        assert_eq!(p.service_check.as_ref().unwrap().1, Status::Critical);
        assert_eq!(value(&p, "nagios.disk._"), 9800.0 * 1024.0 * 1024.0);
        assert_eq!(
            value(&p, "nagios.disk.my_disk"),
            1.5 * 1024.0 * 1024.0 * 1024.0
        );
        assert_eq!(p.points[1].tags, ["label:my disk"]);
    }

    #[test]
    fn long_output_perfdata_and_units() {
        let out = "OK - fine | time=12ms\nline two\nline three | size=2KB\ncount=7c\nlatency=5us;;\nwait=U\n";
        let p = parse(out, "", "n", Some(0), false);
        assert_eq!(value(&p, "n.time"), 0.012);
        assert_eq!(value(&p, "n.size"), 2048.0);
        let count = p.points.iter().find(|x| x.name == "n.count").unwrap();
        assert_eq!((count.value, count.kind), (7.0, MetricKind::MonotonicCount));
        assert!((value(&p, "n.latency") - 5e-6).abs() < 1e-15);
        assert!(!p.points.iter().any(|x| x.name == "n.wait"));
    }

    #[test]
    fn exit_codes_and_timeouts() {
        let status = |code, timed_out| {
            parse("x", "", "n", code, timed_out)
                .service_check
                .unwrap()
                .1
        };
        assert_eq!(status(Some(1), false), Status::Warning);
        assert_eq!(status(Some(3), false), Status::Unknown);
        assert_eq!(status(Some(7), false), Status::Unknown);
        assert_eq!(status(None, true), Status::Critical);
        let p = parse("x | a=1zz b", "", "n", Some(0), false);
        assert_eq!(p.invalid.len(), 2);
    }

    #[test]
    fn a_plugin_that_cannot_run_is_unknown_with_the_reason() {
        let why = "cannot run `/usr/lib/nagios/plugins/check_foo`: No such file or directory (os error 2)";
        let p = not_run("nagios.foo", why);
        assert_eq!(
            p.service_check,
            Some(("nagios.foo".to_string(), Status::Unknown, why.to_string()))
        );
        assert!(p.points.is_empty() && p.invalid.is_empty());
        // Through a shell: exit 127 and the shell's words on stderr.
        let p = parse(
            "",
            "sh: 1: /usr/lib/nagios/plugins/check_foo: not found\n",
            "nagios.foo",
            Some(127),
            false,
        );
        let (_, status, message) = p.service_check.unwrap();
        assert_eq!(status, Status::Unknown);
        assert_eq!(
            message,
            "cannot run the plugin (exit 127): sh: 1: /usr/lib/nagios/plugins/check_foo: not found"
        );
        let message = |out, code| {
            parse(out, "", "n", Some(code), false)
                .service_check
                .unwrap()
                .2
        };
        assert_eq!(message("", 126), "cannot run the plugin (exit 126)");
        assert_eq!(message("own words", 127), "own words");
        assert_eq!(message("", 3), "");
    }
}
