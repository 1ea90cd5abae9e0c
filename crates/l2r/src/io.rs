//! Files on disk: crash-safe writes (a sibling temporary file, fsync, then a rename over the target), JSON, and
//! the safetensors files of modules, heads, routers and task statistics.

use crate::error::{Error, Result};
use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: a reader sees either the old file or the complete new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    let written = std::fs::File::create(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        // A full disk or a failed rename leaves no partial file behind; the target keeps its old content.
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// The key of the checksum l2r embeds in the JSON objects it writes: FNV-1a (64 bits, hex) of the object's compact
/// serialisation without that key. A changed digit in a memory, a manifest or an evaluation would otherwise load as
/// a silently different value.
pub const JSON_CHECKSUM_KEY: &str = "l2r_fnv1a64";

/// Serialises `value` as pretty JSON, with its checksum when it is an object, and writes it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let bad =
        |e: serde_json::Error| Error::invalid(format!("cannot serialise {}: {e}", path.display()));
    let mut json = serde_json::to_value(value).map_err(bad)?;
    if let serde_json::Value::Object(object) = &mut json {
        let checksum = json_checksum(object).map_err(bad)?;
        object.insert(JSON_CHECKSUM_KEY.into(), checksum.into());
    }
    write_atomic(path, &serde_json::to_vec_pretty(&json).map_err(bad)?)
}

/// Serialises `value` as pretty JSON exactly as it is, for files other tools read (PEFT's `adapter_config.json`).
pub fn write_plain_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let json = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::invalid(format!("cannot serialise {}: {e}", path.display())))?;
    write_atomic(path, &json)
}

/// Reads and parses a JSON file, naming the file in any error; an object l2r wrote must match its checksum.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let parse_error = |e: serde_json::Error| Error::parse(path, e.line(), None, e.to_string());
    let mut json: serde_json::Value = serde_json::from_str(&text).map_err(parse_error)?;
    let Some(object) = json.as_object_mut() else {
        return serde_json::from_str(&text).map_err(parse_error);
    };
    let Some(stored) = object.remove(JSON_CHECKSUM_KEY) else {
        // Not written by l2r (or before checksums): parsed from the text, so that errors keep their line.
        return serde_json::from_str(&text).map_err(parse_error);
    };
    let computed = json_checksum(object).map_err(parse_error)?;
    if stored.as_str() != Some(computed.as_str()) {
        return Err(Error::parse(
            path,
            0,
            None,
            format!(
                "checksum mismatch (stored {stored}, computed {computed}): the file changed after l2r wrote it; \
                 it is corrupt, restore or recompute it"
            ),
        ));
    }
    serde_json::from_value(json).map_err(parse_error)
}

fn json_checksum(
    object: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Result<String> {
    Ok(format!(
        "{:016x}",
        crate::hash::fnv1a(&serde_json::to_vec(object)?)
    ))
}

/// The value stored at `path` when the file is there; otherwise `compute`d, saved by `save` (which must write
/// atomically) and returned. Every stage of a run goes through it, so a resumed run skips what is done.
pub fn load_or_compute<T>(
    path: &Path,
    load: impl FnOnce(&Path) -> Result<T>,
    compute: impl FnOnce() -> Result<T>,
    save: impl FnOnce(&Path, &T) -> Result<()>,
) -> Result<T> {
    if path.is_file() {
        return load(path);
    }
    let value = compute()?;
    save(path, &value)?;
    Ok(value)
}

/// [`load_or_compute`] for a value stored as JSON.
pub fn json_or_compute<T: serde::Serialize + serde::de::DeserializeOwned>(
    path: &Path,
    compute: impl FnOnce() -> Result<T>,
) -> Result<T> {
    load_or_compute(path, read_json, compute, write_json_atomic)
}

/// The metadata key of the checksum l2r writes into its safetensors files: FNV-1a (64 bits, hex) of the data
/// section. A byte flipped in a tensor would otherwise load as a silently different model.
pub const CHECKSUM_KEY: &str = "l2r.fnv1a64";

/// Writes named tensors as one safetensors file, atomically, with the checksum of its data in the metadata.
pub fn write_safetensors(path: &Path, tensors: Vec<(String, Tensor)>) -> Result<()> {
    let bad = |e: String| Error::invalid(format!("cannot serialise {}: {e}", path.display()));
    let plain = safetensors::serialize(tensors.iter().map(|(k, v)| (k.clone(), v)), None)
        .map_err(|e| bad(e.to_string()))?;
    // The data section does not depend on the header, so the checksum goes into a rewritten header, and the
    // tensors (up to hundreds of MB for statistics) are serialised once.
    let header_len =
        u64::from_le_bytes(plain[..8].try_into().map_err(|_| bad("no header".into()))?) as usize;
    let data = &plain[8 + header_len..];
    let mut header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&plain[8..8 + header_len]).map_err(|e| bad(e.to_string()))?;
    header.insert(
        "__metadata__".into(),
        serde_json::json!({ CHECKSUM_KEY: format!("{:016x}", crate::hash::fnv1a(data)) }),
    );
    let mut header = serde_json::to_vec(&header).map_err(|e| bad(e.to_string()))?;
    // safetensors pads the header with spaces so that the data starts 8-byte aligned.
    header.resize(header.len().next_multiple_of(8), b' ');
    let mut bytes = Vec::with_capacity(8 + header.len() + data.len());
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(data);
    write_atomic(path, &bytes)
}

