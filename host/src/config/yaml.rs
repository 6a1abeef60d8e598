//! YAML parsing whose errors carry the line and the dotted field path.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::ConfigError;

/// Parses `text` (the contents of `path`) into `T`.
pub fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let mut field = e.path().to_string();
        let inner = e.into_inner();
        let mut line = inner.location().map(|l| l.line());
        let mut message = strip_position(&inner.to_string());
        // An unknown field's path ends with the field itself, which the message names. Its
        // line is looked up by that path: the parser's position is the start of a buffered
        // item (a tagged sink), not the key.
        if let Some(unknown) = unknown_field(&message) {
            let parent = match field.strip_suffix(unknown) {
                Some(p) if p.is_empty() || p.ends_with('.') => p.trim_end_matches('.'),
                _ => field.as_str(),
            };
            let parent = if parent.is_empty() || parent == "." {
                ""
            } else {
                parent
            };
            let full = if parent.is_empty() {
                unknown.to_string()
            } else {
                format!("{parent}.{unknown}")
            };
            line = locate(text, &full).or(line);
            field = if parent.is_empty() {
                ".".into()
            } else {
                parent.to_string()
            };
        }
        // serde_yaml names the field in its message already; it is kept apart here.
        if let Some(rest) = message.strip_prefix(&format!("{field}: ")) {
            message = rest.to_string();
        }
        if field == "." {
            ConfigError {
                path: path.to_path_buf(),
                line,
                field: None,
                message,
            }
        } else {
            ConfigError::field(path, line, field, message)
        }
    })
}

/// Parses `resolved` into `T`: the contents of `path` rendered again once their secrets were
/// resolved (see `secrets`). Its lines are not the file's, so an error's line is looked up by
/// its field in `text`, the file as written.
pub fn parse_resolved<T: DeserializeOwned>(
    path: &Path,
    text: &str,
    resolved: &str,
) -> Result<T, ConfigError> {
    parse(path, resolved).map_err(|mut e| {
        let field = match (e.field.as_deref(), unknown_field(&e.message)) {
            (Some(parent), Some(key)) => format!("{parent}.{key}"),
            (None, Some(key)) => key.to_string(),
            (Some(field), None) => field.to_string(),
            (None, None) => String::new(),
        };
        e.line = locate_nearest(text, &field);
        e
    })
}

/// The key named by serde's "unknown field `x`, expected ..." message.
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.split_once("unknown field `")?.1;
    Some(&rest[..rest.find('`')?])
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
    text.lines()
        .enumerate()
        .skip(from_line.saturating_sub(1))
        .find_map(|(i, line)| {
            let entry = line.trim_start().trim_start_matches("- ").trim_start();
            entry
                .strip_prefix(key)?
                .trim_start()
                .starts_with(':')
                .then_some(i + 1)
        })
}

/// The line (1-based) of a dotted field path such as `instances[1].grants.files[0]`, found by
/// walking its keys down the text; list items are found by their `- ` at one indentation.
pub fn locate(text: &str, field: &str) -> Option<usize> {
    let mut line = 1;
    for segment in field.split('.') {
        let (key, index) = match segment.split_once('[') {
            Some((key, rest)) => (key, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        line = find_key_line(text, key, line)?;
        let inline = text
            .lines()
            .nth(line - 1)
            .and_then(|l| l.split_once(':'))
            .is_some_and(|(_, v)| {
                let v = v.trim();
                !v.is_empty() && !v.starts_with('#')
            });
        if let Some(index) = index.filter(|_| !inline) {
            line = list_item_line(text, line, index).unwrap_or(line);
        }
    }
    Some(line)
}

/// The line of `field`, else of its nearest parent that [`locate`] finds (a key inside a flow
/// mapping is on its parent's line).
pub fn locate_nearest(text: &str, mut field: &str) -> Option<usize> {
    loop {
        if field.is_empty() {
            return None;
        }
        if let Some(line) = locate(text, field) {
            return Some(line);
        }
        field = field.rsplit_once('.')?.0;
    }
}

/// The line of item `index` of a block list whose key is on line `key_line`.
fn list_item_line(text: &str, key_line: usize, index: usize) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let items = lines.iter().enumerate().skip(key_line);
    let mut indent = None;
    let mut seen = 0;
    for (i, l) in items {
        let trimmed = l.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let width = l.len() - trimmed.len();
        if !trimmed.starts_with('-') {
            if indent.is_none_or(|w| width <= w) {
                return None;
            }
            continue;
        }
        match indent {
            None => indent = Some(width),
            Some(w) if width < w => return None,
            Some(w) if width > w => continue,
            Some(_) => {}
        }
        if seen == index {
            return Some(i + 1);
        }
        seen += 1;
    }
    None
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
        assert!(
            e.to_string()
                .starts_with("f.yaml:3: inner[1].n: invalid type"),
            "{e}"
        );
    }

    #[test]
    fn unknown_field_names_its_parent() {
        let e = parse::<Outer>(Path::new("f.yaml"), "inner:\n  - n: 1\n    m: 2\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.yaml:3: inner[0]: unknown field `m`, expected `n`"
        );
        let e = parse::<Outer>(Path::new("f.yaml"), "inner: []\nouter: 1\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.yaml:2: unknown field `outer`, expected `inner`"
        );
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(tag = "type", deny_unknown_fields)]
    #[allow(dead_code)]
    enum Tagged {
        A { n: u32 },
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Listed {
        sinks: Vec<Tagged>,
    }

    #[test]
    fn an_unknown_field_in_a_later_tagged_item_has_its_own_line() {
        let text = "sinks:\n  - type: A\n    n: 1\n  - type: A\n    n: 2\n    m: 3\n";
        let e = parse::<Listed>(Path::new("f.yaml"), text).unwrap_err();
        assert_eq!(e.line, Some(6), "{e}");
        assert_eq!(e.field.as_deref(), Some("sinks[1]"), "{e}");
    }

    #[test]
    fn locates_dotted_paths() {
        let text = "init_config:\ninstances:\n  - a: 1\n    grants:\n      files: [x]\n  # note\n  - a: 2\n    \
                    grants:\n      files:\n        - y\n        - z\n";
        assert_eq!(locate(text, "instances[0].grants.files[0]"), Some(5));
        assert_eq!(locate(text, "instances[1].a"), Some(7));
        assert_eq!(locate(text, "instances[1].grants.files[1]"), Some(11));
        assert_eq!(locate(text, "instances[1].nope"), None);
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
