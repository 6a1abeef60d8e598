//! YAML parsing whose errors carry the line and the dotted field path.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::ConfigError;

/// Parses `text` (the contents of `path`) into `T`.
pub fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let line = inner.location().map(|l| l.line());
        let message = strip_position(&inner.to_string());
        if field == "." {
            ConfigError { path: path.to_path_buf(), line, field: None, message }
        } else {
            ConfigError::field(path, line, field, message)
        }
    })
}

/// serde_yaml ends messages with "at line L column C"; the error says where already.
fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The first line (1-based) at or after `from_line` where `key:` starts a mapping entry;
/// used to point at a field that only the check itself knows about.
pub fn find_key_line(text: &str, key: &str, from_line: usize) -> Option<usize> {
    text.lines().enumerate().skip(from_line.saturating_sub(1)).find_map(|(i, line)| {
        let entry = line.trim_start().trim_start_matches("- ").trim_start();
        entry.strip_prefix(key)?.trim_start().starts_with(':').then_some(i + 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        inner: Vec<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    #[test]
    fn error_has_line_and_field() {
        let e = parse::<Outer>(Path::new("f.yaml"), "inner:\n  - n: 1\n  - n: x\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert_eq!(e.field.as_deref(), Some("inner[1].n"));
        assert!(e.message.contains("expected u32"), "{}", e.message);
        assert!(e.to_string().starts_with("f.yaml:3: inner[1].n: invalid type"), "{e}");
    }

    #[test]
    fn finds_keys_after_a_line() {
        let text = "instances:\n  - port: 1\n  - port: 2\n    user: x\n";
        assert_eq!(find_key_line(text, "port", 1), Some(2));
        assert_eq!(find_key_line(text, "port", 3), Some(3));
        assert_eq!(find_key_line(text, "user", 1), Some(4));
        assert_eq!(find_key_line(text, "nope", 1), None);
    }
}
