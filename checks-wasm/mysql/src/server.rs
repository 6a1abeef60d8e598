//! What the check learns of the server from `SHOW GLOBAL STATUS` and `SHOW GLOBAL
//! VARIABLES`: its flavour and version, and the values derived from both (key cache and
//! buffer pool use, query cache utilisation).

use std::collections::HashMap;

use crate::db::number;

/// MySQL or MariaDB, and the version, which decide the statements the check uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    /// `MariaDB` or `MySQL`.
    pub flavor: Flavor,
    /// Major, minor, patch.
    pub version: (u32, u32, u32),
    /// The `version` variable as the server gives it.
    pub raw_version: String,
}

/// The server family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Flavor {
    /// Oracle MySQL (and Percona Server).
    Mysql,
    /// MariaDB.
    Mariadb,
}

impl Server {
    /// From the `version` and `version_comment` variables.
    pub fn detect(variables: &HashMap<String, String>) -> Self {
        let raw = variables.get("version").cloned().unwrap_or_default();
        let comment = variables.get("version_comment").map_or("", String::as_str);
        let flavor = if raw.contains("MariaDB") || comment.contains("MariaDB") {
            Flavor::Mariadb
        } else {
            Flavor::Mysql
        };
        let mut parts = raw
            .split(|c: char| !c.is_ascii_digit())
            .map(|p| p.parse().unwrap_or(0));
        let version = (
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
        );
        Self {
            flavor,
            version,
            raw_version: raw,
        }
    }

    /// Whether this is `flavor` at `version` or later.
    pub fn at_least(&self, flavor: Flavor, version: (u32, u32, u32)) -> bool {
        self.flavor == flavor && self.version >= version
    }

    /// `10.11.6`.
    pub fn version_string(&self) -> String {
        let (a, b, c) = self.version;
        format!("{a}.{b}.{c}")
    }
}

/// Numeric status and variables, by name (status names as the server spells them, variables
/// in lower case as `SHOW VARIABLES` gives them).
pub type Values = HashMap<String, f64>;

/// Merges status and variables into numbers.
pub fn numbers(status: &HashMap<String, String>, variables: &HashMap<String, String>) -> Values {
    status
        .iter()
        .chain(variables)
        .filter_map(|(k, v)| Some((k.clone(), number(v)?)))
        .collect()
}

/// MyISAM key cache use, from `Key_blocks_*` and `key_cache_block_size`.
pub fn derive_key_cache(v: &mut Values) {
    let get = |v: &Values, k: &str| v.get(k).copied();
    let Some(block) = get(v, "key_cache_block_size") else {
        return;
    };
    if let Some(used) = get(v, "Key_blocks_used") {
        v.insert("Key_buffer_bytes_used".into(), used * block);
    }
    if let Some(unflushed) = get(v, "Key_blocks_not_flushed") {
        v.insert("Key_buffer_bytes_unflushed".into(), unflushed * block);
    }
    if let (Some(unused), Some(size)) = (get(v, "Key_blocks_unused"), get(v, "key_buffer_size"))
        && size > 0.0
    {
        v.insert("Key_cache_utilization".into(), 1.0 - unused * block / size);
    }
}

/// Buffer pool bytes and utilisation from page counts, where the server gives only pages.
pub fn derive_buffer_pool(v: &mut Values) {
    let get = |v: &Values, k: &str| v.get(k).copied();
    let (Some(page), Some(total), Some(free)) = (
        get(v, "Innodb_page_size"),
        get(v, "Innodb_buffer_pool_pages_total"),
        get(v, "Innodb_buffer_pool_pages_free"),
    ) else {
        return;
    };
    let data = get(v, "Innodb_buffer_pool_pages_data");
    let dirty = get(v, "Innodb_buffer_pool_pages_dirty");
    let mut fill = |key: &str, value: Option<f64>| {
        if let Some(value) = value {
            v.entry(key.into()).or_insert(value);
        }
    };
    fill("Innodb_buffer_pool_bytes_total", Some(total * page));
    fill("Innodb_buffer_pool_bytes_free", Some(free * page));
    fill("Innodb_buffer_pool_bytes_used", Some((total - free) * page));
    fill("Innodb_buffer_pool_bytes_data", data.map(|d| d * page));
    fill("Innodb_buffer_pool_bytes_dirty", dirty.map(|d| d * page));
    if total > 0.0 {
        fill(
            "Innodb_buffer_pool_pages_utilization",
            Some((total - free) / total),
        );
    }
}