/// FNV-1a of a safetensors file's data section (everything after the header), if the header length is sane.
fn data_checksum(bytes: &[u8]) -> Option<u64> {
    let header = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?) as usize;
    let data = bytes.get(8usize.checked_add(header)?..)?;
    Some(crate::hash::fnv1a(data))
}

/// Every tensor of a safetensors file, on the CPU in its stored dtype. A missing file is reported as `what`
/// (with the set-up hint), a damaged one as truncated or corrupt, both naming the file; a file l2r wrote is checked
/// against its checksum, so that a changed byte is an error rather than a different model.
pub fn read_safetensors(path: &Path, what: &str) -> Result<HashMap<String, Tensor>> {
    crate::assets::require_file(path, what)?;
    let corrupt = |message: String| Error::Weights {
        path: path.to_owned(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| {
        corrupt(format!(
            "cannot parse safetensors ({e}); the file is truncated or corrupt"
        ))
    })?;
    let expected = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(CHECKSUM_KEY).cloned());
    if let Some(expected) = expected {
        let actual = data_checksum(&bytes).map(|c| format!("{c:016x}"));
        if actual.as_deref() != Some(expected.as_str()) {
            return Err(corrupt(format!(
                "checksum mismatch (stored {expected}, computed {}): the file changed after l2r wrote it; \
                 it is corrupt, restore or recompute it",
                actual.unwrap_or_else(|| "none".into())
            )));
        }
    }
    candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).map_err(|e| {
        corrupt(format!(
            "cannot parse safetensors ({e}); the file is truncated or corrupt"
        ))
    })
}

/// The current value of every variable of `varmap`, by name.
pub fn varmap_tensors(varmap: &VarMap) -> Result<Vec<(String, Tensor)>> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| Error::invalid("variable store poisoned by an earlier panic"))?;
    Ok(data
        .iter()
        .map(|(name, var)| (name.clone(), var.as_tensor().clone()))
        .collect())
}

/// Saves the variables of `varmap` under their names; a crash mid-write leaves the old file intact.
pub fn save_varmap(varmap: &VarMap, path: &Path) -> Result<()> {
    write_safetensors(path, varmap_tensors(varmap)?)
}

/// Sets every variable of `varmap` from the tensor of the same name in `tensors`, read from `path`; tensors
/// without a variable are ignored. A missing or misshapen tensor is an error that starts with `mismatch`
/// (what the file should have held).
pub fn set_vars(
    varmap: &VarMap,
    tensors: &HashMap<String, Tensor>,
    path: &Path,
    mismatch: &str,
) -> Result<()> {
    let bad = |detail: String| Error::Weights {
        path: path.to_owned(),
        message: format!("{mismatch}: {detail}"),
    };
    let data = varmap
        .data()
        .lock()
        .map_err(|_| Error::invalid("variable store poisoned by an earlier panic"))?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let tensor = tensors
            .get(name)
            .ok_or_else(|| bad(format!("tensor '{name}' is missing")))?;
        if tensor.dims() != var.dims() {
            return Err(bad(format!(
                "tensor '{name}' has shape {:?}, expected {:?}",
                tensor.dims(),
                var.dims()
            )));
        }
        var.set(&tensor.to_dtype(var.dtype())?.to_device(var.device())?)?;
    }
    Ok(())
}

