//! An evaluation setup: what is measured (the [`Setting`]: TIL, CIL or routing) of which way to predict (the
//! [`Approach`]: L2R's routers and decision rules, or a baseline on the same modules). A setup is stored under a
//! short name (`cil`, `til_routed`, `cil_dam_top_task`, `routing_epi`, …), the names run folders have always used,
//! so old `eval-step*.json` files still load.

use crate::embedded::Representation;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What an accuracy measures, and so which target a prediction is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Setting {
    /// Task-incremental: the task id is given; the prediction is a label of the task's own head.
    Til,
    /// Class-incremental: no task id; the prediction is a class of the concatenated label space of every task seen.
    Cil,
    /// Task identification: the prediction is a task (the module given the largest weight).
    Routing,
}

impl Setting {
    pub fn prefix(self) -> &'static str {
        match self {
            Setting::Til => "til",
            Setting::Cil => "cil",
            Setting::Routing => "routing",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Setting::Til => "task id given, the task's own classes",
            Setting::Cil => "no task id, every class seen so far",
            Setting::Routing => "share of examples whose top module is their own task's",
        }
    }
}

/// How a prediction is made: L2R (its routers and decision rules), or a bound or baseline on the same modules. A
/// baseline that reads a frozen representation names it; the final layer's keeps the name it always had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Approach {
    /// Each task's own module and head.
    Oracle,
    /// L2R: the routers' weights compose the modules; CIL by the objective's rule.
    L2r,
    /// L2R's joint rule: each head's class probabilities times its module's (layer-averaged) weight.
    L2rGated,
    /// L2R's routers pick the top module, then its head classifies (route, then classify).
    L2rTopTask,
    /// Every module weighted equally.
    Uniform,
    Dam(Representation),
    DamTopTask(Representation),
    Epi(Representation),
    Mocl(Representation),
    Arrow,
    Sequential,
    Multitask,
    /// Training-free, no module: cosine to each class's mean frozen feature.
    NearestMean(Representation),
    /// Training-free, no module: one Gaussian per class with a covariance shared by every class (LDA).
    SharedGaussian(Representation),
    /// Training-free, no module: ridge regression on a random ReLU projection of the frozen features.
    RandomRidge(Representation),
}

/// `base` for the final layer (the name it always had), `layers` for every layer.
fn by_representation(
    representation: Representation,
    base: &'static str,
    layers: &'static str,
) -> &'static str {
    match representation {
        Representation::FinalLayer => base,
        Representation::AllLayers => layers,
    }
}

