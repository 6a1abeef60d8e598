//! The supervisor in paused time, with a scripted launcher: real conf.d and checks folders, no
//! compiling. A module file holds its version as text (`bad` refuses to load); an instance's
//! own keys say how its start goes (`prepare_ms`, `fail`) and what it reports as (`say`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::*;
use crate::config::InstanceConfig;
use crate::runtime::RunReport;
use crate::sinks::Sinks;

/// The wall clock a scripted instance reads at the test's start: a whole minute.
const BASE_MS: i64 = 1_700_000_040_000;

/// A run: which instance, its module's version and `say`, and when it was scheduled.
#[derive(Debug, Clone, PartialEq)]
struct Run {
    label: String,
    says: String,
    at: i64,
}

/// Loads module files as text and prepares instances as their config says, noting what it did.
#[derive(Clone)]
struct Scripted {
    epoch: Instant,
    prepares: Arc<Mutex<Vec<String>>>,
    runs: Arc<Mutex<Vec<Run>>>,
}

/// A scripted module: its version and digest.
#[derive(Clone)]
struct Text {
    version: String,
}

/// A scripted instance: notes each run.
struct Recorder {
    label: Arc<str>,
    says: String,
    epoch: Instant,
    runs: Arc<Mutex<Vec<Run>>>,
}

impl Runner for Recorder {
    fn label(&self) -> &Arc<str> {
        &self.label
    }

    fn run(&mut self, at: i64, _: Duration) -> impl Future<Output = RunReport> + Send {
        self.runs.lock().unwrap().push(Run {
            label: self.label.to_string(),
            says: self.says.clone(),
            at,
        });
        async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            RunReport {
                output: Default::default(),
                result: Ok(()),
                duration: Duration::from_millis(5),
            }
        }
    }

    fn now_ms(&self) -> i64 {
        BASE_MS + self.epoch.elapsed().as_millis() as i64
    }
}

impl Launcher for Scripted {
    type Module = Text;
    type Runner = Recorder;

    async fn load(self, path: PathBuf) -> Result<Loaded<Text>, String> {
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        if text == "bad" {
            return Err(format!("{}: not a component", path.display()));
        }
        Ok(Loaded {
            sha256: hex::encode(Sha256::digest(&text)),
            module: Text { version: text },
            origin: Origin::Cache,
            took: Duration::ZERO,
        })
    }

    async fn prepare(
        self,
        _: AgentConfig,
        file: Arc<CheckFile>,
        index: usize,
        module: Text,
    ) -> Result<Prepared<Recorder>, String> {
        let instance = &file.instances[index];
        let key = |k: &str| instance.check_config.get(k).cloned();
        let label = format!("{}[{index}]", file.check);
        self.prepares.lock().unwrap().push(label.clone());
        let took = key("prepare_ms").and_then(|v| v.as_u64()).unwrap_or(10);
        tokio::time::sleep(Duration::from_millis(took)).await;
        if let Some(fail) = key("fail").and_then(|v| v.as_str().map(String::from)) {
            return Err(format!("{label}: {fail}"));
        }
        let says = key("say").and_then(|v| v.as_str().map(String::from));
        Ok(prepared(
            &file,
            instance,
            Recorder {
                label: label.into(),
                says: format!("{}/{}", module.version, says.unwrap_or_default()),
                epoch: self.epoch,
                runs: self.runs.clone(),
            },
            &module,
        ))
    }

    fn prune(&self, _: &HashSet<String>) {}
}

/// `instance` of `file`, run every second on the second.
fn prepared(
    file: &CheckFile,
    instance: &InstanceConfig,
    recorder: Recorder,
    module: &Text,
) -> Prepared<Recorder> {
    Prepared {
        check: file.check.clone(),
        index: instance.index,
        task: scheduler::InstanceTask {
            instance: recorder,
            schedule: Schedule::aligned(instance.interval.unwrap_or(Duration::from_secs(1))),
            timeout: Duration::from_secs(1),
            tags: instance.tags.clone(),
            identity: Vec::new(),
            status: SharedStatus::default(),
        },
        grants: Vec::new(),
        sha256: hex::encode(Sha256::digest(&module.version)),
        version: module.version.clone(),
    }
}