/// Query-cache hit ratio in percent, overall and since the previous run (whose counters the
/// caller keeps in `previous`).
pub fn derive_qcache(v: &mut Values, previous: &mut Option<[f64; 3]>) {
    let (Some(hits), Some(inserts), Some(not_cached)) = (
        v.get("Qcache_hits").copied(),
        v.get("Qcache_inserts").copied(),
        v.get("Qcache_not_cached").copied(),
    ) else {
        return;
    };
    let ratio = |hits: f64, inserts: f64, not_cached: f64| {
        let all = hits + inserts + not_cached;
        if hits == 0.0 || all <= 0.0 {
            0.0
        } else {
            hits / all * 100.0
        }
    };
    v.insert(
        "Qcache_utilization".into(),
        ratio(hits, inserts, not_cached),
    );
    if let Some([h, i, n]) = *previous {
        v.insert(
            "Qcache_instant_utilization".into(),
            ratio(hits - h, inserts - i, not_cached - n),
        );
    }
    *previous = Some([hits, inserts, not_cached]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, f64)]) -> Values {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn flavour_and_version() {
        let vars = |v: &str, c: &str| -> HashMap<String, String> {
            [("version", v), ("version_comment", c)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let s = Server::detect(&vars("10.11.19-MariaDB-0+deb12u1-log", "Debian 12"));
        assert_eq!(s.flavor, Flavor::Mariadb);
        assert_eq!(s.version, (10, 11, 19));
        assert!(s.at_least(Flavor::Mariadb, (10, 5, 1)));
        assert!(!s.at_least(Flavor::Mysql, (8, 0, 22)));
        let s = Server::detect(&vars("8.0.36", "MySQL Community Server - GPL"));
        assert_eq!(
            (s.flavor, s.version_string()),
            (Flavor::Mysql, "8.0.36".into())
        );
    }

    #[test]
    fn key_cache() {
        let mut v = values(&[
            ("key_cache_block_size", 1024.0),
            ("Key_blocks_used", 10.0),
            ("Key_blocks_not_flushed", 2.0),
            ("Key_blocks_unused", 96.0),
            ("key_buffer_size", 131_072.0),
        ]);
        derive_key_cache(&mut v);
        assert_eq!(v["Key_buffer_bytes_used"], 10_240.0);
        assert_eq!(v["Key_buffer_bytes_unflushed"], 2048.0);
        assert_eq!(v["Key_cache_utilization"], 0.25);
    }

    #[test]
    fn buffer_pool_from_pages_keeps_what_the_server_gave() {
        let mut v = values(&[
            ("Innodb_page_size", 16384.0),
            ("Innodb_buffer_pool_pages_total", 100.0),
            ("Innodb_buffer_pool_pages_free", 25.0),
            ("Innodb_buffer_pool_pages_data", 70.0),
            ("Innodb_buffer_pool_pages_dirty", 5.0),
            ("Innodb_buffer_pool_bytes_data", 1.0),
        ]);
        derive_buffer_pool(&mut v);
        assert_eq!(v["Innodb_buffer_pool_bytes_total"], 1_638_400.0);
        assert_eq!(v["Innodb_buffer_pool_bytes_used"], 75.0 * 16384.0);
        assert_eq!(v["Innodb_buffer_pool_bytes_dirty"], 5.0 * 16384.0);
        assert_eq!(v["Innodb_buffer_pool_bytes_data"], 1.0);
        assert_eq!(v["Innodb_buffer_pool_pages_utilization"], 0.75);
    }

    #[test]
    fn query_cache_overall_and_since_last_run() {
        let mut previous = None;
        let mut v = values(&[
            ("Qcache_hits", 30.0),
            ("Qcache_inserts", 10.0),
            ("Qcache_not_cached", 10.0),
        ]);
        derive_qcache(&mut v, &mut previous);
        assert_eq!(v["Qcache_utilization"], 60.0);
        assert!(!v.contains_key("Qcache_instant_utilization"));
        let mut v = values(&[
            ("Qcache_hits", 40.0),
            ("Qcache_inserts", 20.0),
            ("Qcache_not_cached", 20.0),
        ]);
        derive_qcache(&mut v, &mut previous);
        assert_eq!(v["Qcache_instant_utilization"], 10.0 / 30.0 * 100.0);
    }
}
