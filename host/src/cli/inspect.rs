//! `wasmon inspect FILE.wasm`: what a component is and what it says about itself.

use std::path::Path;
use std::process::ExitCode;

use crate::catalog::load_module_file;
use crate::runtime::{Runtime, describe};

/// The narrowest world of wit/worlds.wit that holds every wasmon interface the component imports.
fn world(imports: &[&str]) -> &'static str {
    let uses = |interface: &str| {
        imports
            .iter()
            .any(|i| i.starts_with(&format!("wasmon:check/{interface}@")))
    };
    match (uses("files"), uses("fs-usage"), uses("exec"), uses("mysql")) {
        (false, false, false, false) => "plain-check",
        (true, false, false, false) => "file-check",
        (_, true, false, false) => "host-stats",
        (false, false, true, false) => "command-check",
        (false, false, false, true) => "mysql-check",
        _ => "full-check",
    }
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
