//! One writer at a time: a lock file created exclusively, holding the writer's pid, removed when the writer is done.
//! A lock left by a process that no longer runs (a crash) is taken over.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct LibraryLock {
    path: PathBuf,
}

impl LibraryLock {
    /// Takes the lock at `path`, or refuses with the pid of the process that holds it.
    pub fn acquire(path: &Path) -> Result<Self> {
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut file) => {
                    writeln!(file, "{}", std::process::id()).map_err(|e| Error::io(path, e))?;
                    file.sync_all().map_err(|e| Error::io(path, e))?;
                    return Ok(LibraryLock {
                        path: path.to_owned(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(path).unwrap_or_default();
                    let pid: Option<u32> = holder.trim().parse().ok();
                    if pid.is_some_and(is_running) {
                        return Err(Error::invalid(format!(
                            "the library is locked by pid {} (another `l2r library` command is writing it); wait for it to finish",
                            holder.trim()
                        )));
                    }
                    // The writer died without removing its lock: take it over.
                    tracing::warn!(
                        "removing the stale lock {} of pid {}",
                        path.display(),
                        holder.trim()
                    );
                    std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
                }
                Err(e) => return Err(Error::io(path, e)),
            }
        }
        Err(Error::invalid(format!(
            "could not take the lock {}",
            path.display()
        )))
    }
}

impl Drop for LibraryLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether a process with this pid exists (Linux: /proc).
fn is_running(pid: u32) -> bool {
    pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_with_the_holders_pid_and_a_stale_lock_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("library.lock");
        let held = LibraryLock::acquire(&path).unwrap();
        let error = LibraryLock::acquire(&path).err().unwrap().to_string();
        assert!(
            error.contains(&format!("locked by pid {}", std::process::id())),
            "{error}"
        );
        drop(held);
        assert!(!path.exists());
        // A pid that cannot be running (above the kernel's pid_max).
        std::fs::write(&path, "4194305\n").unwrap();
        let _taken = LibraryLock::acquire(&path).unwrap();
    }
}
