//! Secrets in config files. `${NAME}` in a string value is the environment variable `NAME`
//! (`$${` is a literal `${`); a string value that is exactly `ENC[handle]` is resolved by
//! Datadog's secret backend, the `secret_backend_command` of `wasmon.yaml`, run once per file
//! with all the file's handles. A file holding a written-out secret that other users may read
//! is named in a warning, once.
//!
//! A file without `${` or `ENC[` is deserialized from its text, as before. A file with them is
//! parsed into a [`Value`] tree and resolved inside its string scalars only, so a value with
//! `:`, `#` or a newline cannot change the structure. The tree is then rendered to YAML again
//! and deserialized from that text, so every other value reads exactly as it would from the
//! file (a plain `1` still fills a string field); errors find their line in the file by their
//! field. A resolved value is always a string.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, PoisonError, RwLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use serde_yaml::Value;

use super::{AgentConfig, ConfigError, yaml};

/// The backend named by the agent's config, for the check configs loaded after it.
static BACKEND: RwLock<Option<SecretBackend>> = RwLock::new(None);

/// Files already warned about, so that each is named once.
static WARNED: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// How often a running backend is checked for its exit.
const POLL: Duration = Duration::from_millis(10);

/// How long the backend's output may trail its exit.
const DRAIN: Duration = Duration::from_secs(1);

/// Bytes of the backend's stderr kept for an error message.
const STDERR_KEPT: usize = 4096;

/// Datadog's secret backend: a program that is given handles and prints their secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretBackend {
    /// The program, run directly (no shell, no `PATH` lookup).
    pub command: PathBuf,
    /// How long one run may take; its process group is killed then.
    pub timeout: Duration,
    /// Bytes it may print.
    pub output_max_size: usize,
}

/// A config file ready to deserialize, its secrets resolved.
pub struct Document<'a> {
    path: &'a Path,
    /// The file as written.
    text: &'a str,
    /// The file rendered again with its references resolved; `None` when it has none.
    resolved: Option<String>,
    /// Values from the backend, blanked out of error messages.
    secrets: Vec<String>,
}

impl Document<'_> {
    /// Deserializes the file into `T`; errors name the file's line and the field.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let parsed = match &self.resolved {
            None => yaml::parse(self.path, self.text),
            Some(resolved) => yaml::parse_resolved(self.path, self.text, resolved),
        };
        parsed.map_err(|mut e| {
            for secret in &self.secrets {
                e.message = e.message.replace(secret.as_str(), "<secret>");
            }
            e
        })
    }
}

/// Resolves the secrets of a check config, `path` holding `text`, from the environment and
/// through the backend of the agent's config.
pub fn resolve<'a>(path: &'a Path, text: &'a str) -> Result<Document<'a>, ConfigError> {
    let backend = BACKEND
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    resolve_with(path, text, backend.as_ref(), |name| {
        std::env::var(name).ok()
    })
}

/// Parses the agent's config, `path` holding `text`: `${NAME}` first, then `ENC[handle]`
/// through the backend the file itself names, which then serves the check configs too.
pub fn parse_agent(path: &Path, text: &str) -> Result<AgentConfig, ConfigError> {
    let (config, backend) = parse_agent_with(path, text, |name| std::env::var(name).ok())?;
    *BACKEND.write().unwrap_or_else(PoisonError::into_inner) = backend;
    Ok(config)
}

