//! Slurm: one job array whose element i trains task i of the list (`--array=0-(N-1)%P`; a retried element trains
//! the same task, and finds the finished one staged), and a publish job that starts only when every element
//! succeeded (`--dependency=afterok`). `submit.sh` submits both.

use super::cluster::{shell_word, task_list_toml, ClusterJobs};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The files written, and the commands that submit them.
pub struct SlurmFiles {
    pub train: PathBuf,
    pub publish: PathBuf,
    pub submit: PathBuf,
    pub commands: Vec<String>,
}

/// Writes `tasks.toml`, `train.sbatch`, `publish.sbatch` and `submit.sh` into `out` (job logs go to `out/logs`).
pub fn write_slurm(jobs: &ClusterJobs, out: &Path) -> Result<SlurmFiles> {
    jobs.validate()?;
    let out = std::path::absolute(out).map_err(|e| Error::io(out, e))?;
    let logs = out.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| Error::io(&logs, e))?;
    let list = out.join("tasks.toml");
    crate::io::write_atomic(&list, task_list_toml(&jobs.tasks)?.as_bytes())?;
    let files = SlurmFiles {
        train: out.join("train.sbatch"),
        publish: out.join("publish.sbatch"),
        submit: out.join("submit.sh"),
        commands: vec![format!(
            "bash {}",
            shell_word(&out.join("submit.sh").to_string_lossy())
        )],
    };
    let n = jobs.tasks.tasks.len();
    let header = |job: &str, array: Option<String>, cpus: usize, log: &str| {
        let mut lines = vec![
            "#!/bin/bash".to_owned(),
            format!("#SBATCH --job-name={}-{job}", jobs.name),
            format!("#SBATCH --cpus-per-task={cpus}"),
            "#SBATCH --ntasks=1".to_owned(),
            format!("#SBATCH --output={}", logs.join(log).display()),
        ];
        lines.extend(array.map(|a| format!("#SBATCH --array={a}")));
        lines.push("set -euo pipefail".into());
        // The trainer's threads: as many as the cores Slurm gave the job.
        lines.push(format!(
            "export RAYON_NUM_THREADS=\"${{SLURM_CPUS_PER_TASK:-{cpus}}}\""
        ));
        lines.join("\n")
    };
    let (l2r, library, list) = (
        shell_word(&jobs.options.l2r.to_string_lossy()),
        shell_word(&jobs.library.to_string_lossy()),
        shell_word(&list.to_string_lossy()),
    );
    let train = format!(
        "{}\n# Element $SLURM_ARRAY_TASK_ID trains task $SLURM_ARRAY_TASK_ID of the list (a no-op once it is staged).\n\
         exec {l2r} library train {library} --tasks {list} --quiet\n",
        header(
            "train",
            Some(format!("0-{}%{}", n - 1, jobs.options.max_parallel)),
            jobs.options.cpus_per_task,
            "train-%A_%a.out",
        ),
    );
    let publish = format!(
        "{}\n# Runs once every element of the array succeeded: one generation with all the tasks.\n\
         exec {l2r} library publish {library} --tasks {list} --quiet\n",
        header("publish", None, jobs.options.cpus_per_task, "publish-%j.out"),
    );
    let submit = format!(
        "#!/bin/bash\n# Submits the training array, then the publish job that waits for all of it.\nset -euo pipefail\n\
         train=$(sbatch --parsable {train_file})\ntrain=${{train%%;*}}\n\
         publish=$(sbatch --parsable --dependency=afterok:$train {publish_file})\npublish=${{publish%%;*}}\n\
         echo \"submitted training array $train ({n} tasks, at most {p} at once) and publish job $publish\"\n",
        train_file = shell_word(&files.train.to_string_lossy()),
        publish_file = shell_word(&files.publish.to_string_lossy()),
        p = jobs.options.max_parallel,
    );
    crate::io::write_atomic(&files.train, train.as_bytes())?;
    crate::io::write_atomic(&files.publish, publish.as_bytes())?;
    crate::io::write_atomic(&files.submit, submit.as_bytes())?;
    Ok(files)
}