impl Approach {
    /// The part of a setup's name after its setting (`cil_<suffix>`); L2R's own setups have names of their own.
    fn suffix(self) -> &'static str {
        match self {
            Approach::Oracle => "oracle",
            Approach::L2r => "routed",
            Approach::L2rGated => "gated",
            Approach::L2rTopTask => "top_task",
            Approach::Uniform => "uniform",
            Approach::Dam(r) => by_representation(r, "dam", "dam_layers"),
            Approach::DamTopTask(r) => by_representation(r, "dam_top_task", "dam_top_task_layers"),
            Approach::Epi(r) => by_representation(r, "epi", "epi_layers"),
            Approach::Mocl(r) => by_representation(r, "mocl", "mocl_layers"),
            Approach::Arrow => "arrow",
            Approach::Sequential => "sequential",
            Approach::Multitask => "multitask",
            Approach::NearestMean(r) => by_representation(r, "ncm", "ncm_layers"),
            Approach::SharedGaussian(r) => by_representation(r, "lda", "lda_layers"),
            Approach::RandomRidge(r) => by_representation(r, "ridge", "ridge_layers"),
        }
    }

    /// The frozen representation the approach reads, if it reads one of its own.
    pub fn representation(self) -> Option<Representation> {
        match self {
            Approach::Dam(r)
            | Approach::DamTopTask(r)
            | Approach::Epi(r)
            | Approach::Mocl(r)
            | Approach::NearestMean(r)
            | Approach::SharedGaussian(r)
            | Approach::RandomRidge(r) => Some(r),
            _ => None,
        }
    }

    /// For people: "EPI-style", "EPI-style, all layers".
    pub fn display_name(self) -> String {
        let base = match self {
            Approach::Oracle => "Task oracle",
            Approach::L2r => "L2R",
            Approach::L2rGated => "L2R, joint rule",
            Approach::L2rTopTask => "L2R, route then classify",
            Approach::Uniform => "Uniform average",
            Approach::Dam(_) => "DAM-style",
            Approach::DamTopTask(_) => "DAM-style, route then classify",
            Approach::Epi(_) => "EPI-style",
            Approach::Mocl(_) => "MoCL-style",
            Approach::Arrow => "Arrow",
            Approach::Sequential => "Sequential fine-tuning",
            Approach::Multitask => "Multitask training",
            Approach::NearestMean(_) => "Nearest class mean (no module)",
            Approach::SharedGaussian(_) => "Shared-covariance Gaussian, LDA (no module)",
            Approach::RandomRidge(_) => "Random-projection ridge, RanPAC-style (no module)",
        };
        match self.representation() {
            Some(Representation::AllLayers) => format!("{base}, all layers"),
            _ => base.to_string(),
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Approach::Oracle => "each task's own module and head (needs the task id)",
            Approach::L2r => "modules composed by the learned routers' weights; CIL by the router objective's rule",
            Approach::L2rGated => {
                "each head's class probabilities times its module's layer-averaged router weight"
            }
            Approach::L2rTopTask => "the head of the module the routers weight most",
            Approach::Uniform => "every module weighted equally, argmax over all heads",
            Approach::Dam(_) => {
                "top-2 task centroids by cosine, softmax at T = 0.01, module parameters merged per example"
            }
            Approach::DamTopTask(_) => "DAM-style merge, then the head of the nearest centroid's task",
            Approach::Epi(_) => {
                "Mahalanobis distance to class means (pooled covariance) picks the task, then its module and head"
            }
            Approach::Mocl(_) => "trained task keys, softmax(8 · cos) weights, module outputs averaged",
            Approach::Arrow => "zero-shot per-token routing by each LoRA update's top singular vector",
            Approach::Sequential => "one module fine-tuned on each task in turn (lower bound)",
            Approach::Multitask => "one module and head trained on every task at once (upper bound)",
            Approach::NearestMean(_) => {
                "no module: the class whose mean frozen feature is nearest by cosine (SimpleCIL-style)"
            }
            Approach::SharedGaussian(_) => {
                "no module: the class at minimum Mahalanobis distance under one pooled covariance (LDA)"
            }
            Approach::RandomRidge(_) => {
                "no module: ridge regression on a random ReLU projection of the frozen features, regulariser chosen on validation statistics"
            }
        }
    }
}

/// One row of a step's evaluation: a setting measured for an approach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Setup {
    pub setting: Setting,
    pub approach: Approach,
}

impl Setup {
    pub const fn new(setting: Setting, approach: Approach) -> Self {
        Setup { setting, approach }
    }

    pub const fn til(approach: Approach) -> Self {
        Setup::new(Setting::Til, approach)
    }

    pub const fn cil(approach: Approach) -> Self {
        Setup::new(Setting::Cil, approach)
    }

    pub const fn routing(approach: Approach) -> Self {
        Setup::new(Setting::Routing, approach)
    }

    /// Every setup an evaluation can hold, in the order tables list them.
    pub fn all() -> Vec<Setup> {
        use Approach::*;
        let mut setups = vec![
            Setup::til(Oracle),
            Setup::til(L2r),
            Setup::cil(L2r),
            Setup::routing(L2r),
            Setup::cil(L2rGated),
            Setup::cil(L2rTopTask),
            Setup::cil(Uniform),
        ];
        for r in Representation::ALL {
            setups.extend([
                Setup::til(Dam(r)),
                Setup::cil(Dam(r)),
                Setup::cil(DamTopTask(r)),
                Setup::routing(Dam(r)),
                Setup::cil(Epi(r)),
                Setup::routing(Epi(r)),
                Setup::til(Mocl(r)),
                Setup::cil(Mocl(r)),
                Setup::routing(Mocl(r)),
            ]);
        }
        setups.extend([
            Setup::til(Arrow),
            Setup::cil(Arrow),
            Setup::til(Sequential),
            Setup::cil(Sequential),
            Setup::til(Multitask),
            Setup::cil(Multitask),
        ]);
        for r in Representation::ALL {
            for approach in [NearestMean(r), SharedGaussian(r), RandomRidge(r)] {
                setups.extend([
                    Setup::til(approach),
                    Setup::cil(approach),
                    Setup::routing(approach),
                ]);
            }
        }
        setups
    }