/// [`parse_agent`] with `env` for the environment, returning the backend instead of keeping it.
fn parse_agent_with(
    path: &Path,
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(AgentConfig, Option<SecretBackend>), ConfigError> {
    let Some(Scan { mut value, handles }) = scan(path, text, &env)? else {
        let config: AgentConfig = yaml::parse(path, text)?;
        let backend = backend_of(path, &config);
        return Ok((config, backend));
    };
    // The backend's own keys are read with the file's `ENC[…]` still unresolved.
    let config: AgentConfig = document(path, text, &value, Vec::new())?.parse()?;
    let backend = backend_of(path, &config);
    if handles.is_empty() {
        return Ok((config, backend));
    }
    let secrets = fetch(path, text, backend.as_ref(), &handles)?;
    replace(&mut value, &secrets);
    let config: AgentConfig =
        document(path, text, &value, secrets.into_values().collect())?.parse()?;
    Ok((config, backend))
}

/// [`resolve`] through `backend`, with `env` for the environment.
fn resolve_with<'a>(
    path: &'a Path,
    text: &'a str,
    backend: Option<&SecretBackend>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Document<'a>, ConfigError> {
    let Some(Scan { mut value, handles }) = scan(path, text, &env)? else {
        return Ok(Document {
            path,
            text,
            resolved: None,
            secrets: Vec::new(),
        });
    };
    let secrets = fetch(path, text, backend, &handles)?;
    replace(&mut value, &secrets);
    document(path, text, &value, secrets.into_values().collect())
}

/// The document of `value`, the tree of `text` once resolved.
fn document<'a>(
    path: &'a Path,
    text: &'a str,
    value: &Value,
    secrets: Vec<String>,
) -> Result<Document<'a>, ConfigError> {
    let resolved = serde_yaml::to_string(value)
        .map_err(|e| ConfigError::file(path, format!("cannot render the resolved config: {e}")))?;
    Ok(Document {
        path,
        text,
        resolved: Some(resolved),
        secrets,
    })
}

/// The backend that `config`, read from `path`, names. A relative command is taken from the
/// file's folder.
fn backend_of(path: &Path, config: &AgentConfig) -> Option<SecretBackend> {
    let command = config.secret_backend_command.as_ref()?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Some(SecretBackend {
        command: base.join(command),
        timeout: Duration::from_secs(config.secret_backend_timeout),
        output_max_size: config.secret_backend_output_max_size,
    })
}

/// A file's tree with `${NAME}` substituted, and the `ENC[handle]` values it holds.
struct Scan {
    value: Value,
    /// Each handle once, in order of first use.
    handles: Vec<Handle>,
}

/// One `ENC[handle]`.
struct Handle {
    name: String,
    /// The field of its first use.
    field: String,
}

