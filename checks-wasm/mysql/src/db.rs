//! Reading the server's answers: rows as maps and numbers, switches, and errors in words.

use std::collections::HashMap;

use wasmon_sdk::mysql::{QueryError, Rows};

/// The rows of a two-column statement (`SHOW GLOBAL STATUS`, `SHOW GLOBAL VARIABLES`) as a
/// map from the first column to the second.
pub fn name_values(rows: Rows) -> HashMap<String, String> {
    rows.values
        .into_iter()
        .filter_map(|row| {
            let mut row = row.into_iter();
            Some((row.next()??, row.next()?.unwrap_or_default()))
        })
        .collect()
}

/// Each row as a map from column name to value.
pub fn records(rows: &Rows) -> Vec<HashMap<&str, Option<&str>>> {
    rows.values
        .iter()
        .map(|row| {
            rows.columns
                .iter()
                .map(String::as_str)
                .zip(row.iter().map(Option::as_deref))
                .collect()
        })
        .collect()
}

/// A server variable's value as a number: integers, decimals, and `ON`/`OFF` and the other
/// words of a switch (1 and 0).
pub fn number(value: &str) -> Option<f64> {
    value
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .or_else(|| switch(value).map(|on| f64::from(u8::from(on))))
}

/// Whether a server flag is set: `ON`, `YES`, `TRUE` or `1`, in any case. `SHOW VARIABLES`
/// says `ON` where `@@GLOBAL.name` says `1`, and replica status says `Yes`.
pub fn flag(value: &str) -> bool {
    switch(value) == Some(true)
}

/// A switch's state: `ON`, `YES`, `TRUE` or `1` is on, `OFF`, `NO`, `FALSE` or `0` is off, in
/// any case; `None` for anything else.
fn switch(value: &str) -> Option<bool> {
    let value = value.trim();
    let is = |words: [&str; 4]| words.iter().any(|w| w.eq_ignore_ascii_case(value));
    if is(["ON", "YES", "TRUE", "1"]) {
        Some(true)
    } else if is(["OFF", "NO", "FALSE", "0"]) {
        Some(false)
    } else {
        None
    }
}

/// The words of an error, for logs and service checks.
pub fn describe(error: &QueryError) -> String {
    match error {
        QueryError::Connect(m) => format!("cannot connect: {m}"),
        QueryError::Server(e) => format!("ERROR {} ({}): {}", e.code, e.state, e.message),
        QueryError::Lost(m) => format!("connection lost: {m}"),
        QueryError::NotGranted => "the instance declares no MySQL server (`host` or `sock`)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_in_every_spelling() {
        for on in ["ON", "on", "1", "YES", "Yes", "TRUE", "true"] {
            assert!(flag(on), "{on}");
        }
        for off in ["OFF", "0", "NO", "No", "FALSE", "", "Connecting", "2"] {
            assert!(!flag(off), "{off}");
        }
    }

    #[test]
    fn numbers_and_switches() {
        assert_eq!(number("151"), Some(151.0));
        assert_eq!(number("0.5"), Some(0.5));
        assert_eq!(number("ON"), Some(1.0));
        assert_eq!(number("off"), Some(0.0));
        assert_eq!(number("inf"), None);
        assert_eq!(number("STRICT_TRANS_TABLES"), None);
    }
}
