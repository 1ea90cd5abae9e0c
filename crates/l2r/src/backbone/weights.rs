//! Named tensors of a safetensors file, with errors that name the file and the tensor.

use crate::error::{Error, Result};
use candle_core::{DType, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub struct WeightMap {
    path: PathBuf,
    tensors: HashMap<String, Tensor>,
}

impl WeightMap {
    /// Loads every tensor of `path` into memory as f32 (integer tensors such as `position_ids` keep their type).
    pub fn load(path: &Path) -> Result<Self> {
        let tensors = crate::io::read_safetensors(path, "weights file")?;
        Ok(WeightMap {
            path: path.to_owned(),
            tensors,
        })
    }

    /// Every tensor moved to `device` (a no-op on the CPU).
    pub fn to_device(self, device: &candle_core::Device) -> Result<Self> {
        if device.is_cpu() {
            return Ok(self);
        }
        let tensors = self
            .tensors
            .into_iter()
            .map(|(name, tensor)| Ok((name, tensor.to_device(device)?)))
            .collect::<Result<_>>()?;
        Ok(WeightMap {
            path: self.path,
            tensors,
        })
    }

    pub fn from_tensors(path: impl Into<PathBuf>, tensors: HashMap<String, Tensor>) -> Self {
        WeightMap {
            path: path.into(),
            tensors,
        }
    }

    /// The f32 tensor `name`, checked to have `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let tensor = self
            .tensors
            .get(name)
            .ok_or_else(|| self.error(format!("tensor '{name}' is missing")))?;
        if tensor.dims() != shape {
            return Err(self.error(format!(
                "tensor '{name}' has shape {:?}, expected {shape:?}",
                tensor.dims()
            )));
        }
        Ok(tensor.to_dtype(DType::F32)?)
    }

    /// The tensor `name` as f32, whatever its shape.
    pub fn get_any(&self, name: &str) -> Option<Tensor> {
        self.tensors
            .get(name)
            .and_then(|t| t.to_dtype(DType::F32).ok())
    }

    /// Every tensor, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Tensor)> {
        self.tensors.iter()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    fn error(&self, message: String) -> Error {
        Error::Weights {
            path: self.path.clone(),
            message,
        }
    }
}