/// Parses `text` into a tree when it references anything (`None` when not: it is read as
/// written) and substitutes `${NAME}` in it. Warns, once, when the file holds a written-out
/// secret that other users can read.
fn scan(
    path: &Path,
    text: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<Scan>, ConfigError> {
    let references = text.contains("${") || text.contains("ENC[");
    // The tree is parsed for the permission warning only where it can say something: a file
    // others can read, not warned about yet, with a key that looks like a secret's.
    let mode = std::fs::metadata(path)
        .map(|m| m.mode())
        .ok()
        .filter(|&mode| readable_by_others(mode))
        .filter(|_| !warned(path) && mentions_secret_key(text));
    if !references && mode.is_none() {
        return Ok(None);
    }
    let mut value: Value = match yaml::parse(path, text) {
        Ok(value) => value,
        Err(e) if references => return Err(e),
        // Left to the parse as written, which reports it.
        Err(_) => return Ok(None),
    };
    if let Some(mode) = mode
        && let Some(field) = exposed_secret(&value, mode)
    {
        warn_once(path, &field, mode);
    }
    if !references {
        return Ok(None);
    }
    let mut handles = Vec::new();
    substitute(&mut value, "", env, &mut handles)
        .map_err(|(field, message)| error_at(path, text, &field, message))?;
    Ok(Some(Scan { value, handles }))
}

/// An error about `field` of the file `path` holding `text`.
fn error_at(path: &Path, text: &str, field: &str, message: String) -> ConfigError {
    if field.is_empty() {
        ConfigError::file(path, message)
    } else {
        ConfigError::field(path, yaml::locate_nearest(text, field), field, message)
    }
}

/// Substitutes `${NAME}` in every string of `value`, whose path is `field` (keys are left as
/// they are), and collects the `ENC[handle]` strings it then holds. A problem comes with its
/// field.
fn substitute(
    value: &mut Value,
    field: &str,
    env: &impl Fn(&str) -> Option<String>,
    handles: &mut Vec<Handle>,
) -> Result<(), (String, String)> {
    match value {
        Value::String(s) => {
            let pieces = pieces(s).map_err(|m| (field.to_string(), m))?;
            if pieces.len() > 1 {
                let mut resolved = String::with_capacity(s.len());
                for piece in pieces {
                    match piece {
                        Piece::Text(text) => resolved.push_str(text),
                        Piece::Var(name) => resolved.push_str(&env(name).ok_or_else(|| {
                            (
                                field.to_string(),
                                format!("${{{name}}} is not set in the environment"),
                            )
                        })?),
                    }
                }
                *s = resolved;
            }
            if let Some(name) = enc_handle(s) {
                if name.is_empty() {
                    return Err((field.to_string(), "`ENC[]` names no handle".into()));
                }
                if !handles.iter().any(|h| h.name == name) {
                    handles.push(Handle {
                        name: name.to_string(),
                        field: field.to_string(),
                    });
                }
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                substitute(item, &format!("{field}[{i}]"), env, handles)?;
            }
        }
        Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                substitute(item, &child(field, key), env, handles)?;
            }
        }
        Value::Tagged(tagged) => substitute(&mut tagged.value, field, env, handles)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// The path of `key` under `field`, written as serde_path_to_error writes it.
fn child(field: &str, key: &Value) -> String {
    let key = match key {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => "?".into(),
    };
    if field.is_empty() {
        key
    } else {
        format!("{field}.{key}")
    }
}

/// A part of a string value.
#[derive(Debug, PartialEq)]
enum Piece<'s> {
    /// Text, as it is.
    Text(&'s str),
    /// `${NAME}`: the name.
    Var(&'s str),
}

/// Splits `s` at its `${NAME}` references; `$${` is a literal `${`. The error does not quote
/// `s`, which may be a secret.
fn pieces(s: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        if rest[..i].ends_with('$') {
            pieces.extend([Piece::Text(&rest[..i - 1]), Piece::Text("${")]);
            rest = &rest[i + 2..];
            continue;
        }
        pieces.push(Piece::Text(&rest[..i]));
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            return Err(
                "`${` without its `}`: write `${NAME}`, or `$${` for a literal `${`".into(),
            );
        };
        let name = &after[..end];
        if !is_name(name) {
            return Err(
                "`${…}` names no variable (letters, digits and `_`, not first a digit); \
                        `$${` is a literal `${`"
                    .into(),
            );
        }
        pieces.push(Piece::Var(name));
        rest = &after[end + 1..];
    }
    pieces.push(Piece::Text(rest));
    Ok(pieces)
}

/// Whether `name` can name an environment variable.
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The handle of a value that is exactly `ENC[handle]`.
fn enc_handle(s: &str) -> Option<&str> {
    s.strip_prefix("ENC[")?.strip_suffix(']')
}

