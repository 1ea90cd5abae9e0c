//! The TOML file that drives a run. Unknown keys are refused with the key named.

use crate::backbone::{BackboneName, Precision};
use crate::baselines::BaselinesConfig;
use crate::compose::CompositionMode;
use crate::data::{BenchmarkSize, BenchmarkTask, Example};
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::memory::{Memory, MemorySelection};
use crate::peft::PeftConfig;
use crate::router::RouterConfig;
use crate::train::TrainConfig;
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// A task of the user's: a CSV/TSV/JSONL file of text and label, or a file in one of the paper's formats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserTask {
    pub name: String,
    pub path: PathBuf,
    #[serde(default)]
    pub format: TaskFileFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskFileFormat {
    /// `.csv`/`.tsv` with `text` and `label` columns, or `.jsonl` objects.
    #[default]
    TextLabel,
    /// MTL5 (Zhang et al. 2015) CSV without header: `"class","title","text"`, 1-based class ids.
    Mtl5,
    /// AfriSenti TSV: `ID<TAB>tweet<TAB>label` with a header.
    Afrisenti,
    /// A WOS folder (`X.txt`, `YL1.txt`, `YL2.txt`), level-1 labels.
    WosLevel1,
    /// A WOS folder, level-2 labels.
    WosLevel2,
}

impl UserTask {
    pub fn load(&self) -> Result<crate::data::Dataset> {
        use crate::data::{
            load_afrisenti_tsv, load_mtl5_csv, load_user_task, load_wos_dir, WosLevel,
        };
        let mut dataset = match self.format {
            TaskFileFormat::TextLabel => load_user_task(&self.path, None)?,
            TaskFileFormat::Mtl5 => load_mtl5_csv(&self.path, &self.name, None)?,
            TaskFileFormat::Afrisenti => load_afrisenti_tsv(&self.path, &self.name)?,
            TaskFileFormat::WosLevel1 => load_wos_dir(&self.path, WosLevel::Level1)?,
            TaskFileFormat::WosLevel2 => load_wos_dir(&self.path, WosLevel::Level2)?,
        };
        dataset.name = self.name.clone();
        Ok(dataset)
    }
}

/// How the tasks' modules are trained.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModuleTraining {
    /// A fresh module per task, trained alone (the method); routers compose them.
    #[default]
    Isolated,
    /// A fresh module per task, trained with the earlier tasks' modules active and frozen beside it (their outputs
    /// added, like Progressive Prompts keeping earlier prompts): the ablation of isolation. Routers compose the
    /// modules as usual. Such modules depend on the task order, so they live in the sequence's folder.
    Progressive,
    /// Sequential fine-tuning, the lower bound: one module trained on each task in turn, continuing from the
    /// previous task's weights, with a new head per task; earlier heads are kept as they were.
    Sequential,
    /// Multitask joint training, the upper bound: one module and one head over every task's classes, trained on
    /// all tasks' training data at once; only the final accuracies exist (no sequence).
    Multitask,
}

impl ModuleTraining {
    /// Whether task number `index` of a sequence trains with the earlier modules beside it (the first task has none
    /// beside it: its module is the isolated one).
    pub fn trains_alongside(self, index: usize) -> bool {
        self == ModuleTraining::Progressive && index > 0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// Examples kept per class of each finished task.
    pub per_class: usize,
    /// Draw the memory before training and train the task's module without it (crate::memory explains why).
    pub held_out: bool,
    /// How each class's examples are chosen: `random` (default), `herding` or `k_center`, the last two on the
    /// frozen features the routers read (crate::memory::MemorySelection). Left out of the file when random, so
    /// that module caches keyed before it existed stay valid.
    #[serde(skip_serializing_if = "MemorySelection::is_random")]
    pub selection: MemorySelection,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            per_class: 10,
            held_out: false,
            selection: MemorySelection::Random,
        }
    }
}

/// The frozen features of a task's training split (one row per example, in the representation the memory is
/// selected in), computed only when a selection rule asks for them.
pub type TrainFeatures<'a> = &'a dyn Fn() -> Result<Tensor>;

