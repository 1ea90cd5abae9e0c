//! A library's settings (`library.toml`): what a `[[tasks]]` run config holds, without the tasks, seeds or orders.
//! Fixed at `l2r library init`; every task added later is trained and routed with them.

use crate::backbone::{BackboneName, Precision};
use crate::baselines::BaselinesConfig;
use crate::compose::CompositionMode;
use crate::continual::{MemoryConfig, ModuleTraining, RunConfig};
use crate::data::BenchmarkSize;
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::peft::PeftConfig;
use crate::router::RouterConfig;
use crate::train::TrainConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibraryConfig {
    #[serde(default = "crate::continual::config::default_backbone")]
    pub backbone: BackboneName,
    #[serde(default = "crate::continual::config::default_max_len")]
    pub max_len: usize,
    #[serde(default)]
    pub precision: Precision,
    /// Where adds, removes and evaluations compute: `cpu` (default), `cuda` or `cuda:N` (`cuda` builds).
    #[serde(default, skip_serializing_if = "DeviceSpec::is_cpu")]
    pub device: DeviceSpec,
    /// How much of each added task's data is used: `quick` caps each class at 60 / 15 / 40 train / validation /
    /// test examples, `full` at the full-size caps (see the README's benchmarks).
    #[serde(default = "crate::continual::config::default_size")]
    pub size: BenchmarkSize,
    /// Seeds every split, initialisation, memory sample and router fit.
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub module: PeftConfig,
    #[serde(default)]
    pub train: TrainConfig,
    #[serde(default)]
    pub memory: MemoryConfig,
    #[serde(default)]
    pub router: RouterConfig,
    #[serde(default = "crate::continual::config::default_composition")]
    pub composition: CompositionMode,
    /// Off by default in a library (`evaluate = false`): adds evaluate L2R only.
    #[serde(default = "BaselinesConfig::library_default")]
    pub baselines: BaselinesConfig,
    /// How many test examples the earlier tasks share when a change is evaluated (0: all of them). The task an add
    /// brings in is evaluated on its whole test split; earlier tasks on an equal share each (at least one example a
    /// class), the same examples in every generation, so that an add costs about as much with 50 tasks as with 2.
    /// `l2r library evaluate` evaluates a generation on every example.
    #[serde(default = "default_evaluation_budget")]
    pub evaluation_budget: usize,
}

fn default_evaluation_budget() -> usize {
    400
}

impl Default for LibraryConfig {
    fn default() -> Self {
        let config: LibraryConfig = toml::from_str("").expect("every field has a default");
        config.settled()
    }
}

impl LibraryConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        crate::continual::config::parse_config(&text, path, LibraryConfig::validate)
            .map(LibraryConfig::settled)
    }

    /// `prior_reference = "auto"` is the centroid prior in a library, and ridge heads are off unless asked for: the
    /// Gaussian prior or the ridge would make every add read every task's statistics (set them to pay that).
    fn settled(mut self) -> Self {
        self.router = self.router.with_defaults_settled(false);
        self
    }

    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self)
            .map_err(|e| Error::invalid(format!("cannot write the library config as TOML: {e}")))
    }

    pub fn validate(&self) -> Result<()> {
        self.module.validate()?;
        self.train.validate()?;
        self.baselines.validate()?;
        self.router.validate()?;
        if self.router.calibrates_on().on_validation() {
            return Err(Error::invalid(
                "calibrate_on = \"validation\" or \"pooled_validation\" is not supported by a task library yet \
                 (the within-task weights would have to be fitted as each task is added); use \
                 calibrate_on = \"memory\" (the default in a library)",
            ));
        }
        if self.router.gaussian_replay > 0 {
            return Err(Error::invalid(
                "gaussian_replay is not supported by a task library yet (each add would read every task's \
                 statistics); leave it out",
            ));
        }
        crate::continual::check_gaussian_prior(&self.router, &self.baselines)
    }

    /// The same settings as a run config (isolated modules, one seed), for the run's training and routing code.
    pub fn run_config(&self) -> RunConfig {
        RunConfig {
            backbone: self.backbone,
            max_len: self.max_len,
            precision: self.precision,
            device: self.device,
            benchmark: None,
            tasks: vec![],
            size: self.size,
            orders: vec![0],
            seeds: vec![self.seed],
            module: self.module.clone(),
            module_training: ModuleTraining::Isolated,
            train: self.train.clone(),
            memory: self.memory.clone(),
            router: self.router.clone(),
            composition: self.composition,
            baselines: self.baselines.clone(),
            evaluate_on: crate::continual::EvaluationSplit::Test,
            export_scores: false,
            module_cache: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("library.toml");
        std::fs::write(&path, "seed = 3\n\n[router]\nepochz = 4\n").unwrap();
        let error = LibraryConfig::from_file(&path).unwrap_err().to_string();
        assert!(
            error.contains("epochz") && error.contains("line 4"),
            "{error}"
        );
        std::fs::write(&path, "seed = 3\n[memory]\nper_class = 5\n").unwrap();
        let config = LibraryConfig::from_file(&path).unwrap();
        assert_eq!((config.seed, config.memory.per_class), (3, 5));
        assert_eq!(config.run_config().seeds, vec![3]);
    }

    #[test]
    fn a_library_routes_with_the_centroid_prior_unless_asked() {
        use crate::router::PriorReference;
        let default = LibraryConfig::default().router.prior_reference;
        assert_eq!(default, PriorReference::Centroid);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("library.toml");
        std::fs::write(&path, "[router]\nepochs = 4\n").unwrap();
        let config = LibraryConfig::from_file(&path).unwrap();
        assert_eq!(config.router.prior_reference, PriorReference::Centroid);
        assert!(!config.router.uses_ridge_heads());
        std::fs::write(&path, "[router]\nprior_reference = \"gaussian\"\n").unwrap();
        let config = LibraryConfig::from_file(&path).unwrap();
        assert_eq!(config.router.prior_reference, PriorReference::Gaussian);
    }

    #[test]
    fn a_library_evaluates_no_baselines_unless_asked() {
        assert!(!LibraryConfig::default().baselines.evaluate);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("library.toml");
        std::fs::write(&path, "[baselines]\nevaluate = true\n").unwrap();
        assert!(LibraryConfig::from_file(&path).unwrap().baselines.evaluate);
        let written = LibraryConfig::default().to_toml().unwrap();
        assert!(written.contains("evaluate = false"), "{written}");
    }

    #[test]
    fn gaussian_replay_is_refused_by_a_library_and_by_a_layer_cls_router() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("library.toml");
        std::fs::write(
            &path,
            "[router]
gaussian_replay = 4
",
        )
        .unwrap();
        let error = LibraryConfig::from_file(&path).unwrap_err().to_string();
        assert!(error.contains("gaussian_replay"), "{error}");
        let router = crate::router::RouterConfig {
            gaussian_replay: 4,
            input: crate::router::RouterInput::LayerCls,
            ..Default::default()
        };
        let error = router.validate().unwrap_err().to_string();
        assert!(error.contains("layer_cls"), "{error}");
        let frozen = crate::router::RouterConfig {
            input: crate::router::RouterInput::PooledLayers,
            ..router
        };
        assert!(frozen.validate().is_ok());
    }
}
