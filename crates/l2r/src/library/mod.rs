//! A living task library: tasks arrive one at a time and can be forgotten, each change published as a new immutable
//! **generation** (the tasks, their routers, their evaluation) that a pointer file names; a server follows the
//! pointer without a restart. A change is staged first and published by renames, so a crash at any point leaves the
//! previous generation intact and serving, and `--resume` finishes the change. Paths: [`LibraryLayout`].

mod cluster;
mod config;
mod generation;
mod kubernetes;
mod layout;
mod lock;
mod manifest;
mod sample;
mod slurm;
mod staged;
mod task_list;
mod train;

pub use crate::names::{check_name, ALLOWED};
pub use cluster::{index_from_environment, ClusterJobs, JobOptions, INDEX_VARIABLES};
pub use config::LibraryConfig;
pub use kubernetes::{KubernetesFiles, KubernetesSettings};
pub use layout::{generation_name, GenerationFolder, LibraryLayout, TaskFolder};
pub use lock::LibraryLock;
pub use manifest::{Change, LibraryTask, Manifest};
pub use slurm::SlurmFiles;
pub use staged::StagedTask;
pub use task_list::TaskList;
pub use train::TaskSource;

use crate::backbone::Backbone;
use crate::continual::StepEvaluation;
use crate::error::{Error, Result};
use crate::predict::{RunPredictor, TaskInfo};
use crate::router::RouterNetwork;
pub use generation::BuildTimings;
use generation::{build_generation, GenerationPlan};
use layout::ChangeFolder;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub struct Library {
    layout: LibraryLayout,
    pub config: LibraryConfig,
}

/// A published change: the new generation, and the evaluations before and after it.
pub struct Published {
    pub manifest: Manifest,
    pub before: Option<StepEvaluation>,
    pub after: StepEvaluation,
    /// Where building the generation took its time (`None` when a resumed change found it built).
    pub timings: Option<BuildTimings>,
}

/// What garbage collection deleted.
#[derive(Debug, Default, Serialize)]
pub struct Collected {
    pub generations: Vec<u64>,
    pub tasks: Vec<String>,
}

/// A change in progress, decided before any work so that `--resume` finishes the same change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ChangePlan {
    generation: u64,
    parent: Option<u64>,
    change: Change,
    #[serde(flatten)]
    tasks: PlannedTasks,
}

/// The tasks a change brings in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct PlannedTasks {
    /// For an add: the task's source and its folder id.
    task: Option<(TaskSource, String)>,
    /// For a publish: each staged task's name and folder id.
    #[serde(default)]
    staged: Vec<(String, String)>,
}

impl Library {
    /// Creates an empty library in `dir` (which may exist, but must not hold a library).
    pub fn init(dir: &Path, config: LibraryConfig) -> Result<Self> {
        let layout = LibraryLayout::new(dir);
        if layout.config().exists() {
            return Err(Error::invalid(format!(
                "{} already holds a task library; add tasks with `l2r library add {} --name NAME --data FILE`",
                dir.display(),
                dir.display()
            )));
        }
        config.validate()?;
        crate::io::write_atomic(&layout.config(), config.to_toml()?.as_bytes())?;
        Ok(Library { layout, config })
    }

    pub fn open(dir: &Path) -> Result<Self> {
        let layout = LibraryLayout::new(dir);
        if !layout.config().is_file() {
            return Err(Error::invalid(format!(
                "{} is not a task library (no library.toml); create one with `l2r library init {}`",
                dir.display(),
                dir.display()
            )));
        }
        let config = LibraryConfig::from_file(&layout.config())?;
        Ok(Library { layout, config })
    }

    pub fn layout(&self) -> &LibraryLayout {
        &self.layout
    }

    /// The number of the generation that serves, if any task was ever added.
    pub fn current_generation(&self) -> Result<Option<u64>> {
        let path = self.layout.current();
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        read_pointer(&text)
            .map(Some)
            .map_err(|message| Error::parse(&path, 1, None, message))
    }

