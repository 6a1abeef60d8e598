//! `wasmon inspect FILE.wasm`: what a component is and what it says about itself.

use std::path::Path;
use std::process::ExitCode;

use crate::capabilities::{self, Capability};
use crate::catalog::load_module_file;
use crate::runtime::{Runtime, describe};

/// The narrowest world of the newest `worlds.wit` that holds every wasmon interface the
/// component imports: of the worlds that import each capability used, the one importing the
/// fewest capabilities.
fn world(imports: &[&str]) -> &'static str {
    let uses = |c: &Capability| {
        c.interfaces.iter().any(|name| {
            imports
                .iter()
                .any(|i| i.starts_with(&format!("wasmon:check/{name}@")))
        })
    };
    let used: Vec<&Capability> = capabilities::ALL
        .iter()
        .copied()
        .filter(|c| !c.worlds.is_empty() && uses(c))
        .collect();
    let size = |world: &str| {
        capabilities::ALL
            .iter()
            .filter(|c| c.worlds.contains(&world))
            .count()
    };
    std::iter::once("plain-check")
        .chain(
            capabilities::ALL
                .iter()
                .flat_map(|c| c.worlds.iter().copied()),
        )
        .filter(|world| used.iter().all(|c| c.worlds.contains(world)))
        .min_by_key(|world| size(world))
        .unwrap_or("full-check")
}

/// Prints the component's identity, world, imports, exports and `describe`.
pub async fn inspect(path: &Path) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::new()?;
    let module = load_module_file(&runtime, path.to_path_buf())
        .await
        .map_err(anyhow::Error::msg)?;
    println!("file:     {}", module.path.display());
    println!("size:     {} bytes", module.size);
    println!("sha256:   {}", module.sha256);
    println!("compiled: in {:?}", module.compile_time);
    println!(
        "world:    a wasmon check ({}), world `{}`",
        module.wit_version.package(),
        world(&module.capability_imports())
    );
    println!("imports:");
    for import in &module.imports {
        println!("  {import}");
    }
    println!("exports:");
    for export in &module.exports {
        println!("  {export}");
    }
    match describe(&runtime, &module).await {
        Ok(d) => {
            println!("describe:");
            println!("  name:             {}", d.name);
            println!("  version:          {}", d.version);
            println!("  default interval: {}s", d.default_interval_secs);
            println!("  summary:          {}", d.summary);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("describe: failed: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_world_is_the_narrowest_that_holds_every_import() {
        let cases: [(&[&str], &str); 8] = [
            (&[], "plain-check"),
            (&["files"], "file-check"),
            (&["fs-usage"], "host-stats"),
            (&["files", "fs-usage"], "host-stats"),
            (&["exec"], "command-check"),
            (&["mysql"], "mysql-check"),
            (&["files", "exec"], "full-check"),
            (&["fs-usage", "mysql"], "full-check"),
        ];
        for (interfaces, expected) in cases {
            let mut imports: Vec<String> = interfaces
                .iter()
                .map(|i| format!("wasmon:check/{i}@0.2.0"))
                .collect();
            imports.push("wasmon:check/emit@0.2.0".into());
            imports.push("wasi:http/outgoing-handler@0.2.6".into());
            let imports: Vec<&str> = imports.iter().map(String::as_str).collect();
            assert_eq!(world(&imports), expected, "{interfaces:?}");
        }
    }

    #[test]
    fn each_capability_names_the_worlds_that_import_it() {
        let worlds = include_str!("../../../wit/wasmon-check@0.2.0/worlds.wit");
        // `world name {` blocks, with the interfaces each imports or includes.
        let mut blocks: Vec<(&str, Vec<&str>, Vec<&str>)> = Vec::new();
        for line in worlds.lines().map(str::trim) {
            if let Some(name) = line.strip_prefix("world ") {
                blocks.push((name.trim_end_matches(" {"), Vec::new(), Vec::new()));
            } else if let Some(last) = blocks.last_mut() {
                if let Some(import) = line.strip_prefix("import ") {
                    last.1.push(import.trim_end_matches(';'));
                } else if let Some(include) = line.strip_prefix("include ") {
                    last.2.push(include.trim_end_matches(';'));
                }
            }
        }
        fn imports<'a>(
            blocks: &[(&'a str, Vec<&'a str>, Vec<&'a str>)],
            world: &str,
        ) -> Vec<&'a str> {
            let Some((_, own, included)) = blocks.iter().find(|b| b.0 == world) else {
                return Vec::new();
            };
            let mut all = own.clone();
            for inner in included {
                all.extend(imports(blocks, inner));
            }
            all
        }
        for capability in capabilities::ALL.iter().filter(|c| !c.worlds.is_empty()) {
            let importing: Vec<&str> = blocks
                .iter()
                .map(|b| b.0)
                .filter(|w| {
                    capability
                        .interfaces
                        .iter()
                        .all(|i| imports(&blocks, w).contains(i))
                })
                .collect();
            assert_eq!(importing, capability.worlds, "{:?}", capability.interfaces);
        }
    }
}