/// Loads a file written by [`save_varmap`] into `varmap` (see [`read_safetensors`] and [`set_vars`]).
pub fn load_varmap(varmap: &VarMap, path: &Path, what: &str, mismatch: &str) -> Result<()> {
    set_vars(varmap, &read_safetensors(path, what)?, path, mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.json");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("config.json")]);
    }

    #[test]
    fn a_stored_value_is_loaded_not_computed_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("value.json");
        let first: Vec<u32> = json_or_compute(&path, || Ok(vec![1, 2])).unwrap();
        let second: Vec<u32> =
            json_or_compute(&path, || panic!("computed although stored")).unwrap();
        assert_eq!((first, second), (vec![1, 2], vec![1, 2]));
    }

    #[test]
    fn floats_read_back_exactly_as_written() {
        // serde_json's default parser misreads about one random f64 in ten by an ulp (the `float_roundtrip`
        // feature fixes it): a resumed run then carried a cached accuracy one ulp off into its metrics.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("accuracies.json");
        let mut state = 12345u64;
        let values: Vec<f64> = (0..1000)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 11) as f64 / (1u64 << 53) as f64
            })
            .chain([0.9916666666666667, 119.0 / 120.0])
            .collect();
        write_json_atomic(&path, &serde_json::json!({ "values": values })).unwrap();
        let back: serde_json::Value = read_json(&path).unwrap();
        let back: Vec<f64> = serde_json::from_value(back["values"].clone()).unwrap();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&values));
    }

    #[test]
    fn a_changed_value_in_a_json_object_is_caught_by_its_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memory.json");
        let value =
            serde_json::json!({"entries": [{"text": "rain all day", "label": 1}], "score": 0.25});
        write_json_atomic(&path, &value).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(JSON_CHECKSUM_KEY));
        assert_eq!(read_json::<serde_json::Value>(&path).unwrap(), value);
        for (from, to) in [("rain", "Rain"), ("0.25", "0.26"), (": 1", ": 0")] {
            std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
            let error = read_json::<serde_json::Value>(&path)
                .unwrap_err()
                .to_string();
            assert!(error.contains("checksum mismatch"), "{error}");
            assert!(error.contains("memory.json"), "{error}");
        }
        // Whitespace is not content; a JSON file of another tool (no checksum) loads as it is.
        std::fs::write(&path, text.replace("\n", "\n  ")).unwrap();
        assert_eq!(read_json::<serde_json::Value>(&path).unwrap(), value);
        std::fs::write(&path, r#"{"r": 8}"#).unwrap();
        assert_eq!(read_json::<serde_json::Value>(&path).unwrap()["r"], 8);
    }

    #[test]
    fn safetensors_round_trip_and_mismatches_name_the_tensor() {
        use candle_core::DType;
        use candle_nn::{Init, VarBuilder};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vars.safetensors");
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        vb.get_with_hints((2, 3), "a.weight", Init::Const(1.5))
            .unwrap();
        vb.get_with_hints(4, "b", Init::Const(-2.0)).unwrap();
        save_varmap(&varmap, &path).unwrap();

        let read = read_safetensors(&path, "test weights").unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read["b"].to_vec1::<f32>().unwrap(), vec![-2.0; 4]);

        let copy = VarMap::new();
        let vb = VarBuilder::from_varmap(&copy, DType::F32, &Device::Cpu);
        let a = vb
            .get_with_hints((2, 3), "a.weight", Init::Const(0.0))
            .unwrap();
        load_varmap(&copy, &path, "test weights", "does not hold the test vars").unwrap();
        assert_eq!(a.sum_all().unwrap().to_scalar::<f32>().unwrap(), 9.0);

        let other = VarMap::new();
        let vb = VarBuilder::from_varmap(&other, DType::F32, &Device::Cpu);
        vb.get_with_hints(5, "b", Init::Const(0.0)).unwrap();
        let error = load_varmap(&other, &path, "test weights", "does not hold the test vars")
            .unwrap_err()
            .to_string();
        assert!(error.contains("does not hold the test vars"), "{error}");
        assert!(error.contains("'b' has shape [4], expected [5]"), "{error}");
        assert!(error.contains("vars.safetensors"), "{error}");

        let missing = dir.path().join("absent.safetensors");
        let error = read_safetensors(&missing, "test weights")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("test weights") && error.contains("absent.safetensors"),
            "{error}"
        );
    }

    #[test]
    fn a_flipped_or_cut_safetensors_file_is_an_error_naming_it_and_foreign_files_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("head.safetensors");
        let t = Tensor::arange(0f32, 12.0, &Device::Cpu).unwrap();
        write_safetensors(&path, vec![("w".into(), t.clone())]).unwrap();
        let good = std::fs::read(&path).unwrap();
        assert_eq!(read_safetensors(&path, "head").unwrap()["w"].dims(), [12]);

        // One bit of one tensor value flipped: the file still parses, so only the checksum can tell.
        let mut flipped = good.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 0x01;
        std::fs::write(&path, &flipped).unwrap();
        let error = read_safetensors(&path, "head").unwrap_err().to_string();
        assert!(
            error.contains("checksum mismatch") && error.contains("head.safetensors"),
            "{error}"
        );
        for cut in [4, 20, good.len() - 1] {
            std::fs::write(&path, &good[..cut]).unwrap();
            let error = read_safetensors(&path, "head").unwrap_err().to_string();
            assert!(error.contains("head.safetensors"), "cut at {cut}: {error}");
        }
        // A file written elsewhere, without l2r's checksum, loads as before.
        let foreign = safetensors::serialize(vec![("w".to_owned(), &t)], None).unwrap();
        std::fs::write(&path, foreign).unwrap();
        assert!(read_safetensors(&path, "head").is_ok());
    }
}