impl MemoryConfig {
    /// The memory kept of `task`, the `index`-th of its sequence.
    pub fn sample(
        &self,
        index: usize,
        task: &BenchmarkTask,
        seed: u64,
        features: TrainFeatures,
    ) -> Result<Memory> {
        let mut memory = Memory::default();
        match (self.selection, self.held_out) {
            (MemorySelection::Random, false) => {
                memory.add_task(index, &task.train, self.per_class, seed)?
            }
            _ => memory.add_examples(index, self.chosen(task, seed, features)?)?,
        }
        Ok(memory)
    }

    /// The examples `task`'s module trains on: its training split, less the memory when that is held out.
    pub fn module_training_split<'a>(
        &self,
        task: &'a BenchmarkTask,
        seed: u64,
        features: TrainFeatures,
    ) -> Result<Cow<'a, [Example]>> {
        Ok(match self.held_out {
            true => Cow::Owned(crate::memory::without(
                &task.train,
                &self.chosen(task, seed, features)?,
            )),
            false => Cow::Borrowed(&task.train),
        })
    }

    /// The examples of `task` chosen for the memory independently of the task's place in the order (a held-out
    /// memory, or any rule that reads features).
    fn chosen(
        &self,
        task: &BenchmarkTask,
        seed: u64,
        features: TrainFeatures,
    ) -> Result<Vec<Example>> {
        match self.selection {
            MemorySelection::Random => Ok(Memory::held_out_sample(
                &task.train,
                self.per_class,
                seed,
                &task.name,
            )),
            rule => rule.select(&task.train, &features()?, self.per_class),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    #[serde(default = "default_backbone")]
    pub backbone: BackboneName,
    #[serde(default = "default_max_len")]
    pub max_len: usize,
    /// fp32 (default), or bf16 frozen linear layers on CPUs with AVX-512 BF16 (fp32 elsewhere).
    #[serde(default)]
    pub precision: Precision,
    /// Where the run computes: `cpu` (default), `cuda` or `cuda:N` (a build with the `cuda` feature). Not part
    /// of any result's identity: a run started on one device resumes on another.
    #[serde(default, skip_serializing_if = "DeviceSpec::is_cpu")]
    pub device: DeviceSpec,
    /// A built-in benchmark (senti4, far5, wordnet-cil); or leave out and list `[[tasks]]`.
    #[serde(default)]
    pub benchmark: Option<String>,
    #[serde(default)]
    pub tasks: Vec<UserTask>,
    #[serde(default = "default_size")]
    pub size: BenchmarkSize,
    /// Indices into the benchmark's task orders.
    #[serde(default = "default_orders")]
    pub orders: Vec<usize>,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    #[serde(default)]
    pub module: PeftConfig,
    /// isolated (default), progressive (ablation), sequential (lower bound) or multitask (upper bound).
    #[serde(default)]
    pub module_training: ModuleTraining,
    #[serde(default)]
    pub train: TrainConfig,
    #[serde(default)]
    pub memory: MemoryConfig,
    #[serde(default)]
    pub router: RouterConfig,
    #[serde(default = "default_composition")]
    pub composition: CompositionMode,
    /// Options of the baselines evaluated beside the method (MoCL's key training).
    #[serde(default)]
    pub baselines: BaselinesConfig,
    /// Which split every setup is evaluated on: `test` (default, what results report) or `validation` (to choose
    /// settings without looking at test data; the modules' early stopping already saw it, so absolute numbers are
    /// optimistic, but every method shares that bias).
    #[serde(default)]
    pub evaluate_on: EvaluationSplit,
    /// A folder shared by runs whose modules are the same (same backbone, tasks, sizes, module and training
    /// settings): a module trained by one run is reused by the others. Unset: modules live in the run folder.
    #[serde(default)]
    pub module_cache: Option<PathBuf>,
    /// After the last task, also write every ingredient of the CIL decision rules per evaluated example
    /// (`scores-step{N}.jsonl` in each sequence's folder; `continual::export`), for studying rules offline.
    #[serde(default)]
    pub export_scores: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvaluationSplit {
    #[default]
    Test,
    Validation,
}

pub(crate) fn default_backbone() -> BackboneName {
    BackboneName::Minilm
}
pub(crate) fn default_max_len() -> usize {
    crate::backbone::DEFAULT_MAX_LEN
}
pub(crate) fn default_size() -> BenchmarkSize {
    BenchmarkSize::Quick
}
fn default_orders() -> Vec<usize> {
    vec![0]
}
fn default_seeds() -> Vec<u64> {
    vec![0]
}
pub(crate) fn default_composition() -> CompositionMode {
    CompositionMode::Wavg
}

impl RunConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text, path)
    }

    /// Parses and validates; `path` only names the file in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self> {
        let mut config: RunConfig = parse_config(text, path, RunConfig::validate)?;
        let at_hand = statistics_at_routers(&config.router, &config.baselines);
        config.router = config.router.with_defaults_settled(at_hand);
        Ok(config)
    }

    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self)
            .map_err(|e| Error::invalid(format!("cannot write the config as TOML: {e}")))
    }

    /// The module cache's folder for this config, if it has a `module_cache`: its name holds a key that changes
    /// whenever anything that shapes a module changes, so runs with the same module settings share their modules.
    pub fn module_cache_dir(&self) -> Result<Option<PathBuf>> {
        let Some(cache) = &self.module_cache else {
            return Ok(None);
        };
        let shape = (
            &self.backbone,
            self.max_len,
            &self.benchmark,
            &self.tasks,
            self.size,
            &self.module,
            &self.train,
        );
        // fp32 and a memory drawn after training keep the key they had before precision and held-out memories
        // existed, so caches of earlier runs stay valid.
        let held_out = self.memory.held_out.then_some(&self.memory);
        let key = match (self.precision, held_out) {
            (Precision::Fp32, None) => serde_json::to_string(&shape),
            (precision, None) => serde_json::to_string(&(shape, precision)),
            (precision, Some(memory)) => serde_json::to_string(&(shape, precision, memory)),
        }
        .map_err(|e| Error::invalid(format!("cannot key the module cache: {e}")))?;
        let name = self.benchmark.as_deref().unwrap_or("user");
        Ok(Some(cache.join(format!(
            "{name}-{:016x}",
            crate::hash::fnv1a(key.as_bytes())
        ))))
    }

    fn validate(&self) -> Result<()> {
        match (&self.benchmark, self.tasks.len()) {
            (Some(_), n) if n > 0 => {
                return Err(Error::invalid(
                    "give either `benchmark` or `[[tasks]]`, not both",
                ))
            }
            (None, 0) => {
                return Err(Error::invalid(
                    "give a `benchmark` (senti4, far5, wordnet-cil) or `[[tasks]]`",
                ))
            }
            (None, 1) => return Err(Error::invalid("continual learning needs at least 2 tasks")),
            _ => {}
        }
        for task in &self.tasks {
            crate::names::check_name("task", &task.name)?;
        }
        if let Some(duplicate) = self
            .tasks
            .iter()
            .enumerate()
            .find(|(i, t)| self.tasks[..*i].iter().any(|u| u.name == t.name))
        {
            return Err(Error::invalid(format!(
                "task '{}' is listed twice in [[tasks]]",
                duplicate.1.name
            )));
        }
        if self.seeds.is_empty() || self.orders.is_empty() {
            return Err(Error::invalid(
                "`seeds` and `orders` need at least one entry each",
            ));
        }
        self.module.validate()?;
        self.train.validate()?;
        self.baselines.validate()?;
        self.router.validate()?;
        check_gaussian_prior(&self.router, &self.baselines)
    }
}

