//! An evaluation setup: what is measured (the [`Setting`]: TIL, CIL or routing) of which way to predict (the
//! [`Approach`]: L2R's routers and decision rules, or a baseline on the same modules). A setup is stored under a
//! short name (`cil`, `til_routed`, `cil_dam_top_task`, `routing_epi`, …), the names run folders have always used,
//! so old `eval-step*.json` files still load.

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

/// How a prediction is made: L2R (its routers and decision rules), or a bound or baseline on the same modules.
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
    Dam,
    DamTopTask,
    Epi,
    Mocl,
    Arrow,
    Sequential,
    Multitask,
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
            Approach::Dam => "dam",
            Approach::DamTopTask => "dam_top_task",
            Approach::Epi => "epi",
            Approach::Mocl => "mocl",
            Approach::Arrow => "arrow",
            Approach::Sequential => "sequential",
            Approach::Multitask => "multitask",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Approach::Oracle => "Task oracle",
            Approach::L2r => "L2R",
            Approach::L2rGated => "L2R, joint rule",
            Approach::L2rTopTask => "L2R, route then classify",
            Approach::Uniform => "Uniform average",
            Approach::Dam => "DAM-style",
            Approach::DamTopTask => "DAM-style, route then classify",
            Approach::Epi => "EPI-style",
            Approach::Mocl => "MoCL-style",
            Approach::Arrow => "Arrow",
            Approach::Sequential => "Sequential fine-tuning",
            Approach::Multitask => "Multitask training",
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
            Approach::Dam => {
                "top-2 task centroids by cosine, softmax at T = 0.01, module parameters merged per example"
            }
            Approach::DamTopTask => "DAM-style merge, then the head of the nearest centroid's task",
            Approach::Epi => {
                "Mahalanobis distance to class means (pooled covariance) picks the task, then its module and head"
            }
            Approach::Mocl => "trained task keys, softmax(8 · cos) weights, module outputs averaged",
            Approach::Arrow => "zero-shot per-token routing by each LoRA update's top singular vector",
            Approach::Sequential => "one module fine-tuned on each task in turn (lower bound)",
            Approach::Multitask => "one module and head trained on every task at once (upper bound)",
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
    pub const ALL: [Setup; 22] = {
        use Approach::*;
        [
            Setup::til(Oracle),
            Setup::til(L2r),
            Setup::cil(L2r),
            Setup::routing(L2r),
            Setup::cil(L2rGated),
            Setup::cil(L2rTopTask),
            Setup::cil(Uniform),
            Setup::til(Dam),
            Setup::cil(Dam),
            Setup::cil(DamTopTask),
            Setup::routing(Dam),
            Setup::cil(Epi),
            Setup::routing(Epi),
            Setup::til(Mocl),
            Setup::cil(Mocl),
            Setup::routing(Mocl),
            Setup::til(Arrow),
            Setup::cil(Arrow),
            Setup::til(Sequential),
            Setup::cil(Sequential),
            Setup::til(Multitask),
            Setup::cil(Multitask),
        ]
    };

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
        Setup::ALL.into_iter().find(|s| s.name() == name)
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
            let known: Vec<String> = Setup::ALL.iter().map(|s| s.name()).collect();
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
        let names: Vec<String> = Setup::ALL.iter().map(|s| s.name()).collect();
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
        ] {
            assert!(names.contains(&old.to_string()), "{old} is not a setup");
        }
        for setup in Setup::ALL {
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
        assert!(!Setup::routing(Approach::Epi).is_accuracy());
        assert!(Setup::cil(Approach::Epi).is_accuracy());
        assert_eq!(Setup::cil(Approach::Epi).display_name(), "EPI-style (CIL)");
    }
}