    /// The stored name: `cil` for L2R's CIL, `routing` for its routing accuracy, else `<setting>_<approach>`.
    pub fn name(self) -> String {
        match (self.setting, self.approach) {
            (Setting::Cil, Approach::L2r) => "cil".into(),
            (Setting::Routing, Approach::L2r) => "routing".into(),
            (setting, approach) => format!("{}_{}", setting.prefix(), approach.suffix()),
        }
    }

    /// The setup stored under `name`, if any.
    pub fn parse(name: &str) -> Option<Setup> {
        Setup::all().into_iter().find(|s| s.name() == name)
    }

    /// For people: "EPI-style (CIL)".
    pub fn display_name(self) -> String {
        let setting = match self.setting {
            Setting::Til => "TIL",
            Setting::Cil => "CIL",
            Setting::Routing => "routing",
        };
        format!("{} ({setting})", self.approach.display_name())
    }

    /// One line: how the prediction is made, and what it is compared with.
    pub fn description(self) -> String {
        format!(
            "{}; {}",
            self.approach.description(),
            self.setting.description()
        )
    }

    /// Whether the accuracy is of a class prediction (TIL or CIL), so that backward transfer and forgetting mean
    /// something; a routing accuracy is not a task's accuracy and gets neither.
    pub fn is_accuracy(self) -> bool {
        self.setting != Setting::Routing
    }
}

impl fmt::Display for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl std::str::FromStr for Setup {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Setup::parse(name).ok_or_else(|| {
            let known: Vec<String> = Setup::all().iter().map(|s| s.name()).collect();
            format!(
                "unknown evaluation setup '{name}'; known: {}",
                known.join(", ")
            )
        })
    }
}

impl Serialize for Setup {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Setup {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_ones_run_folders_have_always_used_and_round_trip() {
        let names: Vec<String> = Setup::all().iter().map(|s| s.name()).collect();
        for old in [
            "til_oracle",
            "til_routed",
            "cil",
            "cil_uniform",
            "cil_top_task",
            "cil_gated",
            "cil_dam",
            "cil_dam_top_task",
            "til_dam",
            "cil_epi",
            "routing_epi",
            "til_mocl",
            "cil_mocl",
            "routing_mocl",
            "til_arrow",
            "cil_arrow",
            "til_sequential",
            "cil_sequential",
            "til_multitask",
            "cil_multitask",
            "cil_epi_layers",
            "cil_ridge_layers",
            "routing_lda",
        ] {
            assert!(names.contains(&old.to_string()), "{old} is not a setup");
        }
        for setup in Setup::all() {
            assert_eq!(Setup::parse(&setup.name()), Some(setup));
            let json = serde_json::to_string(&setup).unwrap();
            assert_eq!(serde_json::from_str::<Setup>(&json).unwrap(), setup);
        }
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "two setups share a name");
    }

    #[test]
    fn an_unknown_name_is_refused_with_the_known_ones() {
        let error = "cil_dma".parse::<Setup>().unwrap_err();
        assert!(error.contains("cil_dma") && error.contains("cil_dam_top_task"));
        assert!(serde_json::from_str::<Setup>("\"cil_dma\"").is_err());
    }

    #[test]
    fn routing_setups_are_not_accuracies() {
        assert!(!Setup::routing(Approach::Epi(Representation::FinalLayer)).is_accuracy());
        assert!(Setup::cil(Approach::Epi(Representation::FinalLayer)).is_accuracy());
        assert_eq!(
            Setup::cil(Approach::Epi(Representation::FinalLayer)).display_name(),
            "EPI-style (CIL)"
        );
    }
}
