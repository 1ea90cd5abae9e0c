//! Kubernetes: an Indexed Job (`completionMode: Indexed`) whose pod with completion index i trains task i
//! (`JOB_COMPLETION_INDEX`), each index retried on its own (`backoffLimitPerIndex`), and a publish Job applied once
//! the training Job is complete. Both mount the library's shared volume (a PersistentVolumeClaim).

use super::cluster::{shell_word, task_list_toml, ClusterJobs};
use crate::error::{Error, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Retries of one index before it counts as failed (the others go on).
pub const BACKOFF_LIMIT_PER_INDEX: u32 = 2;

/// What the manifests need beyond the jobs: where the library's volume comes from and what runs.
pub struct KubernetesSettings {
    /// A container image holding `l2r` and its assets (`scripts/setup.sh`).
    pub image: String,
    /// The PersistentVolumeClaim of the library's shared volume.
    pub claim: String,
    /// Where the pods mount it (`jobs.library` is this path).
    pub mount: PathBuf,
    /// The task list as written on the volume: its path here, and in the pods.
    pub list_here: PathBuf,
    pub list_in_pod: PathBuf,
}

pub struct KubernetesFiles {
    pub train: PathBuf,
    pub publish: PathBuf,
    pub submit: PathBuf,
    pub commands: Vec<String>,
}

/// Writes the task list onto the volume, and `train-job.yaml`, `publish-job.yaml` and `submit.sh` into `out`.
pub fn write_kubernetes(
    jobs: &ClusterJobs,
    settings: &KubernetesSettings,
    out: &Path,
) -> Result<KubernetesFiles> {
    jobs.validate()?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    crate::io::write_atomic(&settings.list_here, task_list_toml(&jobs.tasks)?.as_bytes())?;
    let list_in_pod = &settings.list_in_pod;
    let files = KubernetesFiles {
        train: out.join("train-job.yaml"),
        publish: out.join("publish-job.yaml"),
        submit: out.join("submit.sh"),
        commands: vec![format!(
            "bash {}",
            shell_word(&out.join("submit.sh").to_string_lossy())
        )],
    };
    let n = jobs.tasks.tasks.len();
    let command = |verb: &str| -> Vec<String> {
        vec![
            jobs.options.l2r.to_string_lossy().into_owned(),
            "library".into(),
            verb.into(),
            jobs.library.to_string_lossy().into_owned(),
            "--tasks".into(),
            list_in_pod.to_string_lossy().into_owned(),
            "--quiet".into(),
        ]
    };
    let train = job(
        jobs,
        settings,
        &format!("{}-train", jobs.name),
        command("train"),
        json!({
            "completionMode": "Indexed",
            "completions": n,
            "parallelism": jobs.options.max_parallel.min(n),
            "backoffLimitPerIndex": BACKOFF_LIMIT_PER_INDEX,
            "maxFailedIndexes": n,
        }),
    );
    let publish = job(
        jobs,
        settings,
        &format!("{}-publish", jobs.name),
        command("publish"),
        json!({ "backoffLimit": BACKOFF_LIMIT_PER_INDEX }),
    );
    write_yaml(&files.train, &train)?;
    write_yaml(&files.publish, &publish)?;
    let submit = format!(
        "#!/bin/bash\n# Applies the training Job, waits until every index succeeded, then applies the publish Job.\n\
         set -euo pipefail\nkubectl apply -f {train}\n\
         kubectl wait --for=condition=complete --timeout=-1s job/{name}-train\nkubectl apply -f {publish}\n\
         kubectl wait --for=condition=complete --timeout=-1s job/{name}-publish\n",
        train = shell_word(&files.train.to_string_lossy()),
        publish = shell_word(&files.publish.to_string_lossy()),
        name = jobs.name,
    );
    crate::io::write_atomic(&files.submit, submit.as_bytes())?;
    Ok(files)
}

/// A batch/v1 Job of one container that runs `command` with the library's volume mounted.
fn job(
    jobs: &ClusterJobs,
    settings: &KubernetesSettings,
    name: &str,
    command: Vec<String>,
    spec: Value,
) -> Value {
    let cpus = jobs.options.cpus_per_task.to_string();
    let mut spec = spec;
    spec["template"] = json!({
        "metadata": { "labels": { "app.kubernetes.io/name": "l2r", "l2r/job": name } },
        "spec": {
            // backoffLimitPerIndex needs pods that are not restarted in place.
            "restartPolicy": "Never",
            "containers": [{
                "name": "l2r",
                "image": settings.image,
                "command": command,
                "env": [{ "name": "RAYON_NUM_THREADS", "value": cpus }],
                "resources": {
                    "requests": { "cpu": cpus, "memory": "4Gi" },
                    "limits": { "cpu": cpus },
                },
                "volumeMounts": [{ "name": "library", "mountPath": settings.mount.to_string_lossy() }],
            }],
            "volumes": [{
                "name": "library",
                "persistentVolumeClaim": { "claimName": settings.claim },
            }],
        },
    });
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": { "name": name, "labels": { "app.kubernetes.io/name": "l2r" } },
        "spec": spec,
    })
}

fn write_yaml(path: &Path, manifest: &Value) -> Result<()> {
    let text = serde_yaml::to_string(manifest)
        .map_err(|e| Error::invalid(format!("cannot write {}: {e}", path.display())))?;
    crate::io::write_atomic(path, text.as_bytes())
}
