//! Labelled examples of one or several tasks, tokenized once, with their frozen-encoder embeddings: what the
//! routers are fitted on (the memory) and what every setup is evaluated on (each task's test split).

use crate::backbone::{l2_normalize, Backbone};
use crate::error::{Error, Result};
use crate::train::LengthOrder;
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::path::Path;

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

#[derive(Clone)]
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

/// The name, in a features cache, of the FNV-1a of the token ids the features are of.
const KEY: &str = "ids_fnv1a64";

/// The frozen sentence embeddings and pooled layers of token ids, in their order.
fn frozen_of(backbone: &Backbone, ids: &[Vec<u32>]) -> Result<(Tensor, Tensor)> {
    let order = LengthOrder::of_ids(ids);
    let chunks = order.chunks(CHUNK, |items| {
        let rows: Vec<&[u32]> = items.iter().map(|&i| ids[i].as_slice()).collect();
        backbone.frozen_representations(&backbone.tokenizer.pad(&rows)?)
    })?;
    let (last, layers): (Vec<Tensor>, Vec<Tensor>) = chunks.into_iter().unzip();
    Ok((
        order.restore_rows(&Tensor::cat(&last, 0)?)?,
        order.restore_rows(&Tensor::cat(&layers, 0)?)?,
    ))
}

/// [`frozen_of`], read from the file `cache` when it holds the features of these ids, else computed and written there.
fn cached_frozen_of(
    backbone: &Backbone,
    ids: &[Vec<u32>],
    cache: &Path,
) -> Result<(Tensor, Tensor)> {
    let key = ids_key(ids)?;
    if let Some(features) = read_cache(cache, &key, ids.len(), backbone) {
        return Ok(features);
    }
    let (frozen, layers) = frozen_of(backbone, ids)?;
    let tensors = vec![
        ("frozen".to_string(), frozen.clone()),
        ("frozen_layers".to_string(), layers.clone()),
        (KEY.to_string(), key),
    ];
    crate::io::write_safetensors(cache, tensors)?;
    Ok((frozen, layers))
}

/// (8,) u8: FNV-1a of every example's token ids, each example ended by u32::MAX (no token id).
fn ids_key(ids: &[Vec<u32>]) -> Result<Tensor> {
    let bytes: Vec<u8> = ids
        .iter()
        .flat_map(|row| row.iter().chain(std::iter::once(&u32::MAX)))
        .flat_map(|id| id.to_le_bytes())
        .collect();
    let hash = crate::hash::fnv1a(&bytes).to_le_bytes().to_vec();
    Ok(Tensor::from_vec(hash, 8, &Device::Cpu)?)
}

/// The cached features at `path` when they are of the token ids hashed to `key` and have `backbone`'s widths.
fn read_cache(
    path: &Path,
    key: &Tensor,
    rows: usize,
    backbone: &Backbone,
) -> Option<(Tensor, Tensor)> {
    if !path.is_file() {
        return None;
    }
    let mut tensors = match crate::io::read_safetensors(path, "cached features") {
        Ok(tensors) => tensors,
        Err(error) => {
            tracing::warn!("recomputing the frozen features: {error}");
            return None;
        }
    };
    let same_key = tensors.get(KEY)?.to_vec1::<u8>().ok()? == key.to_vec1::<u8>().ok()?;
    let frozen = tensors.remove("frozen")?;
    let layers = tensors.remove("frozen_layers")?;
    let fits = |t: &Tensor, representation: Representation| {
        t.dims() == [rows, representation.dim(backbone)]
    };
    let usable = same_key
        && fits(&frozen, Representation::FinalLayer)
        && fits(&layers, Representation::AllLayers);
    let device = backbone.device();
    match usable {
        true => Some((
            frozen.to_device(device).ok()?,
            layers.to_device(device).ok()?,
        )),
        false => None,
    }
}

impl EmbeddedExamples {
    pub fn new(
        backbone: &Backbone,
        texts: &[&str],
        tasks: Vec<usize>,
        labels: Vec<usize>,
    ) -> Result<Self> {
        Self::embedded(backbone, texts, tasks, labels, None)
    }

    /// [`EmbeddedExamples::new`], keeping the frozen representations in the file `cache`: read from it when it
    /// holds those of the same token ids, else computed and written there (atomically). A task library keeps one
    /// per task and split, so that an add does not re-embed what no add changes; a cache that cannot be read or
    /// belongs to other texts is recomputed.
    pub fn cached(
        backbone: &Backbone,
        texts: &[&str],
        tasks: Vec<usize>,
        labels: Vec<usize>,
        cache: &Path,
    ) -> Result<Self> {
        Self::embedded(backbone, texts, tasks, labels, Some(cache))
    }

    fn embedded(
        backbone: &Backbone,
        texts: &[&str],
        tasks: Vec<usize>,
        labels: Vec<usize>,
        cache: Option<&Path>,
    ) -> Result<Self> {
        if texts.is_empty() {
            return Err(Error::invalid("no examples to embed"));
        }
        let ids = backbone.tokenizer.encode_ids(texts)?;
        let (frozen, frozen_layers) = match cache {
            None => frozen_of(backbone, &ids)?,
            Some(cache) => cached_frozen_of(backbone, &ids, cache)?,
        };
        Ok(EmbeddedExamples {
            frozen,
            frozen_layers,
            ids,
            tasks,
            labels,
        })
    }

