//! One writer at a time: a lock file created exclusively, holding the writer's pid and host, removed when the writer
//! is done. A lock left by a process of this host that no longer runs (a crash) is taken over; one of another host
//! (a cluster job on a shared filesystem) cannot be checked from here, so it is never taken over.

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
                    writeln!(file, "{} {}", std::process::id(), host())
                        .map_err(|e| Error::io(path, e))?;
                    file.sync_all().map_err(|e| Error::io(path, e))?;
                    return Ok(LibraryLock {
                        path: path.to_owned(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(path).unwrap_or_default();
                    let mut fields = holder.split_whitespace();
                    let pid: Option<u32> = fields.next().and_then(|p| p.parse().ok());
                    // Locks written before the host was recorded are this host's.
                    let holder_host = fields.next().map_or_else(host, str::to_owned);
                    let pid_text = pid.map_or_else(|| "?".into(), |p| p.to_string());
                    if holder_host != host() {
                        return Err(Error::invalid(format!(
                            "{} is locked by pid {pid_text} on host {holder_host}; wait for it to finish, or delete the lock if that process is gone",
                            path.display()
                        )));
                    }
                    if pid.is_some_and(is_running) {
                        return Err(Error::invalid(format!(
                            "{} is locked by pid {pid_text} (another `l2r library` command is writing); wait for it to finish",
                            path.display()
                        )));
                    }
                    // The writer died without removing its lock: take it over.
                    tracing::warn!(
                        "removing the stale lock {} of pid {pid_text}",
                        path.display()
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

/// This machine's name (Linux: the kernel's hostname), to tell this host's locks from other hosts'.
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty() && !h.contains(char::is_whitespace))
        .unwrap_or_else(|| "localhost".into())
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
        let taken = LibraryLock::acquire(&path).unwrap();
        drop(taken);
        // Another host's lock cannot be checked from here: refused, never taken over.
        std::fs::write(&path, "4194305 some-other-node\n").unwrap();
        let error = LibraryLock::acquire(&path).err().unwrap().to_string();
        assert!(error.contains("on host some-other-node"), "{error}");
    }
}