/// Replaces every `ENC[handle]` string of `value` by the handle's secret.
fn replace(value: &mut Value, secrets: &BTreeMap<String, String>) {
    match value {
        Value::String(s) => {
            let secret = enc_handle(s).and_then(|h| secrets.get(h)).cloned();
            if let Some(secret) = secret {
                *s = secret;
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(|item| replace(item, secrets)),
        Value::Mapping(map) => map.values_mut().for_each(|item| replace(item, secrets)),
        Value::Tagged(tagged) => replace(&mut tagged.value, secrets),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Asks the backend for every handle in one run; each handle's secret.
fn fetch(
    path: &Path,
    text: &str,
    backend: Option<&SecretBackend>,
    handles: &[Handle],
) -> Result<BTreeMap<String, String>, ConfigError> {
    let Some(first) = handles.first() else {
        return Ok(BTreeMap::new());
    };
    let fail = |handle: &Handle, problem: String| {
        let message = format!("ENC[{}]: {problem}", handle.name);
        error_at(path, text, &handle.field, message)
    };
    let Some(backend) = backend else {
        let problem = "no `secret_backend_command` in wasmon.yaml resolves it".to_string();
        return Err(fail(first, problem));
    };
    let names: Vec<&str> = handles.iter().map(|h| h.name.as_str()).collect();
    let input = serde_json::json!({"version": "1.0", "secrets": names}).to_string();
    let reply = run(backend, input.as_bytes())
        .and_then(|output| match serde_json::from_slice(&output) {
            Ok(Json::Object(reply)) => Ok(reply),
            Ok(_) => Err("printed JSON that is not an object of handles".to_string()),
            // A syntax error: it does not quote the output.
            Err(e) => Err(format!("printed invalid JSON: {e}")),
        })
        .map_err(|problem| {
            let others: Vec<String> = handles
                .iter()
                .skip(1)
                .map(|h| format!("ENC[{}]", h.name))
                .collect();
            let with = if others.is_empty() {
                String::new()
            } else {
                format!(" (asked with {})", others.join(", "))
            };
            let command = backend.command.display();
            fail(
                first,
                format!("secret_backend_command {command}{with}: {problem}"),
            )
        })?;
    let mut secrets = BTreeMap::new();
    for handle in handles {
        let secret = answer(&reply, &handle.name).map_err(|problem| fail(handle, problem))?;
        secrets.insert(handle.name.clone(), secret);
    }
    Ok(secrets)
}

/// The secret that the backend's `reply` gives for `handle`.
fn answer(reply: &serde_json::Map<String, Json>, handle: &str) -> Result<String, String> {
    let Some(entry) = reply.get(handle) else {
        return Err("the secret backend's answer leaves it out".into());
    };
    match (entry.get("error"), entry.get("value")) {
        (Some(Json::String(error)), _) => Err(format!("the secret backend failed: {error}")),
        (Some(error), _) if !error.is_null() => Err("the secret backend failed".into()),
        (_, Some(Json::String(value))) if value.is_empty() => {
            Err("the secret backend gave an empty value".into())
        }
        (_, Some(Json::String(value))) => Ok(value.clone()),
        _ => Err("the secret backend's answer for it has no string `value`".into()),
    }
}

/// Runs the backend with `input` on its stdin: what it printed, once it exited 0 in time.
fn run(backend: &SecretBackend, input: &[u8]) -> Result<Vec<u8>, String> {
    let mut command = Command::new(&backend.command);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = spawn(&mut command).map_err(|e| format!("cannot run it: {e}"))?;
    let deadline = Instant::now().checked_add(backend.timeout);
    if let Some(mut stdin) = child.stdin.take() {
        let input = input.to_vec();
        // From a thread: a backend that does not read its input must not hold up the agent.
        thread::spawn(move || stdin.write_all(&input));
    }
    let stdout = read_capped(child.stdout.take(), backend.output_max_size, false);
    let stderr = read_capped(child.stderr.take(), STDERR_KEPT, true);
    let waited = wait(&mut child, deadline);
    // The whole group: what a finished backend left behind, or all of it at the timeout.
    if let Ok(group) = i32::try_from(child.id()) {
        let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
    }
    let status = match waited {
        Ok(Some(status)) => status,
        Ok(None) => {
            let _ = child.wait();
            let timeout = backend.timeout;
            return Err(format!(
                "timed out after {timeout:?} (secret_backend_timeout)"
            ));
        }
        Err(e) => {
            let _ = child.wait();
            return Err(format!("cannot wait for it: {e}"));
        }
    };
    let out = stdout.recv_timeout(DRAIN).unwrap_or_default();
    let err = stderr.recv_timeout(DRAIN).unwrap_or_default();
    if out.len() > backend.output_max_size {
        let max = backend.output_max_size;
        return Err(format!(
            "printed more than {max} bytes (secret_backend_output_max_size)"
        ));
    }
    if !status.success() {
        let err = String::from_utf8_lossy(&err);
        let said = err
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(|l| format!(": {}", l.chars().take(200).collect::<String>()))
            .unwrap_or_default();
        return Err(format!("failed ({status}){said}"));
    }
    Ok(out)
}

/// Spawns `command`, retrying briefly while its file is busy (being written, or held open for
/// writing by a process that another thread is forking).
fn spawn(command: &mut Command) -> io::Result<Child> {
    for _ in 0..10 {
        match command.spawn() {
            Err(e) if e.kind() == io::ErrorKind::ExecutableFileBusy => thread::sleep(POLL),
            spawned => return spawned,
        }
    }
    command.spawn()
}

/// Waits for `child` to exit (its status) or for `deadline` to pass (`None`).
fn wait(child: &mut Child, deadline: Option<Instant>) -> io::Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(None);
        }
        thread::sleep(POLL);
    }
}

/// Reads `pipe` from a thread, keeping its first `keep` bytes and one more (which tells that
/// there was more). Then it stops reading, so that the writer gets EPIPE, unless `drain`.
fn read_capped<R: Read + Send + 'static>(
    pipe: Option<R>,
    keep: usize,
    drain: bool,
) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        thread::spawn(move || {
            let mut kept = Vec::new();
            let limit = u64::try_from(keep).unwrap_or(u64::MAX).saturating_add(1);
            // A read error ends the output as its end would.
            let _ = pipe.by_ref().take(limit).read_to_end(&mut kept);
            if drain {
                let _ = io::copy(&mut pipe, &mut io::sink());
            }
            let _ = tx.send(kept);
        });
    }
    rx
}

