//! wasmon: a host monitoring agent whose checks are WebAssembly components, each in its own
//! sandbox with only the capabilities its configuration grants.

pub mod agent;
pub mod aggregate;
pub mod capabilities;
pub mod catalog;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod control;
pub mod error_chain;
pub mod intake;
pub mod model;
pub mod registry;
pub mod repeats;
pub mod runtime;
pub mod scheduler;
pub mod sinks;

#[cfg(test)]
mod tests {
    /// Every file of `tests/` runs: each is listed as a `[[test]]` in this crate's manifest.
    #[test]
    fn every_integration_test_file_is_listed() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(root.join("../tests")).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".rs") && !manifest.contains(&format!("\"../tests/{name}\"")) {
                missing.push(name);
            }
        }
        assert!(missing.is_empty(), "not in host/Cargo.toml: {missing:?}");
    }
}