    /// Points `CURRENT` at `generation` (atomically).
    fn point_at(&self, generation: u64) -> Result<()> {
        crate::io::write_atomic(&self.layout.current(), pointer(generation).as_bytes())
    }

    pub fn current(&self) -> Result<Option<Manifest>> {
        self.current_generation()?
            .map(|n| self.manifest(n))
            .transpose()
    }

    pub fn manifest(&self, generation: u64) -> Result<Manifest> {
        let path = self.layout.generation(generation).manifest();
        if !path.is_file() {
            return Err(Error::invalid(format!(
                "generation {generation} does not exist in {}; `l2r library history` lists them",
                self.layout.root().display()
            )));
        }
        crate::io::read_json(&path)
    }

    pub fn evaluation(&self, generation: u64) -> Result<StepEvaluation> {
        crate::io::read_json(&self.layout.generation(generation).evaluation())
    }

    /// Generation `generation` evaluated on every test example of every task (an add evaluates the earlier tasks on
    /// `evaluation_budget` examples): computed once, then read from `evaluation-full.json` in the generation.
    pub fn evaluate_every_example(
        &self,
        generation: u64,
        show_progress: bool,
    ) -> Result<StepEvaluation> {
        let tasks = self.parent_tasks(Some(generation))?;
        let folder = self.layout.generation(generation);
        crate::io::json_or_compute(&folder.full_evaluation(), || {
            generation::evaluate_every_example(
                &self.config.run_config(),
                &self.backbone()?,
                &tasks,
                &folder,
                show_progress,
            )
        })
    }

    /// Every generation still on disk, oldest first.
    pub fn history(&self) -> Result<Vec<Manifest>> {
        self.generation_numbers()?
            .into_iter()
            .map(|n| self.manifest(n))
            .collect()
    }

    fn generation_numbers(&self) -> Result<Vec<u64>> {
        let dir = self.layout.generations();
        if !dir.is_dir() {
            return Ok(vec![]);
        }
        let mut numbers: Vec<u64> = std::fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        numbers.sort_unstable();
        Ok(numbers)
    }

    /// Trains `source` in isolation, refits the routers and publishes a generation with it.
    pub fn add(&self, source: TaskSource, resume: bool, show_progress: bool) -> Result<Published> {
        check_name("task", &source.name)?;
        let _lock = LibraryLock::acquire(&self.layout.lock())?;
        let change = self.layout.change(&format!("add-{}", source.name));
        let plan = self.plan(
            &change,
            resume,
            Change::Added(source.name.clone()),
            |current, generation| {
                refuse_known(current, std::slice::from_ref(&source.name))?;
                Ok(PlannedTasks {
                    task: Some((source.clone(), format!("{}-g{generation}", source.name))),
                    staged: vec![],
                })
            },
        )?;
        let Some((planned, id)) = &plan.tasks.task else {
            return Err(Error::invalid("an add without a task"));
        };
        if planned != &source {
            return Err(Error::invalid(format!(
                "the interrupted add of '{}' read {} ({:?}); resume it with the same --data and --format",
                source.name,
                planned.data.display(),
                planned.format
            )));
        }
        let config = self.config.run_config();
        let backbone = self.backbone()?;
        let staged = change.task();
        let final_folder = self.layout.task(id);
        if !final_folder.dir.exists() {
            let task = train::load_task(&config, &source)?;
            train::train_into(&config, &backbone, &task, &staged, show_progress)?;
        }
        crate::faults::crash_point("library-trained");
        let folder = match final_folder.dir.exists() {
            true => final_folder.clone(),
            false => staged.clone(),
        };
        let labels = folder.artifacts().load_record()?.labels;
        let mut tasks = self.parent_tasks(plan.parent)?;
        tasks.push((
            LibraryTask {
                name: source.name.clone(),
                id: id.clone(),
                labels,
            },
            folder,
        ));
        self.publish_generation(
            &change,
            &plan,
            tasks,
            vec![(staged, final_folder)],
            &backbone,
            show_progress,
        )
    }