/// The Gaussian and ridge priors and `ridge_heads` read the tasks' statistics in the routers' representation, which exist only
/// where the baselines compute them.
pub(crate) fn check_gaussian_prior(
    router: &RouterConfig,
    baselines: &BaselinesConfig,
) -> Result<()> {
    let representation = router.input.representation();
    if router.uses_statistics() && !statistics_at_routers(router, baselines) {
        return Err(Error::invalid(format!(
            "prior_reference = \"gaussian\" or \"ridge\", ridge_heads and gaussian_replay read the tasks' statistics at the routers' \
             representation ({}); add \"{}\" to [baselines] representations",
            representation.name(),
            representation.name()
        )));
    }
    Ok(())
}

/// Whether the baselines compute the tasks' statistics in the representation the routers read.
fn statistics_at_routers(router: &RouterConfig, baselines: &BaselinesConfig) -> bool {
    baselines
        .representations
        .contains(&router.input.representation())
}

/// toml's message, with the line number made explicit.
/// Parses a TOML config and validates it; both kinds of error name the file (and the line, for TOML's).
pub(crate) fn parse_config<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
    validate: impl FnOnce(&T) -> Result<()>,
) -> Result<T> {
    let config: T = toml::from_str(text).map_err(|e| Error::Config {
        path: path.to_owned(),
        message: toml_message(text, &e),
    })?;
    validate(&config).map_err(|e| Error::Config {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    Ok(config)
}

fn toml_message(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().to_owned();
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_config_gets_the_defaults() {
        let config = RunConfig::from_toml("benchmark = \"far5\"\n", Path::new("x.toml")).unwrap();
        assert_eq!(config.module, PeftConfig::adapter());
        assert_eq!(config.memory.per_class, 10);
        assert_eq!(config.composition, CompositionMode::Wavg);
        let again = RunConfig::from_toml(&config.to_toml().unwrap(), Path::new("x.toml")).unwrap();
        assert_eq!(again, config);
    }

    #[test]
    fn the_default_prior_is_the_ridge_one_where_the_statistics_are_computed() {
        use crate::router::PriorReference;
        let prior = |text: &str| {
            RunConfig::from_toml(
                &format!("benchmark = \"far5\"\n{text}"),
                Path::new("x.toml"),
            )
            .unwrap()
            .router
            .prior_reference
        };
        assert_eq!(prior(""), PriorReference::Ridge);
        assert_eq!(
            prior("[router]\nprior_reference = \"auto\"\n"),
            PriorReference::Ridge
        );
        assert_eq!(
            prior("[router]\nprior_reference = \"gaussian\"\n"),
            PriorReference::Gaussian
        );
        assert_eq!(
            prior("[router]\nprior_reference = \"centroid\"\n"),
            PriorReference::Centroid
        );
        // No statistics at the routers' representation (all layers): the centroid prior.
        assert_eq!(
            prior("[baselines]\nrepresentations = [\"final_layer\"]\n"),
            PriorReference::Centroid
        );
        assert_eq!(
            prior("[router]\nprior_reference = \"ridge\"\n"),
            PriorReference::Ridge
        );
        // The ridge prior reads the statistics too, so they must exist where the routers read.
        let text = "benchmark = \"far5\"\n[router]\nprior_reference = \"ridge\"\n\
                    [baselines]\nrepresentations = [\"final_layer\"]\n";
        let error = RunConfig::from_toml(text, Path::new("x.toml")).unwrap_err();
        assert!(error.to_string().contains("\"ridge\""), "{error}");
    }

    /// The router settings of a far5 run config with `text` added, settled; checks that the run folder's
    /// config.toml (the settled config written back) reads back to the same.
    fn settled_router(text: &str) -> RouterConfig {
        let config = RunConfig::from_toml(
            &format!("benchmark = \"far5\"\n{text}"),
            Path::new("x.toml"),
        )
        .unwrap();
        let again = RunConfig::from_toml(&config.to_toml().unwrap(), Path::new("x.toml")).unwrap();
        assert_eq!(again.router.ridge_heads, config.router.ridge_heads);
        assert_eq!(again.router.calibrate_on, config.router.calibrate_on);
        config.router
    }

    #[test]
    fn ridge_heads_are_on_where_the_statistics_are_computed_unless_turned_off() {
        let ridge_heads = |text: &str| settled_router(text).ridge_heads;
        assert_eq!(ridge_heads(""), Some(true));
        assert_eq!(ridge_heads("[router]\nridge_heads = false\n"), Some(false));
        assert_eq!(
            ridge_heads("[baselines]\nrepresentations = [\"final_layer\"]\n"),
            Some(false)
        );
        assert!(!RouterConfig::default().uses_ridge_heads());
    }

    #[test]
    fn within_task_weights_are_fitted_on_validation_where_the_statistics_are_computed() {
        use crate::router::CalibrateOn;
        let calibrate_on = |text: &str| settled_router(text).calibrates_on();
        assert_eq!(calibrate_on(""), CalibrateOn::PooledValidation);
        assert_eq!(
            calibrate_on("[router]\ncalibrate_on = \"memory\"\n"),
            CalibrateOn::Memory
        );
        assert_eq!(
            calibrate_on("[baselines]\nrepresentations = [\"final_layer\"]\n"),
            CalibrateOn::Memory
        );
        assert_eq!(RouterConfig::default().calibrates_on(), CalibrateOn::Memory);
    }

    #[test]
    fn module_cache_key_follows_what_shapes_a_module() {
        let base = RunConfig::from_toml(
            "benchmark = \"far5\"\nmodule_cache = \"/c\"\n",
            Path::new("x.toml"),
        )
        .unwrap();
        let mut other_router = base.clone();
        other_router.router.epochs += 1;
        let mut other_training = base.clone();
        other_training.train.epochs += 1;
        let mut probe_head = base.clone();
        probe_head.train.head_init = crate::train::HeadInit::Probe;
        let mut contrastive = base.clone();
        contrastive.train.contrastive_weight = 1.0;
        let dir = base.module_cache_dir().unwrap().unwrap();
        assert!(dir.starts_with("/c"));
        assert_eq!(
            Some(dir.clone()),
            other_router.module_cache_dir().unwrap(),
            "router settings do not change modules"
        );
        assert_ne!(
            Some(dir.clone()),
            other_training.module_cache_dir().unwrap()
        );
        assert_ne!(Some(dir.clone()), probe_head.module_cache_dir().unwrap());
        assert_ne!(Some(dir.clone()), contrastive.module_cache_dir().unwrap());
        let mut smaller_memory = base.clone();
        smaller_memory.memory.per_class = 5;
        assert_eq!(
            Some(dir.clone()),
            smaller_memory.module_cache_dir().unwrap(),
            "a memory drawn after training does not change modules"
        );
        let mut held_out = base.clone();
        held_out.memory.held_out = true;
        let held_out_dir = held_out.module_cache_dir().unwrap();
        assert_ne!(
            Some(dir.clone()),
            held_out_dir,
            "a held-out memory is not trained on"
        );
        let mut herded = held_out.clone();
        herded.memory.selection = MemorySelection::Herding;
        assert_ne!(
            held_out_dir,
            herded.module_cache_dir().unwrap(),
            "other examples held out"
        );
        herded.memory.held_out = false;
        assert_eq!(Some(dir.clone()), herded.module_cache_dir().unwrap());
        held_out.memory.per_class = 5;
        assert_ne!(held_out_dir, held_out.module_cache_dir().unwrap());
        let mut local = base.clone();
        local.module_cache = None;
        assert_eq!(local.module_cache_dir().unwrap(), None);
    }

    #[test]
    fn a_held_out_memory_is_left_out_of_the_modules_training_split() {
        let examples = |n: usize| -> Vec<Example> {
            (0..n)
                .map(|i| Example {
                    text: format!("text {i}"),
                    label: i % 2,
                })
                .collect()
        };
        let task = BenchmarkTask {
            name: "news".into(),
            train: examples(40),
            validation: examples(4),
            test: examples(4),
            labels: vec!["a".into(), "b".into()],
        };
        let mut config = MemoryConfig {
            per_class: 3,
            ..MemoryConfig::default()
        };
        let unread: TrainFeatures = &|| panic!("random selection reads no features");
        assert_eq!(
            config
                .module_training_split(&task, 1, unread)
                .unwrap()
                .len(),
            40
        );
        assert_eq!(config.sample(2, &task, 1, unread).unwrap().len(), 6);
        config.held_out = true;
        let memory = config.sample(2, &task, 1, unread).unwrap();
        let training = config.module_training_split(&task, 1, unread).unwrap();
        assert_eq!((memory.len(), training.len()), (6, 34));
        for entry in &memory.entries {
            assert_eq!(entry.task, 2);
            assert!(training.iter().all(|e| e.text != entry.text));
        }
        // A rule that reads features keeps the same examples held out or not, and trains without them when held out.
        config.selection = MemorySelection::KCenter;
        let features: TrainFeatures = &|| {
            let rows: Vec<f32> = (0..40).map(|i| i as f32).collect();
            Ok(Tensor::from_vec(rows, (40, 1), &candle_core::Device::Cpu)?)
        };
        let selected = config.sample(2, &task, 1, features).unwrap();
        let texts =
            |m: &Memory| -> Vec<String> { m.entries.iter().map(|e| e.text.clone()).collect() };
        // Class 0 is 0, 2, …, 38 (mean 19): k-center takes 18, then 38, then 0; class 1 likewise 19, 39, 1.
        assert_eq!(
            texts(&selected),
            ["text 0", "text 1", "text 18", "text 19", "text 38", "text 39"]
        );
        let training = config.module_training_split(&task, 1, features).unwrap();
        assert_eq!(training.len(), 34);
        assert!(training.iter().all(|e| !texts(&selected).contains(&e.text)));
        config.held_out = false;
        assert_eq!(
            texts(&config.sample(2, &task, 1, features).unwrap()),
            texts(&selected)
        );
        assert_eq!(
            config
                .module_training_split(&task, 1, features)
                .unwrap()
                .len(),
            40
        );
    }

    #[test]
    fn user_tasks_load_in_the_papers_formats() {
        let dir = tempfile::tempdir().unwrap();
        let mtl5 = dir.path().join("ag.csv");
        std::fs::write(
            &mtl5,
            "\"1\",\"Stocks up\",\"Markets rallied.\"\n\"2\",\"Cup final\",\"The team won.\"\n",
        )
        .unwrap();
        let afri = dir.path().join("ha.tsv");
        std::fs::write(
            &afri,
            "ID\ttweet\tlabel\n1\tna gode\tpositive\n2\tbabu\tnegative\n",
        )
        .unwrap();
        let text = format!(
            "[[tasks]]\nname = \"ag\"\npath = \"{}\"\nformat = \"mtl5\"\n[[tasks]]\nname = \"ha\"\npath = \"{}\"\nformat = \"afrisenti\"\n",
            mtl5.display(),
            afri.display()
        );
        let config = RunConfig::from_toml(&text, Path::new("x.toml")).unwrap();
        let ag = config.tasks[0].load().unwrap();
        assert_eq!((ag.name.as_str(), ag.len(), ag.labels.len()), ("ag", 2, 2));
        let ha = config.tasks[1].load().unwrap();
        assert_eq!((ha.name.as_str(), ha.len()), ("ha", 2));
        let bad = text.replace("afrisenti", "afrisenty");
        let error = RunConfig::from_toml(&bad, Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("afrisenty") && error.contains("line 8"),
            "{error}"
        );
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let text = "benchmark = \"far5\"\n\n[router]\nepochs = 3\ntemprature = 0.5\n";
        let error = RunConfig::from_toml(text, Path::new("bad.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("bad.toml") && error.contains("line 5") && error.contains("temprature"),
            "{error}"
        );
    }

    #[test]
    fn inconsistent_configs_are_refused() {
        for (text, needle) in [
            ("", "benchmark"),
            ("benchmark = \"far5\"\nseeds = []\n", "seeds"),
            (
                "[[tasks]]\nname = \"a\"\npath = \"a.csv\"\n",
                "at least 2 tasks",
            ),
            (
                "benchmark = \"far5\"\n[module]\ntype = \"adapter\"\nsize = 0\n",
                "adapter size",
            ),
            (
                "benchmark = \"far5\"\n[[tasks]]\nname = \"a\"\npath = \"a.csv\"\n",
                "not both",
            ),
            (
                "benchmark = \"far5\"\n[module]\ntype = \"lora\"\nrank = 8\n",
                "alpha",
            ),
            // A task's name becomes a folder: one that would leave the run folder is refused.
            (
                "[[tasks]]\nname = \"../../x/escaped\"\npath = \"a.csv\"\n[[tasks]]\nname = \"b\"\npath = \"b.csv\"\n",
                "is not allowed: use ASCII letters",
            ),
            (
                "[[tasks]]\nname = \"a\"\npath = \"a.csv\"\n[[tasks]]\nname = \"a\"\npath = \"b.csv\"\n",
                "listed twice",
            ),
        ] {
            let error = RunConfig::from_toml(text, Path::new("c.toml"))
                .unwrap_err()
                .to_string();
            assert!(error.contains(needle), "{text:?}: {error}");
        }
    }
}
