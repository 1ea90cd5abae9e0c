//! Labelled examples of one or several tasks, tokenized once, with their frozen-encoder embeddings: what the
//! routers are fitted on (the memory) and what every setup is evaluated on (each task's test split).

use crate::backbone::{l2_normalize, Backbone};
use crate::error::{Error, Result};
use crate::train::LengthOrder;
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Which frozen representation of an example to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Representation {
    /// The mean-pooled, L2-normalised output of the last layer (the sentence embedding).
    FinalLayer,
    /// Every layer's mean-pooled state (embeddings included), each L2-normalised, concatenated.
    AllLayers,
}

impl Representation {
    pub const ALL: [Representation; 2] = [Representation::FinalLayer, Representation::AllLayers];

    /// Its width for `backbone`'s encoder.
    pub fn dim(self, backbone: &Backbone) -> usize {
        let hidden = backbone.encoder.hidden_size();
        match self {
            Representation::FinalLayer => hidden,
            Representation::AllLayers => (backbone.encoder.num_layers() + 1) * hidden,
        }
    }

    /// Every representation with its width for `backbone`'s encoder.
    pub fn dims(backbone: &Backbone) -> Vec<(Representation, usize)> {
        Representation::ALL
            .into_iter()
            .map(|r| (r, r.dim(backbone)))
            .collect()
    }

    /// The name configs and files use.
    pub fn name(self) -> &'static str {
        match self {
            Representation::FinalLayer => "final_layer",
            Representation::AllLayers => "all_layers",
        }
    }
}

/// Both frozen representations of the same rows.
pub struct Features {
    pub final_layer: Tensor,
    pub all_layers: Tensor,
}

impl Features {
    pub fn get(&self, representation: Representation) -> &Tensor {
        match representation {
            Representation::FinalLayer => &self.final_layer,
            Representation::AllLayers => &self.all_layers,
        }
    }
}

pub struct EmbeddedExamples {
    pub ids: Vec<Vec<u32>>,
    /// (n, d) unit-norm frozen sentence embeddings (mean pool of the last layer).
    pub frozen: Tensor,
    /// (n, (L+1)·d) unit-norm mean pools of every frozen layer (see [`crate::backbone::pooled_states`]).
    pub frozen_layers: Tensor,
    /// Each example's task, in run order.
    pub tasks: Vec<usize>,
    /// Each example's label within its task's label set.
    pub labels: Vec<usize>,
}

/// Rows embedded at once: enough to keep both cores busy, little padding once sorted by length.
const CHUNK: usize = 64;

impl EmbeddedExamples {
    pub fn new(
        backbone: &Backbone,
        texts: &[&str],
        tasks: Vec<usize>,
        labels: Vec<usize>,
    ) -> Result<Self> {
        if texts.is_empty() {
            return Err(Error::invalid("no examples to embed"));
        }
        let ids = backbone.tokenizer.encode_ids(texts)?;
        let order = LengthOrder::of_ids(&ids);
        let chunks = order.chunks(CHUNK, |items| {
            let rows: Vec<&[u32]> = items.iter().map(|&i| ids[i].as_slice()).collect();
            backbone.frozen_representations(&backbone.tokenizer.pad(&rows)?)
        })?;
        let (last, layers): (Vec<Tensor>, Vec<Tensor>) = chunks.into_iter().unzip();
        Ok(EmbeddedExamples {
            frozen: order.restore_rows(&Tensor::cat(&last, 0)?)?,
            frozen_layers: order.restore_rows(&Tensor::cat(&layers, 0)?)?,
            ids,
            tasks,
            labels,
        })
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The frozen representation `representation` of every example.
    pub fn features(&self, representation: Representation) -> &Tensor {
        match representation {
            Representation::FinalLayer => &self.frozen,
            Representation::AllLayers => &self.frozen_layers,
        }
    }

    /// Both representations of every example.
    pub fn all_features(&self) -> Features {
        Features {
            final_layer: self.frozen.clone(),
            all_layers: self.frozen_layers.clone(),
        }
    }

    /// Both representations of the examples at `rows`.
    pub fn rows(&self, rows: &Tensor) -> Result<Features> {
        Ok(Features {
            final_layer: self.frozen.index_select(rows, 0)?,
            all_layers: self.frozen_layers.index_select(rows, 0)?,
        })
    }

    /// Unit-norm mean of each task's frozen sentence embeddings: (num_tasks, d).
    pub fn centroids(&self, num_tasks: usize) -> Result<Tensor> {
        self.centroids_of(&self.frozen, num_tasks)
    }

    /// Unit-norm mean of each task's rows of `representation` (n, d'): (num_tasks, d').
    pub fn centroids_of(&self, representation: &Tensor, num_tasks: usize) -> Result<Tensor> {
        let mut rows = Vec::with_capacity(num_tasks);
        for task in 0..num_tasks {
            let idx: Vec<u32> = (0..self.len())
                .filter(|&i| self.tasks[i] == task)
                .map(|i| i as u32)
                .collect();
            if idx.is_empty() {
                return Err(Error::invalid(format!(
                    "the memory holds no example of task {task}"
                )));
            }
            let members = representation.index_select(&Tensor::new(idx, &Device::Cpu)?, 0)?;
            rows.push(members.mean_keepdim(0)?);
        }
        Ok(l2_normalize(&Tensor::cat(&rows, 0)?)?)
    }
}