    /// Trains `source` in isolation into the library's staging area for a later [`Library::publish`]; a no-op
    /// when it is staged already. Many can run at once (one per task): it takes only the task's own lock.
    pub fn train(&self, source: &TaskSource, show_progress: bool) -> Result<StagedTask> {
        check_name("task", &source.name)?;
        refuse_known(self.current()?.as_ref(), std::slice::from_ref(&source.name))?;
        let config = self.config.run_config();
        let backbone = self.backbone()?;
        staged::train_staged(&self.layout, &config, &backbone, source, show_progress)
    }

    /// Job files that train `tasks` as a Slurm job array over this library's folder and publish them once.
    pub fn plan_slurm(
        &self,
        tasks: TaskList,
        options: &JobOptions,
        out: &Path,
    ) -> Result<SlurmFiles> {
        let root = self.absolute_root()?;
        let jobs = ClusterJobs {
            name: cluster::job_name(&root),
            library: root,
            tasks,
            options: options.clone(),
        };
        slurm::write_slurm(&jobs, out)
    }

    /// Kubernetes manifests that train `tasks` as an Indexed Job and publish them once, with the library's folder
    /// mounted from `claim` at `mount`. Every data file must be inside the library's folder (the volume), or be a
    /// built-in task's name.
    pub fn plan_kubernetes(
        &self,
        mut tasks: TaskList,
        options: &JobOptions,
        (image, claim, mount): (&str, &str, &Path),
        out: &Path,
    ) -> Result<KubernetesFiles> {
        let root = self.absolute_root()?;
        for task in &mut tasks.tasks {
            if !task.data.is_absolute() {
                continue;
            }
            let inside = task.data.strip_prefix(&root).map_err(|_| {
                Error::invalid(format!(
                    "task '{}': {} is outside the library's folder {}, which is the only volume the pods mount; copy it there",
                    task.name,
                    task.data.display(),
                    root.display()
                ))
            })?;
            task.data = mount.join(inside);
        }
        let settings = KubernetesSettings {
            image: image.to_owned(),
            claim: claim.to_owned(),
            mount: mount.to_owned(),
            list_here: root.join("cluster/tasks-k8s.toml"),
            list_in_pod: mount.join("cluster/tasks-k8s.toml"),
        };
        let jobs = ClusterJobs {
            name: cluster::job_name(&root),
            library: mount.to_owned(),
            tasks,
            options: options.clone(),
        };
        kubernetes::write_kubernetes(&jobs, &settings, out)
    }

    fn absolute_root(&self) -> Result<std::path::PathBuf> {
        let root = self.layout.root();
        std::path::absolute(root).map_err(|e| Error::io(root, e))
    }

