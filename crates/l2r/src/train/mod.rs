//! Isolated training of one task's PEFT module and head, its evaluation, and the linear-probe reference.

mod artifacts;
mod batches;
mod contrastive;
mod head_init;
mod probe;
mod schedule;
mod task_data;
mod task_model;
mod trainer;

pub use artifacts::{default_dir, SplitSpec, TaskArtifacts, TaskRecord, FROZEN_TRAIN_FILE};
pub use batches::{
    length_grouped_batches, length_groups, predict_by_length, tokenize_examples, LengthOrder,
    TokenizedExample,
};
pub use contrastive::pairwise_cosine_loss;
pub use head_init::{fit_head_as_probe, HeadInit};
pub use probe::{
    fit_logistic_head, frozen_features, train_linear_probe, ProbeConfig, ProbeFit, ProbeReport,
};
pub use schedule::LrSchedule;
pub use task_data::task_splits;
pub use task_model::TaskModel;
pub use trainer::{
    accuracy, progress_bar, train_task, EpochLog, Objective, TrainConfig, TrainReport,
};
