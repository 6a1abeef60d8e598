//! Keys of Datadog's mysql instance config that wasmon does not take, each refused with what
//! wasmon does instead, so that a config copied from Datadog fails with a way forward rather
//! than "unknown field". [`crate::Instance`] holds them as `Option<IgnoredAny>`.

use crate::Instance;

/// `key: what to do instead` for every such key the instance gives.
pub fn problems(i: &Instance) -> Vec<String> {
    let keys: [(bool, &str, &str); 27] = [
        (
            i.charset.is_some(),
            "charset",
            r#"the host's connection speaks utf8mb4: remove the key"#,
        ),
        (
            i.read_timeout.is_some(),
            "read_timeout",
            r#"every statement is bounded by the run's time limit: remove the key"#,
        ),
        (
            i.reported_hostname.is_some(),
            "reported_hostname",
            r#"tag the instance `host:NAME` (in `tags`): its series then belong to that host"#,
        ),
        (
            i.exclude_hostname.is_some(),
            "exclude_hostname",
            r#"every series carries a host; tag the instance `host:NAME` to choose it"#,
        ),
        (
            i.empty_default_hostname.is_some(),
            "empty_default_hostname",
            r#"every series carries a host; tag the instance `host:NAME` to choose it"#,
        ),
        (
            i.database_identifier.is_some(),
            "database_identifier",
            r#"series are told apart by `server:`, `port:` and the instance's `tags`: add a tag instead"#,
        ),
        (
            i.propagate_agent_tags.is_some(),
            "propagate_agent_tags",
            r#"the agent's `tags` are always added to every series: remove the key"#,
        ),
        (
            i.disable_generic_tags.is_some(),
            "disable_generic_tags",
            r#"wasmon adds no generic tags beside `server:` and `port:` on service checks: remove the key"#,
        ),
        (
            i.service.is_some(),
            "service",
            r#"add `service:NAME` to `tags`"#,
        ),
        (
            i.metric_patterns.is_some(),
            "metric_patterns",
            r#"every metric of the enabled families is sent; turn families off in `options`"#,
        ),
        (
            i.additional_status.is_some(),
            "additional_status",
            r#"read a status variable with `custom_queries`: SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = '...'"#,
        ),
        (
            i.additional_variable.is_some(),
            "additional_variable",
            r#"read a server variable with `custom_queries`: SELECT @@name"#,
        ),
        (
            i.use_global_custom_queries.is_some(),
            "use_global_custom_queries",
            r#"there are no global custom queries: list them in the instance's `custom_queries`"#,
        ),
        (
            i.dbm.is_some(),
            "dbm",
            r#"Database Monitoring (query samples, plans, settings, schemas) is Datadog's hosted product; wasmon collects no query text: remove the key"#,
        ),
        (
            i.query_metrics.is_some(),
            "query_metrics",
            r#"Database Monitoring (query samples, plans, settings, schemas) is Datadog's hosted product; wasmon collects no query text: remove the key"#,
        ),
        (
            i.query_samples.is_some(),
            "query_samples",
            r#"Database Monitoring (query samples, plans, settings, schemas) is Datadog's hosted product; wasmon collects no query text: remove the key"#,
        ),
        (
            i.query_activity.is_some(),
            "query_activity",
            r#"Database Monitoring (query samples, plans, settings, schemas) is Datadog's hosted product; wasmon collects no query text: remove the key"#,
        ),
        (
            i.collect_settings.is_some(),
            "collect_settings",
            r#"Database Monitoring (query samples, plans, settings, schemas) is Datadog's hosted product; wasmon collects no query text: remove the key"#,
        ),
        (
            i.collect_schemas.is_some(),
            "collect_schemas",
            r#"Database Monitoring (query samples, plans, settings, schemas) is Datadog's hosted product; wasmon collects no query text: remove the key"#,
        ),
        (
            i.schemas_collection.is_some(),
            "schemas_collection",
            r#"Database Monitoring (query samples, plans, settings, schemas) is Datadog's hosted product; wasmon collects no query text: remove the key"#,
        ),
        (
            i.obfuscator_options.is_some(),
            "obfuscator_options",
            r#"Database Monitoring (query samples, plans, settings, schemas) is Datadog's hosted product; wasmon collects no query text: remove the key"#,
        ),
        (
            i.log_unobfuscated_queries.is_some(),
            "log_unobfuscated_queries",
            r#"Database Monitoring (query samples, plans, settings, schemas) is Datadog's hosted product; wasmon collects no query text: remove the key"#,
        ),
        (
            i.log_unobfuscated_plans.is_some(),
            "log_unobfuscated_plans",
            r#"Database Monitoring (query samples, plans, settings, schemas) is Datadog's hosted product; wasmon collects no query text: remove the key"#,
        ),
        (
            i.database_instance_collection_interval.is_some(),
            "database_instance_collection_interval",
            r#"Database Monitoring (query samples, plans, settings, schemas) is Datadog's hosted product; wasmon collects no query text: remove the key"#,
        ),
        (
            i.aws.is_some(),
            "aws",
            r#"cloud identity: add what it names to `tags`, e.g. ["region:eu-west-1"]"#,
        ),
        (
            i.gcp.is_some(),
            "gcp",
            r#"cloud identity: add what it names to `tags`, e.g. ["region:eu-west-1"]"#,
        ),
        (
            i.azure.is_some(),
            "azure",
            r#"cloud identity: add what it names to `tags`, e.g. ["region:eu-west-1"]"#,
        ),
    ];
    keys.iter()
        .filter(|(given, _, _)| *given)
        .map(|(_, key, instead)| format!("`{key}` is Datadog's, not wasmon's: {instead}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use wasmon_sdk::{CheckError, parse_config};

    use crate::Instance;

    #[test]
    fn datadogs_keys_are_refused_with_what_to_do_instead() {
        let i: Instance = parse_config(
            "instance",
            r#"{"host":"db","dbm":true,"reported_hostname":"db-1","index_metrics":{"enabled":false}}"#,
        )
        .unwrap();
        assert!(!i.index_metrics());
        let Err(CheckError::Config(e)) = i.validate() else {
            panic!("refused")
        };
        let m = e.to_string();
        assert!(
            m.contains("`dbm` is Datadog's, not wasmon's: Database Monitoring"),
            "{m}"
        );
        assert!(m.contains("`reported_hostname`"), "every key at once: {m}");
        assert!(m.contains("host:NAME"), "{m}");
    }
}
