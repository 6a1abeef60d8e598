//! Config parsing whose errors name the section and the field.

use serde::de::DeserializeOwned;

use crate::CheckError;

/// Parses one config section from the JSON the host passes. An empty section (`null`) is read
/// as `{}`. Errors name the section and the path of the offending field.
pub fn parse_config<T: DeserializeOwned>(section: &str, json: &str) -> Result<T, CheckError> {
    let json = match json.trim() {
        "" | "null" => "{}",
        other => other,
    };
    let de = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let mut path = e.path().to_string();
        let inner = strip_position(&e.into_inner().to_string());
        // An unknown field's path ends with the field itself, which the message names.
        if inner.starts_with("unknown field") {
            path = path
                .rsplit_once('.')
                .map_or(".".into(), |(parent, _)| parent.to_string());
        }
        if path == "." {
            CheckError::config_field(section, inner)
        } else {
            CheckError::config_field(format!("{section}.{path}"), inner)
        }
    })
}

/// serde_json appends "at line 1 column 42" of the JSON the host made, meaningless to a user.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inst {
        #[allow(dead_code)]
        port: u16,
        #[serde(default)]
        #[allow(dead_code)]
        nested: Option<Nested>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Nested {
        #[allow(dead_code)]
        depth: u32,
    }

    fn message(e: CheckError) -> String {
        match e {
            CheckError::Config(e) => e.to_string(),
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_field_is_named() {
        let e = parse_config::<Inst>("instance", r#"{"port": 1, "prot": 2}"#).unwrap_err();
        let m = message(e);
        assert!(
            m.starts_with("instance: unknown field `prot`, expected"),
            "{m}"
        );
        assert!(!m.contains("line 1"), "{m}");
    }

    #[test]
    fn nested_unknown_field_names_its_parent() {
        let e =
            parse_config::<Inst>("instance", r#"{"port": 1, "nested": {"depht": 1}}"#).unwrap_err();
        let m = message(e);
        assert!(
            m.starts_with("instance.nested: unknown field `depht`"),
            "{m}"
        );
    }

    #[test]
    fn wrong_type_names_the_nested_path() {
        let e = parse_config::<Inst>("instance", r#"{"port": 1, "nested": {"depth": "x"}}"#)
            .unwrap_err();
        let m = message(e);
        assert!(m.starts_with("instance.nested.depth: "), "{m}");
        assert!(m.contains("expected u32"), "{m}");
    }

    #[test]
    fn null_section_reads_as_empty() {
        let e = parse_config::<Inst>("init_config", "null").unwrap_err();
        assert!(message(e).contains("missing field `port`"));
        assert!(parse_config::<crate::NoConfig>("init_config", "null").is_ok());
    }
}