    /// Publishes one generation with every staged task (or exactly the `expected` ones, which must all be staged),
    /// its routers fitted once over all the library's tasks.
    pub fn publish(
        &self,
        expected: Option<&[String]>,
        resume: bool,
        show_progress: bool,
    ) -> Result<Published> {
        let _lock = LibraryLock::acquire(&self.layout.lock())?;
        let change = self.layout.change("publish");
        let staged = staged::staged_tasks(&self.layout)?;
        let names: Vec<String> = match expected {
            Some(expected) => expected.to_vec(),
            None => staged.iter().map(|(t, _)| t.source.name.clone()).collect(),
        };
        let plan = self.plan(
            &change,
            resume,
            Change::AddedTasks(names.clone()),
            |current, generation| {
                if names.is_empty() {
                    return Err(Error::invalid(
                        "no task is staged; train some with `l2r library train` first",
                    ));
                }
                let missing: Vec<&str> = names
                    .iter()
                    .filter(|n| !staged.iter().any(|(t, _)| &t.source.name == *n))
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    return Err(Error::invalid(format!(
                    "not staged (still training, or its training failed: see its job's log): {}",
                    missing.join(", ")
                )));
                }
                refuse_known(current, &names)?;
                Ok(PlannedTasks {
                    task: None,
                    staged: names
                        .iter()
                        .map(|n| (n.clone(), format!("{n}-g{generation}")))
                        .collect(),
                })
            },
        )?;
        let mut tasks = self.parent_tasks(plan.parent)?;
        let mut moves = Vec::new();
        for (name, id) in &plan.tasks.staged {
            let (staged_folder, final_folder) =
                (self.layout.staged_task(name), self.layout.task(id));
            let folder = match final_folder.dir.exists() {
                true => final_folder.clone(),
                false => staged_folder.clone(),
            };
            let labels = folder.artifacts().load_record()?.labels;
            tasks.push((
                LibraryTask {
                    name: name.clone(),
                    id: id.clone(),
                    labels,
                },
                folder,
            ));
            moves.push((staged_folder, final_folder));
        }
        let backbone = self.backbone()?;
        self.publish_generation(&change, &plan, tasks, moves, &backbone, show_progress)
    }

    /// Publishes a generation without task `name` (its files stay until `gc`), routers refitted.
    pub fn remove(&self, name: &str, resume: bool, show_progress: bool) -> Result<Published> {
        check_name("task", name)?;
        let _lock = LibraryLock::acquire(&self.layout.lock())?;
        let change = self.layout.change(&format!("remove-{name}"));
        let plan = self.plan(&change, resume, Change::Removed(name.to_owned()), |current, _| {
            let known = current.map(|m| m.task_names()).unwrap_or_default();
            if !known.iter().any(|t| t == name) {
                return Err(Error::invalid(format!(
                    "task '{name}' is not in the library; it holds: {}",
                    if known.is_empty() { "no task".into() } else { known.join(", ") }
                )));
            }
            if known.len() == 1 {
                return Err(Error::invalid(format!(
                    "'{name}' is the library's only task; a library needs at least one (add another first)"
                )));
            }
            Ok(PlannedTasks::default())
        })?;
        let tasks: Vec<_> = self
            .parent_tasks(plan.parent)?
            .into_iter()
            .filter(|(t, _)| t.name != name)
            .collect();
        let backbone = self.backbone()?;
        self.publish_generation(&change, &plan, tasks, vec![], &backbone, show_progress)
    }

    /// Makes `generation` the one that serves again (a new change then builds on it).
    pub fn rollback(&self, generation: u64) -> Result<Manifest> {
        let _lock = LibraryLock::acquire(&self.layout.lock())?;
        let manifest = self.manifest(generation)?;
        self.point_at(generation)?;
        Ok(manifest)
    }

    /// Deletes every generation but the `keep` newest and the current one, then every task folder no remaining
    /// generation names: a removed task's module, statistics, memory and test texts are gone from the library.
    pub fn gc(&self, keep: usize) -> Result<Collected> {
        let _lock = LibraryLock::acquire(&self.layout.lock())?;
        let current = self.current_generation()?;
        let numbers = self.generation_numbers()?;
        let kept: Vec<u64> = numbers
            .iter()
            .rev()
            .take(keep)
            .copied()
            .chain(current)
            .collect();
        let mut collected = Collected::default();
        for n in numbers.iter().filter(|n| !kept.contains(n)) {
            let dir = self.layout.generation(*n).dir;
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            collected.generations.push(*n);
        }
        let mut referenced = std::collections::HashSet::new();
        for n in kept {
            referenced.extend(self.manifest(n)?.tasks.into_iter().map(|t| t.id));
        }
        let tasks = self.layout.tasks();
        if tasks.is_dir() {
            for entry in std::fs::read_dir(&tasks).map_err(|e| Error::io(&tasks, e))? {
                let entry = entry.map_err(|e| Error::io(&tasks, e))?;
                let id = entry.file_name().to_string_lossy().into_owned();
                if !referenced.contains(&id) {
                    std::fs::remove_dir_all(entry.path())
                        .map_err(|e| Error::io(entry.path(), e))?;
                    collected.tasks.push(id);
                }
            }
        }
        collected.tasks.sort();
        Ok(collected)
    }

    /// The predictor of `generation` (default: the current one).
    pub fn predictor(&self, generation: Option<u64>) -> Result<RunPredictor> {
        let number = match generation {
            Some(n) => n,
            None => self.current_generation()?.ok_or_else(|| {
                Error::invalid(format!(
                    "the library {} has no task yet; add one with `l2r library add`",
                    self.layout.root().display()
                ))
            })?,
        };
        let manifest = self.manifest(number)?;
        let backbone = self.backbone()?;
        let mut models = Vec::with_capacity(manifest.tasks.len());
        for task in &manifest.tasks {
            let (_, model) = self.layout.task(&task.id).artifacts().load(&backbone)?;
            models.push(model);
        }
        let router = self.layout.generation(number).router();
        let network = RouterNetwork::load(&router, &self.config.router, &backbone)?;
        let tasks = manifest
            .tasks
            .iter()
            .map(|t| TaskInfo {
                name: t.name.clone(),
                labels: t.labels.clone(),
            })
            .collect();
        let mut predictor =
            RunPredictor::new(backbone, tasks, models, network, self.config.composition)?;
        predictor.seed = self.config.seed;
        predictor.generation = Some(number);
        Ok(predictor)
    }

    fn backbone(&self) -> Result<Backbone> {
        Backbone::load_on(
            self.config.backbone,
            self.config.max_len,
            &self.config.device.open()?,
        )?
        .with_precision(self.config.precision)
    }

    /// The change's plan: the one an interrupted change left (with `--resume`), or a new one that `decide` checks
    /// against the current generation and completes.
    fn plan(
        &self,
        change: &ChangeFolder,
        resume: bool,
        what: Change,
        decide: impl FnOnce(Option<&Manifest>, u64) -> Result<PlannedTasks>,
    ) -> Result<ChangePlan> {
        let current = self.current()?;
        let plan = match (change.plan().is_file(), resume) {
            (true, false) => {
                return Err(Error::invalid(format!(
                    "an earlier `{what}` was interrupted ({}); finish it with --resume, or delete that folder to start over",
                    change.dir.display()
                )))
            }
            (false, true) => {
                return Err(Error::invalid(format!("there is no interrupted `{what}` to resume")))
            }
            (true, true) => crate::io::read_json::<ChangePlan>(&change.plan())?,
            (false, false) => {
                let generation = self.generation_numbers()?.last().copied().unwrap_or(0) + 1;
                let plan = ChangePlan {
                    generation,
                    parent: current.as_ref().map(|m| m.generation),
                    change: what,
                    tasks: decide(current.as_ref(), generation)?,
                };
                crate::io::write_json_atomic(&change.plan(), &plan)?;
                plan
            }
        };
        let now = current.map(|m| m.generation);
        if now != plan.parent && !self.layout.generation(plan.generation).dir.exists() {
            return Err(Error::invalid(format!(
                "the library moved to generation {now:?} after this change began from {:?}; delete {} and start again",
                plan.parent,
                change.dir.display()
            )));
        }
        Ok(plan)
    }

    /// The tasks of generation `parent`, each with its folder (none without a parent).
    fn parent_tasks(&self, parent: Option<u64>) -> Result<Vec<(LibraryTask, TaskFolder)>> {
        let Some(parent) = parent else {
            return Ok(vec![]);
        };
        Ok(self
            .manifest(parent)?
            .tasks
            .into_iter()
            .map(|t| {
                let folder = self.layout.task(&t.id);
                (t, folder)
            })
            .collect())
    }

    /// Builds the generation in the change's folder, then publishes it by renames: the new tasks' folders into
    /// `tasks/`, the generation into `generations/`, and last the `CURRENT` pointer.
    fn publish_generation(
        &self,
        change: &ChangeFolder,
        plan: &ChangePlan,
        tasks: Vec<(LibraryTask, TaskFolder)>,
        new_tasks: Vec<(TaskFolder, TaskFolder)>,
        backbone: &Backbone,
        show_progress: bool,
    ) -> Result<Published> {
        let target = self.layout.generation(plan.generation);
        let parent_manifest = plan.parent.map(|n| self.manifest(n)).transpose()?;
        let parent_folder = plan.parent.map(|n| self.layout.generation(n));
        let (manifest, after, timings) = if target.manifest().is_file() {
            (
                self.manifest(plan.generation)?,
                self.evaluation(plan.generation)?,
                None,
            )
        } else {
            let generation_plan = GenerationPlan {
                number: plan.generation,
                parent: parent_manifest.as_ref().zip(parent_folder.as_ref()),
                change: plan.change.clone(),
                tasks,
                evaluation_budget: self.config.evaluation_budget,
            };
            let built = build_generation(
                &self.config.run_config(),
                backbone,
                &generation_plan,
                &change.generation(),
                show_progress,
            )?;
            crate::faults::crash_point("library-built");
            for (staged, final_folder) in new_tasks.iter().filter(|(s, _)| s.dir.exists()) {
                rename(&staged.dir, &final_folder.dir)?;
            }
            crate::faults::crash_point("library-task-moved");
            rename(&change.generation().dir, &target.dir)?;
            let (manifest, evaluation, timings) = built;
            (manifest, evaluation, Some(timings))
        };
        crate::faults::crash_point("library-generation-moved");
        self.point_at(plan.generation)?;
        std::fs::remove_dir_all(&change.dir).map_err(|e| Error::io(&change.dir, e))?;
        // The parent's values on the same examples as the new generation's, where it evaluated them.
        let before = plan
            .parent
            .map(|n| self.evaluation(n))
            .transpose()?
            .map(|parent| parent.on_first(&after.tasks, &after.evaluated()));
        Ok(Published {
            manifest,
            before,
            after,
            timings,
        })
    }
}

