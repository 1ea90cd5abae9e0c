//! The number format of the frozen backbone's linear layers. Modules, heads, routers, attention scores and every
//! sum stay fp32; only the frozen weights and their inputs are rounded to bf16, whose products the CPU's
//! AVX-512 BF16 dot-product instruction accumulates in fp32 (the frozen layers are most of the FLOPs).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// fp32 everywhere (default).
    #[default]
    Fp32,
    /// bf16 frozen linear layers where the CPU has AVX-512 BF16; fp32 elsewhere.
    Bf16,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
        }
    }

    /// The precision this CPU can run: bf16 falls back to fp32 (with a warning) without AVX-512 BF16.
    pub fn supported(self) -> Precision {
        match self {
            Precision::Bf16 if !crate::kernels::bf16_available() => {
                tracing::warn!(
                    "bf16 asked for, but this CPU has no AVX-512 BF16: the backbone runs in fp32"
                );
                Precision::Fp32
            }
            other => other,
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fp32" | "f32" => Ok(Precision::Fp32),
            "bf16" => Ok(Precision::Bf16),
            other => Err(Error::invalid(format!(
                "unknown precision '{other}' (known: fp32, bf16)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_names_and_refuses_others() {
        assert_eq!("bf16".parse::<Precision>().unwrap(), Precision::Bf16);
        assert_eq!("fp32".parse::<Precision>().unwrap(), Precision::Fp32);
        let error = "fp16".parse::<Precision>().unwrap_err().to_string();
        assert!(error.contains("fp32, bf16"), "{error}");
    }

    #[test]
    fn supported_is_bf16_only_where_the_cpu_has_it() {
        let expected = match crate::kernels::bf16_available() {
            true => Precision::Bf16,
            false => Precision::Fp32,
        };
        assert_eq!(Precision::Bf16.supported(), expected);
        assert_eq!(Precision::Fp32.supported(), Precision::Fp32);
    }
}