/// Whether a file of `mode` is readable by its group or by others.
fn readable_by_others(mode: u32) -> bool {
    mode & 0o044 != 0
}

/// The field of a written-out secret (see [`literal_secret`]) in `value` that a file of `mode`
/// shows to other users, if any: the case for a warning.
fn exposed_secret(value: &Value, mode: u32) -> Option<String> {
    if !readable_by_others(mode) {
        return None;
    }
    literal_secret(value, "")
}

/// The first field under `field` with a secret-looking key (`pass`, `token`, or ending in
/// `_key` or `password`, as `api_key` and `db_password` do) whose value is written out: not
/// empty, and neither `${NAME}` nor `ENC[handle]`.
fn literal_secret(value: &Value, field: &str) -> Option<String> {
    match value {
        Value::Mapping(map) => map.iter().find_map(|(key, item)| {
            let field = child(field, key);
            if key.as_str().is_some_and(secret_key) && written_out(item) {
                Some(field)
            } else {
                literal_secret(item, &field)
            }
        }),
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| literal_secret(item, &format!("{field}[{i}]"))),
        Value::Tagged(tagged) => literal_secret(&tagged.value, field),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => None,
    }
}

/// Whether some line of `text` starts a mapping entry whose key looks like a secret's.
fn mentions_secret_key(text: &str) -> bool {
    text.lines().any(|line| {
        let entry = line.trim_start().trim_start_matches("- ").trim_start();
        entry
            .split_once(':')
            .is_some_and(|(key, _)| secret_key(key.trim().trim_matches(['"', '\''])))
    })
}

/// Whether `path` was warned about already.
fn warned(path: &Path) -> bool {
    WARNED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contains(path)
}

/// Whether a key looks like it holds a secret.
fn secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key == "pass" || key == "token" || key.ends_with("_key") || key.ends_with("password")
}

/// Whether `value` is a secret written out in the file.
fn written_out(value: &Value) -> bool {
    match value {
        Value::String(s) => {
            !s.is_empty()
                && enc_handle(s).is_none()
                && pieces(s).is_ok_and(|p| p.iter().all(|p| matches!(p, Piece::Text(_))))
        }
        Value::Number(_) => true,
        Value::Tagged(tagged) => written_out(&tagged.value),
        Value::Null | Value::Bool(_) | Value::Sequence(_) | Value::Mapping(_) => false,
    }
}

