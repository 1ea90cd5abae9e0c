//! The methods and ablations `l2r compare` knows. Each is a variant of the user's run config (what is trained and
//! how the router is fitted) and the setups of that run's metrics that hold its TIL and CIL accuracies. Methods
//! with the same variant share one run: the baselines are evaluated beside L2R-wavg on the same modules.

use crate::compose::CompositionMode;
use crate::continual::{ModuleTraining, RunConfig};
use crate::embedded::Representation;
use crate::error::{Error, Result};
use crate::memory::MemorySelection;
use crate::metrics::Approach::*;
use crate::metrics::Setup;

/// The representations, short, for the table below.
const F: Representation = Representation::FinalLayer;
const L: Representation = Representation::AllLayers;
use crate::peft::PeftConfig;
use crate::router::{FitSchedule, GateKind, RouterScope};

/// What a method changes in the config; one run per distinct variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The config as given, composition wavg: L2R-wavg and every evaluation-only baseline.
    Base,
    Merge,
    Softmax,
    SingleRouter,
    Memory(usize),
    /// The memory chosen by a rule on the frozen features instead of at random.
    MemorySelection(MemorySelection),
    LocalAdaptation,
    /// Modules trained with the earlier ones active beside them (not in isolation).
    Progressive,
    /// Routers fitted only after the last task.
    FitOnce,
    /// LoRA modules (rank 8 on query and value) instead of the config's: Arrow routes LoRA updates only.
    Lora,
    Sequential,
    Multitask,
}

impl Variant {
    /// The run folder's name under the benchmark's folder.
    pub fn dir_name(self) -> String {
        match self {
            Variant::Base => "base".into(),
            Variant::Merge => "merge".into(),
            Variant::Softmax => "softmax-gates".into(),
            Variant::SingleRouter => "single-router".into(),
            Variant::Memory(n) => format!("memory-{n}"),
            Variant::MemorySelection(MemorySelection::Herding) => "memory-herding".into(),
            Variant::MemorySelection(MemorySelection::KCenter) => "memory-k-center".into(),
            Variant::MemorySelection(MemorySelection::Random) => "memory-random".into(),
            Variant::LocalAdaptation => "local-adaptation".into(),
            Variant::Lora => "lora".into(),
            Variant::Progressive => "progressive".into(),
            Variant::FitOnce => "fit-once".into(),
            Variant::Sequential => "sequential".into(),
            Variant::Multitask => "multitask".into(),
        }
    }

    /// Whether its runs evaluate after every task (multitask and routers fitted once have only the last row, so
    /// no backward transfer).
    pub fn has_sequence(self) -> bool {
        !matches!(self, Variant::Multitask | Variant::FitOnce)
    }

