//! `wasmon new NAME --lang rust|python|js`: a check project with its config example, a README,
//! a test, the WIT it targets and (for Rust) the SDK, vendored so it builds offline.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::capabilities::{self, WitFile};
use crate::runtime::WitVersion;
use crate::runtime::bindings::newest_wit;

/// The languages a check can be written in.
#[derive(Debug, Clone, Copy, PartialEq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Rust, with the wasmon SDK; built with `cargo build --target wasm32-wasip2`.
    Rust,
    /// Python, built with componentize-py.
    Python,
    /// JavaScript, built with componentize-js.
    Js,
}

impl Language {
    /// Its name as `--lang` takes it.
    fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::Js => "js",
        }
    }

    /// The world its template targets: the Python example reads a file, the JavaScript one
    /// uses `fetch` (`wasi:http`, linked for every check), the Rust one reads a file.
    fn world(self) -> &'static str {
        match self {
            Language::Rust | Language::Python => "file-check",
            Language::Js => "plain-check",
        }
    }
}

/// The componentize-js release the JavaScript SDK is written against (the scaffold's
/// `package.json` pins it; `wasmon build` installs it with npm).
pub const COMPONENTIZE_JS: &str = "0.23.0";

/// A project's files, `{{name}}` and the like filled in when written.
fn template(language: Language) -> &'static [(&'static str, &'static str)] {
    match language {
        Language::Rust => &[
            (
                "Cargo.toml",
                include_str!("../../templates/rust/Cargo.toml"),
            ),
            ("src/lib.rs", include_str!("../../templates/rust/lib.rs")),
            (
                "config.yaml",
                include_str!("../../templates/rust/config.yaml"),
            ),
            ("README.md", include_str!("../../templates/rust/README.md")),
            (
                "wasmon-sdk/Cargo.toml",
                include_str!("../../templates/rust/sdk-Cargo.toml"),
            ),
        ],
        Language::Python => &[
            ("app.py", include_str!("../../templates/python/app.py")),
            (
                "wasmon_check.py",
                include_str!("../../templates/python/wasmon_check.py"),
            ),
            (
                "test_app.py",
                include_str!("../../templates/python/test_app.py"),
            ),
            (
                "wasmon_testing.py",
                include_str!("../../templates/python/wasmon_testing.py"),
            ),
            (
                "config.yaml",
                include_str!("../../templates/python/config.yaml"),
            ),
            (
                "README.md",
                include_str!("../../templates/python/README.md"),
            ),
        ],
        Language::Js => &[
            (
                "package.json",
                include_str!("../../templates/js/package.json"),
            ),
            ("app.js", include_str!("../../templates/js/app.js")),
            (
                "wasmon_check.js",
                include_str!("../../templates/js/wasmon_check.js"),
            ),
            (
                "json_metrics.js",
                include_str!("../../templates/js/json_metrics.js"),
            ),
            (
                "app.test.js",
                include_str!("../../templates/js/app.test.js"),
            ),
            (
                "config.yaml",
                include_str!("../../templates/js/config.yaml"),
            ),
            ("README.md", include_str!("../../templates/js/README.md")),
        ],
    }
}

/// `check.yaml` at the root of a check project: what `wasmon build` builds.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The check's name (its `.wasm` and `conf.d/<name>.yaml`).
    pub name: String,
    /// Its language.
    pub language: Language,
    /// The world of `wit/worlds.wit` it targets.
    pub world: String,
}

/// The newest WIT package ([`WitVersion::NEWEST`]), vendored into every project: each
/// capability's file, then the worlds.
fn wit_files() -> Vec<WitFile> {
    let mut files: Vec<WitFile> = Vec::new();
    for capability in capabilities::ALL {
        if let Some(file) = &capability.wit
            && !files.iter().any(|f| f.name == file.name)
        {
            files.push(*file);
        }
    }
    files.push(newest_wit!("worlds.wit"));
    files
}