    /// The examples of `parts`, one after the other.
    pub fn concat(parts: Vec<EmbeddedExamples>) -> Result<Self> {
        if parts.is_empty() {
            return Err(Error::invalid("no examples to join"));
        }
        let frozen: Vec<&Tensor> = parts.iter().map(|p| &p.frozen).collect();
        let layers: Vec<&Tensor> = parts.iter().map(|p| &p.frozen_layers).collect();
        let (frozen, frozen_layers) = (Tensor::cat(&frozen, 0)?, Tensor::cat(&layers, 0)?);
        let (mut ids, mut tasks, mut labels) = (Vec::new(), Vec::new(), Vec::new());
        for part in parts {
            ids.extend(part.ids);
            tasks.extend(part.tasks);
            labels.extend(part.labels);
        }
        Ok(EmbeddedExamples {
            ids,
            frozen,
            frozen_layers,
            tasks,
            labels,
        })
    }

    /// The examples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        if let Some(&index) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(Error::invalid(format!(
                "example {index} asked of {} examples",
                self.len()
            )));
        }
        let rows = Tensor::new(
            indices.iter().map(|&i| i as u32).collect::<Vec<_>>(),
            self.frozen.device(),
        )?;
        Ok(EmbeddedExamples {
            frozen: self.frozen.index_select(&rows, 0)?,
            frozen_layers: self.frozen_layers.index_select(&rows, 0)?,
            ids: indices.iter().map(|&i| self.ids[i].clone()).collect(),
            tasks: indices.iter().map(|&i| self.tasks[i]).collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
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
            let index = Tensor::new(idx, representation.device())?;
            let members = representation.index_select(&index, 0)?;
            rows.push(members.mean_keepdim(0)?);
        }
        Ok(l2_normalize(&Tensor::cat(&rows, 0)?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backbone::tiny::tiny_backbone;

    fn same(a: &Tensor, b: &Tensor) -> bool {
        crate::testing::max_diff(a, b).unwrap() == 0.0
    }

    #[test]
    fn cached_features_are_read_back_and_recomputed_when_stale_or_damaged() {
        let backbone = tiny_backbone(3).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("features.safetensors");
        let texts = ["a cat runs", "the movie was good", "dog"];
        let embed = |texts: &[&str]| {
            EmbeddedExamples::cached(
                &backbone,
                texts,
                vec![2; texts.len()],
                vec![0; texts.len()],
                &cache,
            )
            .unwrap()
        };
        let fresh = EmbeddedExamples::new(&backbone, &texts, vec![2; 3], vec![0; 3]).unwrap();
        let first = embed(&texts);
        assert!(cache.is_file());
        assert!(same(&first.frozen_layers, &fresh.frozen_layers) && first.tasks == [2, 2, 2]);
        // Read back: the file's features, not new ones (marked by overwriting them with zeros).
        let key = ids_key(&first.ids).unwrap();
        let zeros = (
            first.frozen.zeros_like().unwrap(),
            first.frozen_layers.zeros_like().unwrap(),
        );
        let tensors = vec![
            ("frozen".to_string(), zeros.0.clone()),
            ("frozen_layers".to_string(), zeros.1.clone()),
            (KEY.to_string(), key),
        ];
        crate::io::write_safetensors(&cache, tensors).unwrap();
        assert!(same(&embed(&texts).frozen, &zeros.0));
        // Other texts: recomputed and the cache replaced.
        let other = embed(&texts[..2]);
        let expected = fresh.frozen.narrow(0, 0, 2).unwrap();
        assert!(crate::testing::max_diff(&other.frozen, &expected).unwrap() < 1e-5);
        // A damaged cache: recomputed.
        let mut bytes = std::fs::read(&cache).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x10;
        std::fs::write(&cache, bytes).unwrap();
        assert!(same(&embed(&texts[..2]).frozen, &other.frozen));
    }

    #[test]
    fn concatenated_examples_keep_every_row_in_order() {
        let backbone = tiny_backbone(3).unwrap();
        let a =
            EmbeddedExamples::new(&backbone, &["a cat", "a dog"], vec![0, 0], vec![0, 1]).unwrap();
        let b = EmbeddedExamples::new(&backbone, &["the movie"], vec![1], vec![1]).unwrap();
        let (a_frozen, b_frozen) = (a.frozen.clone(), b.frozen.clone());
        let joined = EmbeddedExamples::concat(vec![a, b]).unwrap();
        assert_eq!(
            (joined.len(), joined.tasks.clone(), joined.labels.clone()),
            (3, vec![0, 0, 1], vec![0, 1, 1])
        );
        assert!(same(&joined.frozen.narrow(0, 2, 1).unwrap(), &b_frozen));
        assert!(same(&joined.frozen.narrow(0, 0, 2).unwrap(), &a_frozen));
        assert!(EmbeddedExamples::concat(Vec::new()).is_err());
    }
}
