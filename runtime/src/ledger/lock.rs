//! One appender per ledger: opening for appending takes an exclusive `flock` on the ledger
//! file ([`lock_exclusive`]), and verification probes it without waiting
//! ([`held_by_writer`]) to tell a live writer's unfinished entry from a torn tail.

use std::fs::File;
use std::path::Path;

use crate::ledger::error::LedgerError;

/// Takes the ledger's exclusive append lock without waiting: [`LedgerError::Locked`] when
/// another open file (in this process or another) holds it. Released when `file` is closed.
#[cfg(unix)]
pub(crate) fn lock_exclusive(file: &File, path: &Path) -> Result<(), LedgerError> {
    use rustix::fs::{FlockOperation, flock};
    flock(file, FlockOperation::NonBlockingLockExclusive).map_err(|e| {
        if e == rustix::io::Errno::WOULDBLOCK {
            LedgerError::Locked(path.to_path_buf())
        } else {
            LedgerError::Io { path: path.to_path_buf(), op: "lock", source: e.into() }
        }
    })
}

/// No advisory locks off Unix: opening does not stop a second appender there.
#[cfg(not(unix))]
pub(crate) fn lock_exclusive(_file: &File, _path: &Path) -> Result<(), LedgerError> {
    Ok(())
}

/// Whether a live writer holds the ledger's lock. Probed without waiting, through a new open
/// file (locks belong to open files, so the probe sees a writer in this process too): a
/// shared lock is refused while a writer holds its exclusive one; when it is granted it is
/// dropped at once. The writer is never delayed; only a writer opening the ledger during
/// those microseconds would find it locked, and is told so.
#[cfg(unix)]
pub(crate) fn held_by_writer(file: &File) -> bool {
    use rustix::fs::{FlockOperation, flock};
    match flock(file, FlockOperation::NonBlockingLockShared) {
        Err(e) => e == rustix::io::Errno::WOULDBLOCK,
        Ok(()) => {
            // Release at once: a shared lock kept while verifying would stop a writer opening.
            let _ = flock(file, FlockOperation::Unlock);
            false
        }
    }
}

#[cfg(not(unix))]
pub(crate) fn held_by_writer(_file: &File) -> bool {
    false
}