/// A supervisor over a throwaway conf.d and checks folder.
struct Setup {
    dir: tempfile::TempDir,
    supervisor: Supervisor<Scripted>,
    launcher: Scripted,
    /// How many module files were written: each is dated a second later than the last.
    written: u64,
    _sinks: Sinks,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for folder in ["conf.d", "checks.d", "data"] {
            std::fs::create_dir(dir.path().join(folder)).unwrap();
        }
        let config = AgentConfig {
            conf_d: dir.path().join("conf.d"),
            checks_d: vec![dir.path().join("checks.d")],
            data_dir: dir.path().join("data"),
            rescan_secs: 60,
            ..AgentConfig::default()
        };
        let sinks = Sinks::start(&[], &config.data_dir).unwrap();
        let stage = Stage::new(&config, sinks.sender());
        let launcher = Scripted {
            epoch: Instant::now(),
            prepares: Arc::default(),
            runs: Arc::default(),
        };
        let supervisor = Supervisor::new(
            config,
            launcher.clone(),
            stage,
            &sinks,
            Placement::everything(),
            Arc::default(),
            None,
        );
        Self {
            dir,
            supervisor,
            launcher,
            written: 0,
            _sinks: sinks,
        }
    }

    /// Writes `check`'s module, holding `version`, dated well before now (it has settled).
    fn module(&mut self, check: &str, version: &str) {
        self.written += 1;
        let path = self
            .dir
            .path()
            .join("checks.d")
            .join(format!("{check}.wasm"));
        write_dated(&path, version, 100 - self.written);
    }

    /// Writes `check`'s config.
    fn config(&self, check: &str, instances: &str) {
        let path = self.dir.path().join("conf.d").join(format!("{check}.yaml"));
        std::fs::write(path, format!("instances:\n{instances}")).unwrap();
    }

    /// A pass, then the jobs it and earlier passes started, for `span` of paused time.
    async fn reconcile_for(&mut self, span: Duration) -> Outcome {
        let outcome = self.supervisor.reconcile();
        self.run_for(span).await;
        outcome
    }

    /// Takes finished loads and prepares for `span` of paused time; instances run meanwhile.
    async fn run_for(&mut self, span: Duration) {
        let until = Instant::now() + span;
        loop {
            tokio::select! {
                Some(done) = self.supervisor.next_done() => self.supervisor.complete(done),
                () = tokio::time::sleep_until(until) => return,
            }
        }
    }

    /// The instances running, as `check[index]`.
    fn running(&self) -> Vec<String> {
        (self.supervisor.running.keys())
            .map(|(check, index)| format!("{check}[{index}]"))
            .collect()
    }

    fn runs_of(&self, label: &str) -> Vec<Run> {
        let runs = self.launcher.runs.lock().unwrap();
        runs.iter().filter(|r| r.label == label).cloned().collect()
    }

    fn prepares_of(&self, label: &str) -> usize {
        let prepares = self.launcher.prepares.lock().unwrap();
        prepares.iter().filter(|p| *p == label).count()
    }

    fn problems(&self) -> Vec<String> {
        self.supervisor.status().problems
    }
}

/// Writes `text` to `path`, modified `secs_ago` seconds ago by the wall clock.
fn write_dated(path: &Path, text: &str, secs_ago: u64) {
    std::fs::write(path, text).unwrap();
    let when = SystemTime::now() - Duration::from_secs(secs_ago);
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(when).unwrap();
}

const MS: Duration = Duration::from_millis(1);