/// Refuses `names` of which one is already a task of the `current` generation.
fn refuse_known(current: Option<&Manifest>, names: &[String]) -> Result<()> {
    let Some(manifest) = current else {
        return Ok(());
    };
    match names.iter().find(|n| manifest.tasks.iter().any(|t| &&t.name == n)) {
        Some(name) => Err(Error::invalid(format!(
            "task '{name}' is already in the library (generation {}); remove it first with `l2r library remove`",
            manifest.generation
        ))),
        None => Ok(()),
    }
}

/// Renames `from` to `to`, creating `to`'s parent folder.
fn rename(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    std::fs::rename(from, to).map_err(|e| Error::io(to, e))
}

/// `CURRENT`'s content: the generation's number and the checksum of that number, so that a flipped bit cannot
/// silently point the library at another generation that exists.
fn pointer(generation: u64) -> String {
    let number = generation.to_string();
    format!("{number} {:016x}\n", crate::hash::fnv1a(number.as_bytes()))
}

/// The generation `CURRENT`'s `text` names (a bare number, as libraries made before the checksum hold, is accepted).
fn read_pointer(text: &str) -> std::result::Result<u64, String> {
    let mut fields = text.split_whitespace();
    let number = fields.next().unwrap_or("");
    let generation = number
        .parse()
        .map_err(|_| format!("'{number}' is not a generation number"))?;
    match fields.next() {
        Some(_) if pointer(generation) != text => Err(format!(
            "'{}' does not match its checksum: the file is corrupt; `l2r library rollback` to the generation \
             that should serve rewrites it",
            text.trim()
        )),
        _ => Ok(generation),
    }
}

#[cfg(test)]
mod tests {
    use super::{pointer, read_pointer};

    #[test]
    fn the_pointer_reads_back_and_a_flipped_bit_is_refused() {
        assert_eq!(read_pointer(&pointer(12)), Ok(12));
        assert_eq!(read_pointer("3\n"), Ok(3));
        let flipped = pointer(12).replacen('2', "3", 1);
        assert!(read_pointer(&flipped).unwrap_err().contains("checksum"));
        assert!(read_pointer("x1").is_err());
    }
}