    pub fn apply(self, base: &RunConfig) -> RunConfig {
        let mut config = base.clone();
        config.composition = CompositionMode::Wavg;
        config.module_training = ModuleTraining::Isolated;
        match self {
            Variant::Base => {}
            Variant::Merge => config.composition = CompositionMode::Merge,
            Variant::Softmax => config.router.gate = GateKind::Softmax,
            Variant::SingleRouter => config.router.scope = RouterScope::Single,
            Variant::Memory(n) => config.memory.per_class = n,
            Variant::MemorySelection(rule) => config.memory.selection = rule,
            Variant::LocalAdaptation => {
                config.router.local_adaptation =
                    Some(config.router.local_adaptation.clone().unwrap_or_default())
            }
            Variant::Lora => {
                if !matches!(config.module, PeftConfig::Lora { .. }) {
                    config.module = PeftConfig::lora();
                }
            }
            Variant::Progressive => config.module_training = ModuleTraining::Progressive,
            Variant::FitOnce => config.router.fit_after = FitSchedule::LastTask,
            Variant::Sequential => config.module_training = ModuleTraining::Sequential,
            Variant::Multitask => config.module_training = ModuleTraining::Multitask,
        }
        config
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Method {
    pub name: &'static str,
    pub description: &'static str,
    pub variant: Variant,
    /// Setup holding its TIL accuracy (task id given), if it has one.
    pub til: Option<Setup>,
    /// Setup holding its CIL accuracy (no task id), if it has one.
    pub cil: Option<Setup>,
    /// Setup holding its routing accuracy, if it routes to one module per example.
    pub routing: Option<Setup>,
}

const fn method(
    name: &'static str,
    description: &'static str,
    variant: Variant,
    til: Option<Setup>,
    cil: Option<Setup>,
    routing: Option<Setup>,
) -> Method {
    Method {
        name,
        description,
        variant,
        til,
        cil,
        routing,
    }
}

/// Every method, baselines first, then L2R and its ablations.
pub const METHODS: [Method; 33] = [
    method(
        "oracle",
        "task oracle: each task's own module and head (TIL upper bound)",
        Variant::Base,
        Some(Setup::til(Oracle)),
        None,
        None,
    ),
    method(
        "sequential",
        "sequential fine-tuning of one module (lower bound)",
        Variant::Sequential,
        Some(Setup::til(Sequential)),
        Some(Setup::cil(Sequential)),
        None,
    ),
    method(
        "multitask",
        "multitask joint training of one module and head (upper bound)",
        Variant::Multitask,
        Some(Setup::til(Multitask)),
        Some(Setup::cil(Multitask)),
        None,
    ),
    method(
        "uniform",
        "uniform average of all modules",
        Variant::Base,
        None,
        Some(Setup::cil(Uniform)),
        None,
    ),
    method(
        "mocl",
        "MoCL-style: trained task keys, softmax(8·cos) weights, outputs averaged",
        Variant::Base,
        Some(Setup::til(Mocl(F))),
        Some(Setup::cil(Mocl(F))),
        Some(Setup::routing(Mocl(F))),
    ),
    method(
        "epi",
        "EPI-style: Mahalanobis task identification, then that task's module and head",
        Variant::Base,
        Some(Setup::til(Oracle)),
        Some(Setup::cil(Epi(F))),
        Some(Setup::routing(Epi(F))),
    ),
    method(
        "dam",
        "DAM-style: top-2 centroid softmax (T = 0.01), parameters merged per example",
        Variant::Base,
        Some(Setup::til(Dam(F))),
        Some(Setup::cil(Dam(F))),
        Some(Setup::routing(Dam(F))),
    ),
    method("dam-top-task", "DAM-style routing, then the head of the nearest centroid's task (DAM's other CIL rule)", Variant::Base, Some(Setup::til(Dam(F))), Some(Setup::cil(DamTopTask(F))), Some(Setup::routing(Dam(F)))),
    method(
        "mocl-layers",
        "MoCL-style on every frozen layer's pooled state (the routers' input)",
        Variant::Base,
        Some(Setup::til(Mocl(L))),
        Some(Setup::cil(Mocl(L))),
        Some(Setup::routing(Mocl(L))),
    ),
    method(
        "epi-layers",
        "EPI-style on every frozen layer's pooled state (the routers' input)",
        Variant::Base,
        Some(Setup::til(Oracle)),
        Some(Setup::cil(Epi(L))),
        Some(Setup::routing(Epi(L))),
    ),
    method(
        "dam-layers",
        "DAM-style on every frozen layer's pooled state (the routers' input)",
        Variant::Base,
        Some(Setup::til(Dam(L))),
        Some(Setup::cil(Dam(L))),
        Some(Setup::routing(Dam(L))),
    ),
    method(
        "dam-top-task-layers",
        "DAM-style route-then-classify on every frozen layer's pooled state",
        Variant::Base,
        Some(Setup::til(Dam(L))),
        Some(Setup::cil(DamTopTask(L))),
        Some(Setup::routing(Dam(L))),
    ),
    method(
        "ncm",
        "no module: nearest class mean by cosine on the final layer (SimpleCIL-style)",
        Variant::Base,
        Some(Setup::til(NearestMean(F))),
        Some(Setup::cil(NearestMean(F))),
        Some(Setup::routing(NearestMean(F))),
    ),
    method(
        "ncm-layers",
        "no module: nearest class mean by cosine on every layer's pooled state",
        Variant::Base,
        Some(Setup::til(NearestMean(L))),
        Some(Setup::cil(NearestMean(L))),
        Some(Setup::routing(NearestMean(L))),
    ),
    method(
        "lda",
        "no module: shared-covariance Gaussian per class (LDA) on the final layer",
        Variant::Base,
        Some(Setup::til(SharedGaussian(F))),
        Some(Setup::cil(SharedGaussian(F))),
        Some(Setup::routing(SharedGaussian(F))),
    ),
    method(
        "lda-layers",
        "no module: shared-covariance Gaussian per class (LDA) on every layer's pooled state",
        Variant::Base,
        Some(Setup::til(SharedGaussian(L))),
        Some(Setup::cil(SharedGaussian(L))),
        Some(Setup::routing(SharedGaussian(L))),
    ),
    method(
        "ridge",
        "no module: ridge on a random ReLU projection of the final layer (RanPAC-style)",
        Variant::Base,
        Some(Setup::til(RandomRidge(F))),
        Some(Setup::cil(RandomRidge(F))),
        Some(Setup::routing(RandomRidge(F))),
    ),
    method(
        "ridge-layers",
        "no module: ridge on a random ReLU projection of every layer's pooled state (RanPAC-style)",
        Variant::Base,
        Some(Setup::til(RandomRidge(L))),
        Some(Setup::cil(RandomRidge(L))),
        Some(Setup::routing(RandomRidge(L))),
    ),
    method("arrow", "Arrow: zero-shot per-token routing by the LoRA updates' top singular vectors (LoRA modules)", Variant::Lora, Some(Setup::til(Arrow)), Some(Setup::cil(Arrow)), None),
    method(
        "l2r-wavg",
        "L2R, weighted average of module outputs",
        Variant::Base,
        Some(Setup::til(L2r)),
        Some(Setup::cil(L2r)),
        Some(Setup::routing(L2r)),
    ),
    method(
        "l2r-merge",
        "L2R, module parameters merged per example",
        Variant::Merge,
        Some(Setup::til(L2r)),
        Some(Setup::cil(L2r)),
        Some(Setup::routing(L2r)),
    ),
    method(
        "l2r-softmax",
        "ablation: softmax gates instead of Gumbel-sigmoid",
        Variant::Softmax,
        Some(Setup::til(L2r)),
        Some(Setup::cil(L2r)),
        Some(Setup::routing(L2r)),
    ),
    method(
        "l2r-single-router",
        "ablation: one router for every layer",
        Variant::SingleRouter,
        Some(Setup::til(L2r)),
        Some(Setup::cil(L2r)),
        Some(Setup::routing(L2r)),
    ),
    method(
        "l2r-memory-1",
        "ablation: 1 memory example per class",
        Variant::Memory(1),
        Some(Setup::til(L2r)),
        Some(Setup::cil(L2r)),
        Some(Setup::routing(L2r)),
    ),
    method(
        "l2r-memory-5",
        "ablation: 5 memory examples per class",
        Variant::Memory(5),
        Some(Setup::til(L2r)),
        Some(Setup::cil(L2r)),
        Some(Setup::routing(L2r)),
    ),
    method(
        "l2r-memory-10",
        "ablation: 10 memory examples per class",
        Variant::Memory(10),
        Some(Setup::til(L2r)),
        Some(Setup::cil(L2r)),
        Some(Setup::routing(L2r)),
    ),
    method(
        "l2r-memory-50",
        "ablation: 50 memory examples per class",
        Variant::Memory(50),
        Some(Setup::til(L2r)),
        Some(Setup::cil(L2r)),
        Some(Setup::routing(L2r)),
    ),
    method(
        "l2r-memory-herding",
        "ablation: the memory chosen by herding (closest to each class mean) instead of at random",
        Variant::MemorySelection(MemorySelection::Herding),
        Some(Setup::til(L2r)),
        Some(Setup::cil(L2r)),
        Some(Setup::routing(L2r)),
    ),
    method(
        "l2r-memory-k-center",
        "ablation: the memory chosen by greedy k-center (covering each class's spread) instead of at random",
        Variant::MemorySelection(MemorySelection::KCenter),
        Some(Setup::til(L2r)),
        Some(Setup::cil(L2r)),
        Some(Setup::routing(L2r)),
    ),
    method("l2r-lora", "L2R-wavg with LoRA modules (the modules Arrow routes)", Variant::Lora, Some(Setup::til(L2r)), Some(Setup::cil(L2r)), Some(Setup::routing(L2r))),
    method(
        "l2r-local",
        "ablation: local adaptation of the routers per test batch",
        Variant::LocalAdaptation,
        Some(Setup::til(L2r)),
        Some(Setup::cil(L2r)),
        Some(Setup::routing(L2r)),
    ),
    method("l2r-progressive", "ablation: each module trained with the earlier ones active beside it", Variant::Progressive, Some(Setup::til(L2r)), Some(Setup::cil(L2r)), Some(Setup::routing(L2r))),
    method("l2r-fit-once", "ablation: routers fitted once, after the last task", Variant::FitOnce, Some(Setup::til(L2r)), Some(Setup::cil(L2r)), Some(Setup::routing(L2r))),
];

/// The comparison: bounds, similarity-routing baselines and training-free classifiers at every representation, L2R
/// in both compositions.
pub const DEFAULT_METHODS: [&str; 21] = [
    "oracle",
    "sequential",
    "multitask",
    "uniform",
    "mocl",
    "epi",
    "dam",
    "dam-top-task",
    "mocl-layers",
    "epi-layers",
    "dam-layers",
    "dam-top-task-layers",
    "ncm",
    "ncm-layers",
    "lda",
    "lda-layers",
    "ridge",
    "ridge-layers",
    "arrow",
    "l2r-wavg",
    "l2r-merge",
];

/// The methods named in `names` (comma-separated lists allowed; `default`, `ablations` and `all` expand).
pub fn parse_methods(names: &[String]) -> Result<Vec<Method>> {
    let mut chosen: Vec<Method> = Vec::new();
    for name in names.iter().flat_map(|n| n.split(',')).map(str::trim) {
        let expanded: Vec<&str> = match name {
            "" => continue,
            "default" => DEFAULT_METHODS.to_vec(),
            "ablations" => METHODS
                .iter()
                .filter(|m| m.name.starts_with("l2r-"))
                .map(|m| m.name)
                .collect(),
            "all" => METHODS.iter().map(|m| m.name).collect(),
            one => vec![one],
        };
        for one in expanded {
            let found = METHODS.iter().find(|m| m.name == one).ok_or_else(|| {
                let known: Vec<&str> = METHODS.iter().map(|m| m.name).collect();
                Error::invalid(format!(
                    "unknown method '{one}'; known: {} (or default, ablations, all)",
                    known.join(", ")
                ))
            })?;
            if !chosen.iter().any(|m| m.name == found.name) {
                chosen.push(*found);
            }
        }
    }
    if chosen.is_empty() {
        return Err(Error::invalid("name at least one method"));
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn lists_expand_and_unknown_names_are_refused_with_the_known_ones() {
        let methods = parse_methods(&["dam,l2r-wavg".into(), "dam".into()]).unwrap();
        assert_eq!(
            methods.iter().map(|m| m.name).collect::<Vec<_>>(),
            ["dam", "l2r-wavg"]
        );
        assert_eq!(
            parse_methods(&["default".into()]).unwrap().len(),
            DEFAULT_METHODS.len()
        );
        let error = parse_methods(&["dma".into()]).unwrap_err().to_string();
        assert!(error.contains("dma") && error.contains("mocl"), "{error}");
    }

    #[test]
    fn variants_change_only_what_they_name() {
        let base = RunConfig::from_toml(
            "benchmark = \"far5\"\ncomposition = \"merge\"\n",
            Path::new("c"),
        )
        .unwrap();
        let wavg = Variant::Base.apply(&base);
        assert_eq!(wavg.composition, CompositionMode::Wavg);
        let memory = Variant::Memory(5).apply(&base);
        assert_eq!(memory.memory.per_class, 5);
        assert_eq!(memory.router, wavg.router);
        let herded = Variant::MemorySelection(MemorySelection::Herding).apply(&base);
        assert_eq!(
            (herded.memory.selection, herded.memory.per_class),
            (MemorySelection::Herding, wavg.memory.per_class)
        );
        assert_eq!(
            Variant::Sequential.apply(&base).module_training,
            ModuleTraining::Sequential
        );
        // Variants that train the same modules share them through the module cache key.
        let with_cache = |c: RunConfig| RunConfig {
            module_cache: Some("/cache".into()),
            ..c
        };
        assert_eq!(
            with_cache(Variant::Softmax.apply(&base))
                .module_cache_dir()
                .unwrap(),
            with_cache(wavg.clone()).module_cache_dir().unwrap()
        );
        assert_eq!(
            with_cache(herded).module_cache_dir().unwrap(),
            with_cache(wavg.clone()).module_cache_dir().unwrap(),
            "a memory drawn from modules' training data does not change them"
        );
    }
}
