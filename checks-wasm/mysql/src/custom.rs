//! `queries:`: the operator's own statements, each column a metric (`mysql.<name>`) or a tag.

use wasmon_sdk::mysql::{self, QueryError};
use wasmon_sdk::{MetricKind, Output};

use crate::config::{ColumnKind, CustomQuery};
use crate::db::number;

/// Runs one custom query and emits a sample per metric column of each row.
pub fn collect(query: &CustomQuery, out: &mut Output) -> Result<(), String> {
    let rows = mysql::query(&query.query).map_err(|e| match e {
        QueryError::Server(e) => e.message,
        other => crate::db::describe(&other),
    })?;
    if let Some(row) = rows.values.first()
        && row.len() != query.columns.len()
    {
        return Err(format!(
            "returns {} columns but `columns` lists {}",
            row.len(),
            query.columns.len()
        ));
    }
    for row in &rows.values {
        let mut tags: Vec<String> = query.tags.clone();
        let mut metrics = Vec::new();
        for (column, value) in query.columns.iter().zip(row) {
            let (Some(name), Some(kind)) = (&column.name, column.kind) else {
                continue;
            };
            let value = value.as_deref().unwrap_or("");
            let kind = match kind {
                ColumnKind::Tag => {
                    tags.push(format!("{name}:{value}"));
                    continue;
                }
                ColumnKind::Gauge => MetricKind::Gauge,
                ColumnKind::Rate => MetricKind::Rate,
                ColumnKind::Count => MetricKind::Count,
                ColumnKind::MonotonicCount => MetricKind::MonotonicCount,
            };
            match number(value) {
                Some(v) => metrics.push((format!("mysql.{name}"), kind, v)),
                None => return Err(format!("column `{name}`: {value:?} is not a number")),
            }
        }
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        for (name, kind, value) in metrics {
            out.sample(&name, kind, value, &tags);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Column;
    use wasmon_sdk::testing::mysql as server;

    fn query(columns: Vec<Column>) -> CustomQuery {
        CustomQuery {
            query: "SELECT kind, COUNT(*), 1 FROM t GROUP BY kind".into(),
            columns,
            tags: vec!["team:db".into()],
        }
    }

    fn column(name: &str, kind: ColumnKind) -> Column {
        Column {
            name: Some(name.into()),
            kind: Some(kind),
        }
    }

    #[test]
    fn columns_become_metrics_and_tags() {
        server::answer(
            "SELECT kind, COUNT(*), 1 FROM t GROUP BY kind",
            &["kind", "n", "1"],
            &[&["a", "3", "1"], &["b", "5", "1"]],
        );
        let q = query(vec![
            column("kind", ColumnKind::Tag),
            column("t.rows", ColumnKind::Gauge),
            Column::default(),
        ]);
        let mut out = Output::new(0);
        collect(&q, &mut out).unwrap();
        let got: Vec<_> = out
            .samples()
            .iter()
            .map(|s| (s.name.as_str(), s.value, s.tags.join(",")))
            .collect();
        assert_eq!(
            got,
            [
                ("mysql.t.rows", 3.0, "team:db,kind:a".to_string()),
                ("mysql.t.rows", 5.0, "team:db,kind:b".to_string()),
            ]
        );
    }

    #[test]
    fn mismatched_columns_and_text_values_are_errors() {
        server::answer(
            "SELECT kind, COUNT(*), 1 FROM t GROUP BY kind",
            &["kind", "n", "1"],
            &[&["a", "3", "1"]],
        );
        let q = query(vec![column("kind", ColumnKind::Tag)]);
        assert!(
            collect(&q, &mut Output::new(0))
                .unwrap_err()
                .contains("3 columns")
        );
        let q = query(vec![
            column("kind", ColumnKind::Gauge),
            Column::default(),
            Column::default(),
        ]);
        assert!(
            collect(&q, &mut Output::new(0))
                .unwrap_err()
                .contains("not a number")
        );
    }
}
