//! Load averages from /proc/loadavg, raw and normalised per core.

use wasmon_sdk::Output;

/// The 1, 5 and 15 minute load averages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load(pub [f64; 3]);

/// Parses /proc/loadavg.
pub fn parse(text: &str) -> Result<Load, String> {
    let mut fields = text.split_ascii_whitespace().map(str::parse::<f64>);
    let mut next = || match fields.next() {
        Some(Ok(v)) => Ok(v),
        _ => Err(format!("expected three load averages, got {text:?}")),
    };
    Ok(Load([next()?, next()?, next()?]))
}

/// Emits `system.load.{1,5,15}` and `system.load.norm.{1,5,15}`.
pub fn emit(load: &Load, cores: usize, out: &mut Output) {
    for (window, value) in ["1", "5", "15"].iter().zip(load.0) {
        out.gauge(&format!("system.load.{window}"), value, &[]);
        out.gauge(
            &format!("system.load.norm.{window}"),
            value / cores.max(1) as f64,
            &[],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let load = parse("0.50 1.00 2.00 1/81 4510\n").unwrap();
        assert_eq!(load, Load([0.5, 1.0, 2.0]));
        let mut out = Output::new(0);
        emit(&load, 2, &mut out);
        let norm5 = out
            .samples()
            .iter()
            .find(|s| s.name == "system.load.norm.5")
            .unwrap();
        assert_eq!(norm5.value, 0.5);
        assert!(parse("0.5 x").is_err());
    }
}
