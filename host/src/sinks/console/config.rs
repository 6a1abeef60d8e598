//! `type: console`.

use serde::Deserialize;

/// Prints every series and service check to standard output, one line each.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// The sink's name, its `sink:` tag; `console` by default.
    #[serde(default)]
    pub name: Option<String>,
}