/// Warns, once per file, that `path` (of `mode`) holds a written-out secret at `field` and that
/// other users can read it. The value itself is never logged.
fn warn_once(path: &Path, field: &str, mode: u32) {
    let mut warned = WARNED.lock().unwrap_or_else(PoisonError::into_inner);
    if warned.insert(path.to_path_buf()) {
        let file = path.display();
        tracing::warn!(
            "{file}: {field} holds a secret written out in a file other users can read \
             (mode {:03o}): chmod 600 {file}, or take it from ${{NAME}} or ENC[handle]",
            mode & 0o777
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    const FILE: &str = "conf.d/demo.yaml";

    /// An environment of `vars` only.
    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| vars.get(name).cloned()
    }

    fn json(text: &str, env: impl Fn(&str) -> Option<String>) -> Json {
        resolve_with(Path::new(FILE), text, None, env)
            .unwrap()
            .parse()
            .unwrap()
    }

    /// The error that resolving `text` gives.
    fn refusal(
        text: &str,
        backend: Option<&SecretBackend>,
        env: impl Fn(&str) -> Option<String>,
    ) -> ConfigError {
        match resolve_with(Path::new(FILE), text, backend, env) {
            Ok(_) => panic!("{text:?} was resolved"),
            Err(e) => e,
        }
    }

    /// A backend script `dir/name` running `body`.
    fn backend(dir: &Path, name: &str, body: &str) -> SecretBackend {
        let command = dir.join(name);
        std::fs::write(&command, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&command, std::fs::Permissions::from_mode(0o700)).unwrap();
        SecretBackend {
            command,
            timeout: Duration::from_secs(20),
            output_max_size: 1 << 20,
        }
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Login {
        user: String,
        pass: String,
        port: u16,
    }

    #[test]
    fn variables_go_inside_strings_without_changing_the_structure() {
        let text = "instances:\n  - host: ${DB_HOST}\n    pass: \"${DB_PASS}\"\n    port: 3306\n    \
                    note: at ${DB_HOST}, ${DB_HOST}\n    tags: [\"pw:${DB_PASS}\"]\n";
        let env = env(&[("DB_HOST", "db:1 # x"), ("DB_PASS", "p'a\"ss\nword: - [x]")]);
        assert_eq!(
            json(text, env),
            serde_json::json!({"instances": [{
                "host": "db:1 # x",
                "pass": "p'a\"ss\nword: - [x]",
                "port": 3306,
                "note": "at db:1 # x, db:1 # x",
                "tags": ["pw:p'a\"ss\nword: - [x]"],
            }]})
        );
    }

    #[test]
    fn other_values_read_as_written_and_errors_keep_their_line() {
        let env = env(&[("PASS", "1234")]);
        let parse = |text: &str| -> Result<Login, ConfigError> {
            resolve_with(Path::new(FILE), text, None, &env)?.parse()
        };
        let login = parse("user: 1000\npass: ${PASS}\nport: 3306\n").unwrap();
        assert_eq!((login.user.as_str(), login.pass.as_str()), ("1000", "1234"));
        assert_eq!(login.port, 3306);
        let e = parse("user: me\npass: ${PASS}\nport: many\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(3), Some("port")), "{e}");
        assert!(e.message.contains("expected u16"), "{e}");
        let e = parse("user: me\npass: ${PASS}\nport: 1\nextra: 2\n").unwrap_err();
        assert_eq!(e.line, Some(4), "{e}");
        assert!(e.message.contains("unknown field `extra`"), "{e}");
        // A resolved value is a string.
        let e = parse("user: me\npass: x\nport: ${PASS}\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(3), Some("port")), "{e}");
    }

    #[test]
    fn a_double_dollar_is_a_literal_and_an_unset_variable_an_error() {
        let none = env(&[]);
        assert_eq!(
            json("a: \"$${HOME} costs $5, $$\"\n", &none),
            serde_json::json!({"a": "${HOME} costs $5, $$"})
        );
        let text = "instances:\n  - host: x\n    pass: ${NOPE_PASS}\n";
        let e = refusal(text, None, &none);
        assert_eq!(
            e.to_string(),
            "conf.d/demo.yaml:3: instances[0].pass: ${NOPE_PASS} is not set in the environment"
        );
        let e = refusal("a: 1\nb: x${oops\n", None, &none);
        assert_eq!((e.line, e.field.as_deref()), (Some(2), Some("b")), "{e}");
        assert!(e.message.contains("`$${`"), "{e}");
    }

    #[test]
    fn pieces_split_at_references() {
        assert_eq!(
            pieces("a${B_1}c").unwrap(),
            [Piece::Text("a"), Piece::Var("B_1"), Piece::Text("c")]
        );
        assert_eq!(
            pieces("$$${B}").unwrap(),
            [Piece::Text("$"), Piece::Text("${"), Piece::Text("B}")]
        );
        assert_eq!(pieces("a $ b").unwrap(), [Piece::Text("a $ b")]);
        for bad in ["${}", "${1X}", "${A B}", "${A"] {
            assert!(pieces(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn handles_are_resolved_in_one_run_of_the_backend() {
        let tmp = tempfile::tempdir().unwrap();
        let backend = backend(
            tmp.path(),
            "backend",
            r#"cat > "$0.in"; echo run >> "$0.runs"
echo '{"db": {"value": "pa:ss #1", "error": null}, "key": {"value": "k", "error": null}}'"#,
        );
        let text = "init_config:\n  api_key: ENC[key]\ninstances:\n  - pass: ENC[db]\n  - pass: ENC[db]\n    \
                    note: not ENC[db]\n";
        let doc = resolve_with(Path::new(FILE), text, Some(&backend), env(&[])).unwrap();
        assert_eq!(
            doc.parse::<Json>().unwrap(),
            serde_json::json!({
                "init_config": {"api_key": "k"},
                "instances": [{"pass": "pa:ss #1"}, {"pass": "pa:ss #1", "note": "not ENC[db]"}],
            })
        );
        let input = std::fs::read(tmp.path().join("backend.in")).unwrap();
        assert_eq!(
            serde_json::from_slice::<Json>(&input).unwrap(),
            serde_json::json!({"version": "1.0", "secrets": ["key", "db"]})
        );
        let runs = std::fs::read_to_string(tmp.path().join("backend.runs")).unwrap();
        assert_eq!(runs.lines().count(), 1);
    }

    #[test]
    fn a_secret_stays_out_of_error_messages() {
        let tmp = tempfile::tempdir().unwrap();
        let backend = backend(
            tmp.path(),
            "backend",
            r#"echo '{"p": {"value": "hunter2", "error": null}}'"#,
        );
        let text = "user: me\npass: x\nport: ENC[p]\n";
        let doc = resolve_with(Path::new(FILE), text, Some(&backend), env(&[])).unwrap();
        let e = doc.parse::<Login>().unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(e.message.contains("<secret>"), "{e}");
    }

    #[test]
    fn backend_failures_name_the_handle_and_its_line() {
        let tmp = tempfile::tempdir().unwrap();
        let text = "instances:\n  - host: h\n    pass: ENC[db]\n";
        let fail = |backend: &SecretBackend| {
            let e = refusal(text, Some(backend), env(&[]));
            assert_eq!(e.line, Some(3), "{e}");
            assert_eq!(e.field.as_deref(), Some("instances[0].pass"), "{e}");
            assert!(e.message.starts_with("ENC[db]: "), "{e}");
            e.message
        };
        let m = fail(&backend(
            tmp.path(),
            "exits",
            "echo 'vault sealed' >&2; exit 3",
        ));
        assert!(
            m.contains("exit status: 3") && m.contains("vault sealed"),
            "{m}"
        );

        let mut slow = backend(tmp.path(), "slow", "sleep 30");
        slow.timeout = Duration::from_millis(300);
        let started = Instant::now();
        let m = fail(&slow);
        assert!(m.contains("timed out after 300ms"), "{m}");
        assert!(started.elapsed() < Duration::from_secs(10));

        let m = fail(&backend(tmp.path(), "garbled", "echo 'not json'"));
        assert!(m.contains("printed invalid JSON"), "{m}");

        let m = fail(&backend(
            tmp.path(),
            "omits",
            r#"echo '{"other": {"value": "x", "error": null}}'"#,
        ));
        assert!(m.contains("leaves it out"), "{m}");

        let m = fail(&backend(
            tmp.path(),
            "refuses",
            r#"echo '{"db": {"value": null, "error": "no such secret"}}'"#,
        ));
        assert!(m.contains("failed: no such secret"), "{m}");

        let mut chatty = backend(
            tmp.path(),
            "chatty",
            r#"echo '{"db": {"value": "long enough", "error": null}}'"#,
        );
        chatty.output_max_size = 8;
        let m = fail(&chatty);
        assert!(m.contains("more than 8 bytes"), "{m}");

        let e = refusal(text, None, env(&[]));
        assert!(e.message.contains("no `secret_backend_command`"), "{e}");
    }

    #[test]
    fn the_agent_config_names_its_own_backend() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        backend(
            dir,
            "backend",
            r#"echo '{"host": {"value": "web-9", "error": null}}'"#,
        );
        let text =
            "hostname: ENC[host]\nsecret_backend_command: ${BACKEND}\nsecret_backend_timeout: 5\n";
        let (config, found) = parse_agent_with(
            &dir.join("wasmon.yaml"),
            text,
            env(&[("BACKEND", "backend")]),
        )
        .unwrap();
        assert_eq!(config.hostname.as_deref(), Some("web-9"));
        let found = found.unwrap();
        assert_eq!(found.command, dir.join("backend"));
        assert_eq!(found.timeout, Duration::from_secs(5));
        assert_eq!(found.output_max_size, 1 << 20);
        let (_, found) =
            parse_agent_with(Path::new("wasmon.yaml"), "tags: []\n", env(&[])).unwrap();
        assert_eq!(found, None);
    }

    #[test]
    fn only_a_file_with_a_secret_looking_key_is_parsed_for_the_warning() {
        assert!(mentions_secret_key(
            "instances:\n  - host: db\n    pass: x\n"
        ));
        assert!(mentions_secret_key(
            "sinks:\n  - {type: datadog}\n    api_key: k\n"
        ));
        assert!(!mentions_secret_key(
            "instances:\n  - host: db\n    port: 3306\n"
        ));
    }

    #[test]
    fn a_written_out_secret_in_a_readable_file_is_exposed() {
        let tree = |text: &str| serde_yaml::from_str::<Value>(text).unwrap();
        let written = tree("instances:\n  - host: h\n    pass: hunter2\n");
        for mode in [0o100_644, 0o100_640, 0o100_604] {
            assert_eq!(
                exposed_secret(&written, mode).as_deref(),
                Some("instances[0].pass"),
                "{mode:o}"
            );
        }
        assert_eq!(exposed_secret(&written, 0o100_600), None);
        for safe in [
            "pass: ${PASS}",
            "pass: ENC[db]",
            "pass: \"\"",
            "pass:",
            "passes: x",
            "keys: x",
            "key: x",
        ] {
            assert_eq!(exposed_secret(&tree(safe), 0o644), None, "{safe}");
        }
        for secret in [
            "api_key: abc",
            "sinks: [{type: influx, token: t}]",
            "db_password: 1234",
            "Password: \"$${x}\"",
            "ssl_key: k",
        ] {
            assert!(exposed_secret(&tree(secret), 0o644).is_some(), "{secret}");
        }
    }
}
