//! Where l2r's tensors live and run: the CPU (default, with the hand-written kernels) or a CUDA GPU (candle's CUDA
//! backend, in builds with the `cuda` feature; the CUDA libraries are loaded at run time). Chosen by `--device` on
//! the command line or `device = "…"` in a config; every tensor l2r makes goes where the backbone is.

use crate::error::{Error, Result};
use candle_core::Device;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A device as written by a user: `cpu`, `cuda` (the first GPU) or `cuda:N`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeviceSpec {
    #[default]
    Cpu,
    Cuda(usize),
}

impl DeviceSpec {
    /// Opens the device: the CPU always; a GPU only in a build with the `cuda` feature, on a machine with a driver.
    pub fn open(self) -> Result<Device> {
        match self {
            DeviceSpec::Cpu => Ok(Device::Cpu),
            DeviceSpec::Cuda(ordinal) => open_cuda(ordinal),
        }
    }

    /// For serde's `skip_serializing_if`: configs that leave the CPU default out stay as they were.
    pub fn is_cpu(&self) -> bool {
        *self == DeviceSpec::Cpu
    }

    /// Whether this build can open CUDA devices at all.
    pub fn cuda_built() -> bool {
        cfg!(feature = "cuda")
    }
}

#[cfg(feature = "cuda")]
fn open_cuda(ordinal: usize) -> Result<Device> {
    let help = "is an NVIDIA driver (r580 or newer) installed, and is LD_LIBRARY_PATH pointing at the CUDA \
                runtime (assets/cuda/lib from scripts/setup.sh --with-cuda)?";
    // cudarc loads libcuda at first use and panics when there is none (a machine without a driver): that is a
    // user's setting, not a bug, so it becomes an error, without the panic's message.
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let opened = std::panic::catch_unwind(|| Device::new_cuda(ordinal));
    std::panic::set_hook(quiet);
    match opened {
        Ok(Ok(device)) => Ok(device),
        Ok(Err(e)) => Err(Error::invalid(format!(
            "cannot open cuda:{ordinal} ({e}); {help}"
        ))),
        Err(_) => Err(Error::invalid(format!(
            "cannot open cuda:{ordinal}: no CUDA driver library (libcuda.so) was found; {help}"
        ))),
    }
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(ordinal: usize) -> Result<Device> {
    Err(Error::invalid(format!(
        "cuda:{ordinal} asked for, but this l2r was built without CUDA: build it with scripts/build-cuda.sh \
         (README, \"Building for a GPU\"), or use --device cpu"
    )))
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(ordinal) => write!(f, "cuda:{ordinal}"),
        }
    }
}

impl std::str::FromStr for DeviceSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(format!(
                "unknown device '{s}' (known: cpu, cuda, cuda:N with N the GPU's index)"
            ))
        };
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" | "gpu" => Ok(DeviceSpec::Cuda(0)),
            other => match other.strip_prefix("cuda:") {
                Some(n) => n.parse().map(DeviceSpec::Cuda).map_err(|_| bad()),
                None => Err(bad()),
            },
        }
    }
}

impl Serialize for DeviceSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DeviceSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_print_and_round_trip() {
        for (text, spec) in [
            ("cpu", DeviceSpec::Cpu),
            ("CUDA", DeviceSpec::Cuda(0)),
            ("cuda:3", DeviceSpec::Cuda(3)),
        ] {
            let parsed: DeviceSpec = text.parse().unwrap();
            assert_eq!(parsed, spec);
            assert_eq!(parsed.to_string().parse::<DeviceSpec>().unwrap(), spec);
        }
        for bad in ["tpu", "cuda:", "cuda:x", "cuda:-1", ""] {
            let error = bad.parse::<DeviceSpec>().unwrap_err().to_string();
            assert!(error.contains("cpu, cuda, cuda:N"), "{bad}: {error}");
        }
        assert!(DeviceSpec::Cpu.open().unwrap().is_cpu());
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn a_gpu_without_the_cuda_feature_says_how_to_build_one() {
        let error = DeviceSpec::Cuda(0).open().unwrap_err().to_string();
        assert!(error.contains("built without CUDA"), "{error}");
        assert!(error.contains("scripts/build-cuda.sh"), "{error}");
    }
}