#[tokio::test(start_paused = true)]
async fn a_start_that_hangs_holds_up_no_other_in_its_pass_or_a_later_one() {
    let mut setup = Setup::new();
    for check in ["hanging", "quick"] {
        setup.module(check, "v1");
    }
    setup.config("hanging", "  - {prepare_ms: 3600000}\n");
    setup.config("quick", "  - {}\n");
    setup.reconcile_for(1_500 * MS).await;
    assert_eq!(setup.running(), ["quick[0]"]);
    assert!(!setup.runs_of("quick[0]").is_empty(), "quick never ran");
    // A check dropped in later starts as soon as it is ready, too.
    setup.module("later", "v1");
    setup.config("later", "  - {}\n");
    setup.reconcile_for(1_500 * MS).await;
    assert_eq!(setup.running(), ["later[0]", "quick[0]"]);
    assert!(!setup.runs_of("later[0]").is_empty(), "later never ran");
    assert!(
        !setup.supervisor.idle(),
        "the hanging start is still in flight"
    );
    assert_eq!(
        setup.prepares_of("hanging[0]"),
        1,
        "one start, not one per pass"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_start_is_retried_once_a_rescan_and_at_once_after_an_edit() {
    let mut setup = Setup::new();
    setup.module("flaky", "v1");
    setup.config("flaky", "  - {fail: no such table}\n");
    setup.reconcile_for(100 * MS).await;
    assert!(setup.running().is_empty());
    assert!(setup.supervisor.failing.contains_key(&("flaky".into(), 0)));
    assert!(
        setup
            .problems()
            .iter()
            .any(|p| p.ends_with("no such table")),
        "{:?}",
        setup.problems()
    );
    // Passes within the rescan interval (60 s) leave it be.
    setup.run_for(Duration::from_secs(30)).await;
    setup.reconcile_for(100 * MS).await;
    assert_eq!(setup.prepares_of("flaky[0]"), 1);
    // Once the interval has passed since it failed, it is tried again.
    setup.run_for(Duration::from_secs(30)).await;
    setup.reconcile_for(100 * MS).await;
    assert_eq!(setup.prepares_of("flaky[0]"), 2);
    // An edit is tried at once, and a start that works ends the failure reports.
    setup.config("flaky", "  - {}\n");
    setup.reconcile_for(100 * MS).await;
    assert_eq!(setup.prepares_of("flaky[0]"), 3);
    assert_eq!(setup.running(), ["flaky[0]"]);
    assert!(setup.supervisor.failing.is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_edit_that_cannot_start_leaves_the_previous_config_running() {
    let mut setup = Setup::new();
    setup.module("steady", "v1");
    setup.config("steady", "  - {say: first}\n");
    setup.reconcile_for(1_500 * MS).await;
    setup.config("steady", "  - {say: second, fail: port refused}\n");
    setup.reconcile_for(2_000 * MS).await;
    let problem = "steady[0]: port refused (the previous config keeps running)";
    assert!(
        setup.problems().contains(&problem.to_string()),
        "{:?}",
        setup.problems()
    );
    let runs = setup.runs_of("steady[0]");
    assert!(runs.len() >= 3, "{runs:?}");
    assert!(runs.iter().all(|r| r.says == "v1/first"), "{runs:?}");
    // The next pass tries the new config again, not only a rescan later.
    setup.reconcile_for(100 * MS).await;
    assert_eq!(setup.prepares_of("steady[0]"), 3);
}

#[tokio::test(start_paused = true)]
async fn a_new_version_takes_over_between_two_runs_on_the_same_schedule() {
    let mut setup = Setup::new();
    setup.module("rolling", "v1");
    setup.config("rolling", "  - {}\n");
    setup.reconcile_for(2_500 * MS).await;
    setup.module("rolling", "v2");
    setup.reconcile_for(3_000 * MS).await;
    let runs = setup.runs_of("rolling[0]");
    let gaps: Vec<i64> = runs.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(
        gaps.iter().all(|g| *g == 1_000),
        "a gap or a double: {runs:?}"
    );
    let versions: Vec<&str> = runs.iter().map(|r| r.says.as_str()).collect();
    let switched = versions.iter().position(|v| *v == "v2/").expect("v2 ran");
    assert!(switched >= 2, "{versions:?}");
    assert!(
        versions[..switched].iter().all(|v| *v == "v1/"),
        "{versions:?}"
    );
    assert!(
        versions[switched..].iter().all(|v| *v == "v2/"),
        "{versions:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_module_that_will_not_load_leaves_the_previous_version_running() {
    let mut setup = Setup::new();
    setup.module("kept", "v1");
    setup.config("kept", "  - {}\n");
    setup.reconcile_for(1_500 * MS).await;
    setup.module("kept", "bad");
    setup.reconcile_for(2_000 * MS).await;
    assert!(
        setup
            .problems()
            .iter()
            .any(|p| p.ends_with("not a component (the previous version keeps running)")),
        "{:?}",
        setup.problems()
    );
    let runs = setup.runs_of("kept[0]");
    assert!(
        runs.len() >= 3 && runs.iter().all(|r| r.says == "v1/"),
        "{runs:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_start_a_later_pass_superseded_is_dropped_when_it_ends() {
    let mut setup = Setup::new();
    setup.module("edited", "v1");
    setup.config("edited", "  - {say: first, prepare_ms: 1000}\n");
    setup.reconcile_for(200 * MS).await;
    setup.config("edited", "  - {say: second, prepare_ms: 1000}\n");
    setup.reconcile_for(3_000 * MS).await;
    let runs = setup.runs_of("edited[0]");
    assert!(!runs.is_empty());
    assert!(runs.iter().all(|r| r.says == "v1/second"), "{runs:?}");
}

#[tokio::test(start_paused = true)]
async fn a_module_still_being_written_is_loaded_once_it_settles() {
    let mut setup = Setup::new();
    let path = setup.dir.path().join("checks.d/fresh.wasm");
    write_dated(&path, "v1", 0);
    setup.config("fresh", "  - {}\n");
    assert_eq!(setup.reconcile_for(100 * MS).await, Outcome::RetrySoon);
    assert!(setup.running().is_empty());
    write_dated(&path, "v1", 1);
    assert_eq!(setup.reconcile_for(100 * MS).await, Outcome::Done);
    assert_eq!(setup.running(), ["fresh[0]"]);
}

#[tokio::test(start_paused = true)]
async fn a_check_whose_module_is_deleted_stops_and_one_whose_config_breaks_is_held() {
    let mut setup = Setup::new();
    for check in ["deleted", "broken"] {
        setup.module(check, "v1");
        setup.config(check, "  - {}\n");
    }
    setup.reconcile_for(100 * MS).await;
    assert_eq!(setup.running(), ["broken[0]", "deleted[0]"]);
    std::fs::remove_file(setup.dir.path().join("checks.d/deleted.wasm")).unwrap();
    setup.config("broken", "  - [not, a, mapping]\n");
    setup.reconcile_for(100 * MS).await;
    assert_eq!(setup.running(), ["broken[0]"]);
    let problems = setup.problems();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems.iter().any(|p| p.contains("broken.yaml")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("deleted")),
        "{problems:?}"
    );
}