/// The Rust SDK's sources, vendored into Rust projects.
const SDK: [(&str, &str); 10] = [
    (
        "lib.rs",
        include_str!("../../../checks-wasm/sdk/src/lib.rs"),
    ),
    (
        "check.rs",
        include_str!("../../../checks-wasm/sdk/src/check.rs"),
    ),
    (
        "config.rs",
        include_str!("../../../checks-wasm/sdk/src/config.rs"),
    ),
    (
        "output.rs",
        include_str!("../../../checks-wasm/sdk/src/output.rs"),
    ),
    (
        "testing.rs",
        include_str!("../../../checks-wasm/sdk/src/testing.rs"),
    ),
    (
        "capabilities/mod.rs",
        include_str!("../../../checks-wasm/sdk/src/capabilities/mod.rs"),
    ),
    (
        "capabilities/exec.rs",
        include_str!("../../../checks-wasm/sdk/src/capabilities/exec.rs"),
    ),
    (
        "capabilities/files.rs",
        include_str!("../../../checks-wasm/sdk/src/capabilities/files.rs"),
    ),
    (
        "capabilities/fs_usage.rs",
        include_str!("../../../checks-wasm/sdk/src/capabilities/fs_usage.rs"),
    ),
    (
        "capabilities/mysql.rs",
        include_str!("../../../checks-wasm/sdk/src/capabilities/mysql.rs"),
    ),
];

/// Where the Rust SDK finds the WIT in the repository.
const SDK_WIT_PATH: &str = "path: \"../../wit/wasmon-check@0.2.0\"";

/// Creates the project `dir` (default `./NAME`) for check `name`.
pub fn new(name: &str, language: Language, dir: Option<PathBuf>) -> anyhow::Result<()> {
    let valid = !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !valid {
        bail!(
            "{name:?}: a check name is lower-case letters, digits, `_` and `-`, starting with a letter"
        );
    }
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        bail!("{}: exists and is not empty", dir.display());
    }
    let lib = name.replace('-', "_");
    let type_name: String = lib
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    let version = WitVersion::NEWEST.semver();
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{componentize_js}}", COMPONENTIZE_JS)
            .replace("{{lib}}", &lib)
            .replace("{{type}}", &type_name)
            .replace("{{wit_version}}", version)
    };
    let write = |path: &str, text: &str| -> anyhow::Result<()> {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    for WitFile { name: file, text } in wit_files() {
        write(&format!("wit/{file}"), text)?;
    }
    for (file, text) in template(language) {
        write(file, &fill(text))?;
    }
    if language == Language::Rust {
        for (file, text) in SDK {
            // The SDK finds the WIT in the repository's `wit/`, here in the project's.
            write(
                &format!("wasmon-sdk/src/{file}"),
                &text.replace(SDK_WIT_PATH, "path: \"../wit\""),
            )?;
        }
    }
    let world = language.world();
    let manifest = Manifest {
        name: name.to_string(),
        language,
        world: world.to_string(),
    };
    write("check.yaml", &serde_yaml::to_string(&manifest)?)?;
    println!(
        "created {} ({} check `{name}`, world `{world}`)\nnext: wasmon build {d}\n\
         then: wasmon check {name} --wasm {d}/{name}.wasm (try it), and to publish it signed:\n  \
         minisign -G -W -p checks.pub -s checks.sec (once)\n  \
         wasmon push {d} REGISTRY/checks/{name}:1 --key checks.sec",
        dir.display(),
        language.name(),
        d = dir.display()
    );
    Ok(())
}

/// Reads `DIR/check.yaml`.
pub fn manifest(dir: &Path) -> anyhow::Result<Manifest> {
    let path = dir.join("check.yaml");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{}: not a check project (create one with `wasmon new NAME --lang rust|python|js`)",
            path.display()
        )
    })?;
    serde_yaml::from_str(&text).with_context(|| format!("{}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_get_the_newest_wit() {
        let package = format!("package {};", WitVersion::NEWEST.package());
        for WitFile { name: file, text } in wit_files() {
            assert!(text.starts_with(&package), "{file}");
        }
        let folder = WitVersion::NEWEST.package().replace(':', "-");
        assert!(SDK_WIT_PATH.contains(&format!("/wit/{folder}\"")));
        assert!(SDK[0].1.contains(SDK_WIT_PATH), "the SDK's bindgen path");
    }

    #[test]
    fn every_sdk_source_is_vendored() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../checks-wasm/sdk/src");
        let mut found = Vec::new();
        let mut folders = vec![root.clone()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    folders.push(path);
                } else if let Ok(relative) = path.strip_prefix(&root) {
                    found.push(relative.to_string_lossy().into_owned());
                }
            }
        }
        found.sort();
        let mut vendored: Vec<String> = SDK.iter().map(|(f, _)| f.to_string()).collect();
        vendored.sort();
        assert_eq!(found, vendored);
    }
}
