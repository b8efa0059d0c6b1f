//! Opening a ledger for appending: creates it, or reads it back and recovers from a crash.
//!
//! Opening reads every record once, streaming: it checks that each is well formed, that seqs
//! go up by one and times never go back, checks the MAC of the last entry and that the last
//! checkpoint names an entry that is there with the same hash, and rebuilds the head and
//! each subsystem's last append time. A torn tail (an unfinished last write, never
//! acknowledged) is reported, saved next to the ledger as `<ledger>.torn-<offset>` and cut
//! off. Anything else wrong refuses the open: appending to a damaged ledger would bury the
//! damage. (Full verification of every MAC and link is [`crate::ledger::verify`]'s job.)

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::ledger::checkpoint::{self, CHECKPOINT_HEADER_LEN, CHECKPOINT_LEN, Checkpoint, CheckpointFile};
use crate::ledger::format::{FRAME_OVERHEAD, GENESIS, HASH_LEN, HEADER_LEN, Header, MAC_LEN, MAX_BODY_LEN, RawBody, hash_body};
use crate::ledger::key::{LedgerKey, to_hex};
use crate::ledger::scan::scan_region;
use crate::ledger::writer::LedgerError;

/// What opening found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// Whether the ledger file was created.
    pub created: bool,
    /// The seq of the last entry (0 when empty).
    pub head_seq: u64,
    /// A torn tail that was cut off, if there was one.
    pub torn_tail: Option<RecoveredTail>,
    /// Bytes of an unfinished checkpoint cut off the checkpoint file.
    pub checkpoint_torn_bytes: u64,
}

/// A torn tail found on open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredTail {
    /// Where it started.
    pub offset: u64,
    /// How many bytes it had.
    pub len: u64,
    /// Where its bytes were saved before they were cut off.
    pub saved_to: PathBuf,
}

/// The state rebuilt from the files.
pub(crate) struct Recovered {
    pub ledger: File,
    pub checkpoints: File,
    pub next_seq: u64,
    pub head_hash: [u8; HASH_LEN],
    pub last_ts: u64,
    pub ledger_len: u64,
    pub checkpoints_len: u64,
    pub last_checkpoint: Option<Checkpoint>,
    pub subsystems: Vec<(String, u64)>,
    pub report: OpenReport,
}

fn io<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> LedgerError + 'a {
    move |source| LedgerError::Io { path: path.to_path_buf(), op, source }
}

fn damaged(path: &Path, offset: u64, what: impl Into<String>) -> LedgerError {
    LedgerError::Damaged { path: path.to_path_buf(), offset, what: what.into() }
}

/// Opens (or creates) the ledger and its checkpoint file, takes the ledger's lock, and
/// recovers.
pub(crate) fn open_files(path: &Path, ckpt_path: &Path, key: &LedgerKey) -> Result<Recovered, LedgerError> {
    let mut file = crate::fsread::open_rw(path, true).map_err(io(path, "open"))?;
    lock_exclusive(&file, path)?;
    let len = file.metadata().map_err(io(path, "read the size of"))?.len();
    let header = Header { key_id: key.id() }.encode();
    let mut created = false;
    if len < HEADER_LEN as u64 {
        // Empty, or a crash while the header was being written: only our own header's
        // prefix may be there.
        let mut existing = Vec::new();
        file.read_to_end(&mut existing).map_err(io(path, "read"))?;
        if !header.starts_with(&existing) {
            return if existing.starts_with(b"PIPLEDGR") || b"PIPLEDGR".starts_with(existing.as_slice()) {
                Err(LedgerError::WrongKey {
                    path: path.to_path_buf(),
                    file_key_id: "unknown (the header is incomplete)".into(),
                    key_id: key.id_hex(),
                })
            } else {
                Err(LedgerError::NotALedger { path: path.to_path_buf(), source: crate::ledger::format::FormatError::NotALedger })
            };
        }
        file.set_len(0).map_err(io(path, "truncate"))?;
        file.seek(SeekFrom::Start(0)).map_err(io(path, "seek in"))?;
        file.write_all(&header).map_err(io(path, "write"))?;
        file.sync_all().map_err(io(path, "sync"))?;
        sync_parent(path)?;
        created = true;
    }
    if !created {
        // Not a ledger, or another key's: refused before the checkpoint file is created.
        check_header(&mut file, path, key)?;
    }
    let (ckpt, checkpoints_len, last_checkpoint, checkpoint_torn_bytes) = open_checkpoints(ckpt_path, key)?;
    let mut rec = if created {
        Scanned { next_seq: 1, head_hash: GENESIS, last_ts: 0, end: HEADER_LEN as u64, subsystems: HashMap::new(), torn: None }
    } else {
        scan_for_append(&mut file, path, key, last_checkpoint.as_ref())?
    };
    // Entries the checkpoint file vouches for are missing: refused before anything is
    // changed (a torn tail is not cut off, so the file stays as it was found).
    if let Some(cp) = &last_checkpoint
        && cp.seq >= rec.next_seq
    {
        return Err(LedgerError::Truncated { path: path.to_path_buf(), head: rec.next_seq - 1, checkpoint: cp.seq });
    }
    let mut torn_tail = None;
    if let Some((offset, bytes)) = rec.torn.take() {
        let saved_to = save_torn(path, offset, &bytes)?;
        file.set_len(offset).map_err(io(path, "truncate"))?;
        file.sync_all().map_err(io(path, "sync"))?;
        torn_tail = Some(RecoveredTail { offset, len: bytes.len() as u64, saved_to });
    }
    file.seek(SeekFrom::Start(rec.end)).map_err(io(path, "seek in"))?;
    let mut subsystems: Vec<(String, u64)> =
        rec.subsystems.into_iter().map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v)).collect();
    subsystems.sort();
    Ok(Recovered {
        ledger: file,
        checkpoints: ckpt,
        next_seq: rec.next_seq,
        head_hash: rec.head_hash,
        last_ts: rec.last_ts,
        ledger_len: rec.end,
        checkpoints_len,
        last_checkpoint,
        subsystems,
        report: OpenReport { created, head_seq: rec.next_seq - 1, torn_tail, checkpoint_torn_bytes },
    })
}

#[cfg(unix)]
fn lock_exclusive(file: &File, path: &Path) -> Result<(), LedgerError> {
    use rustix::fs::{FlockOperation, flock};
    flock(file, FlockOperation::NonBlockingLockExclusive)
        .map_err(|e| if e == rustix::io::Errno::WOULDBLOCK { LedgerError::Locked(path.to_path_buf()) } else { io(path, "lock")(e.into()) })
}

#[cfg(not(unix))]
fn lock_exclusive(_file: &File, _path: &Path) -> Result<(), LedgerError> {
    Ok(())
}

/// Makes a new file's directory entry durable.
fn sync_parent(path: &Path) -> Result<(), LedgerError> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(parent).and_then(|d| d.sync_all()).map_err(io(parent, "sync the directory"))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn open_checkpoints(path: &Path, key: &LedgerKey) -> Result<(File, u64, Option<Checkpoint>, u64), LedgerError> {
    let mut file = crate::fsread::open_rw(path, true).map_err(io(path, "open"))?;
    let bytes = crate::fsread::read_opened(&mut file, u64::MAX, "a checkpoint file").map_err(io(path, "read"))?;
    let header = checkpoint::encode_header(key.id());
    if bytes.len() < CHECKPOINT_HEADER_LEN && header.starts_with(&bytes) {
        file.set_len(0).map_err(io(path, "truncate"))?;
        file.seek(SeekFrom::Start(0)).map_err(io(path, "seek in"))?;
        file.write_all(&header).map_err(io(path, "write"))?;
        file.sync_all().map_err(io(path, "sync"))?;
        sync_parent(path)?;
        return Ok((file, CHECKPOINT_HEADER_LEN as u64, None, 0));
    }
    let parsed = CheckpointFile::parse(&bytes).map_err(|source| LedgerError::NotALedger { path: path.to_path_buf(), source })?;
    if parsed.key_id != key.id() {
        return Err(LedgerError::WrongKey { path: path.to_path_buf(), file_key_id: to_hex(&parsed.key_id), key_id: key.id_hex() });
    }
    let good_len = (CHECKPOINT_HEADER_LEN + parsed.checkpoints.len() * CHECKPOINT_LEN) as u64;
    if parsed.torn_bytes > 0 {
        file.set_len(good_len).map_err(io(path, "truncate"))?;
        file.sync_all().map_err(io(path, "sync"))?;
    }
    let last = parsed.checkpoints.last().copied();
    if let Some(cp) = &last
        && !cp.verify(key)
    {
        return Err(damaged(path, good_len - CHECKPOINT_LEN as u64, format!("the last checkpoint (seq {}) fails its MAC", cp.seq)));
    }
    file.seek(SeekFrom::Start(good_len)).map_err(io(path, "seek in"))?;
    Ok((file, good_len, last, parsed.torn_bytes as u64))
}

struct Scanned {
    next_seq: u64,
    head_hash: [u8; HASH_LEN],
    last_ts: u64,
    end: u64,
    subsystems: HashMap<Vec<u8>, u64>,
    torn: Option<(u64, Vec<u8>)>,
}

/// The file starts with a ledger header made with `key`.
fn check_header(file: &mut File, path: &Path, key: &LedgerKey) -> Result<(), LedgerError> {
    let mut header = [0u8; HEADER_LEN];
    file.seek(SeekFrom::Start(0)).map_err(io(path, "seek in"))?;
    file.read_exact(&mut header).map_err(io(path, "read"))?;
    let h = Header::decode(&header).map_err(|source| LedgerError::NotALedger { path: path.to_path_buf(), source })?;
    if h.key_id != key.id() {
        return Err(LedgerError::WrongKey { path: path.to_path_buf(), file_key_id: to_hex(&h.key_id), key_id: key.id_hex() });
    }
    Ok(())
}

fn scan_for_append(file: &mut File, path: &Path, key: &LedgerKey, checkpoint: Option<&Checkpoint>) -> Result<Scanned, LedgerError> {
    let file_len = file.metadata().map_err(io(path, "read the size of"))?.len();
    // The header was checked by `check_header` before the checkpoint file was opened.
    file.seek(SeekFrom::Start(HEADER_LEN as u64)).map_err(io(path, "seek in"))?;
    let mut reader = BufReader::with_capacity(1 << 20, &*file);
    let mut s = Scanned { next_seq: 1, head_hash: GENESIS, last_ts: 0, end: HEADER_LEN as u64, subsystems: HashMap::new(), torn: None };
    let mut record = Vec::new();
    let mut last_record: Vec<u8> = Vec::new();
    loop {
        let offset = s.end;
        if offset == file_len {
            break;
        }
        let remaining = file_len - offset;
        let mut len = [0u8; 4];
        let body_len = if remaining >= 4 {
            reader.read_exact(&mut len).map_err(io(path, "read"))?;
            usize::try_from(u32::from_le_bytes(len)).unwrap_or(usize::MAX)
        } else {
            usize::MAX
        };
        let whole = body_len.checked_add(FRAME_OVERHEAD).map(|n| n as u64);
        let parsed = match whole {
            Some(n) if body_len <= MAX_BODY_LEN && n <= remaining => {
                record.resize(body_len + MAC_LEN, 0);
                reader.read_exact(&mut record).map_err(io(path, "read"))?;
                record.get(..body_len).and_then(RawBody::parse).map(|raw| (raw.seq, raw.ts_millis, raw.subsystem.to_vec()))
            }
            _ => None,
        };
        let Some((seq, ts, subsystem)) = parsed else {
            s.torn = Some(judge_tail(file, path, key, offset, file_len)?);
            break;
        };
        if seq != s.next_seq {
            return Err(damaged(path, offset, format!("entry seq {seq} follows seq {}", s.next_seq - 1)));
        }
        if ts < s.last_ts {
            return Err(damaged(path, offset, format!("entry seq {seq} is older than the entry before it")));
        }
        if let Some(cp) = checkpoint
            && cp.seq == seq
            && hash_body(record.get(..body_len).unwrap_or_default()) != cp.head
        {
            return Err(damaged(path, offset, format!("entry seq {seq} is not the entry its checkpoint commits to")));
        }
        match s.subsystems.get_mut(&subsystem) {
            Some(t) => *t = ts,
            None => {
                s.subsystems.insert(subsystem, ts);
            }
        }
        s.next_seq = seq + 1;
        s.last_ts = ts;
        s.end = offset + 4 + (body_len + MAC_LEN) as u64;
        std::mem::swap(&mut record, &mut last_record);
    }
    if s.next_seq > 1 {
        let body_len = last_record.len().saturating_sub(MAC_LEN);
        let (body, mac) = last_record.split_at(body_len);
        let hash = hash_body(body);
        let mac: [u8; MAC_LEN] = mac.try_into().unwrap_or([0; MAC_LEN]);
        if !key.verify_entry(&hash, &mac) {
            return Err(damaged(
                path,
                s.end - (4 + last_record.len()) as u64,
                format!("the last entry (seq {}) fails its MAC", s.next_seq - 1),
            ));
        }
        s.head_hash = hash;
    }
    Ok(s)
}

/// Decides whether the bytes from `offset` to the end are a torn tail; returns them if so.
fn judge_tail(file: &mut File, path: &Path, key: &LedgerKey, offset: u64, file_len: u64) -> Result<(u64, Vec<u8>), LedgerError> {
    let len = file_len - offset;
    if len > (MAX_BODY_LEN + FRAME_OVERHEAD) as u64 {
        return Err(damaged(path, offset, "the bytes here are not a well-formed entry"));
    }
    let mut region = vec![0u8; usize::try_from(len).unwrap_or(0)];
    file.seek(SeekFrom::Start(offset)).map_err(io(path, "seek in"))?;
    file.read_exact(&mut region).map_err(io(path, "read"))?;
    let (items, tail) = scan_region(&region, 0, Some(key));
    if items.is_empty() && tail.is_some_and(|t| t.offset == 0) {
        Ok((offset, region))
    } else {
        Err(damaged(path, offset, "the bytes here are not a well-formed entry, and entries follow"))
    }
}

fn save_torn(path: &Path, offset: u64, bytes: &[u8]) -> Result<PathBuf, LedgerError> {
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".torn-{offset}"));
    let mut target = PathBuf::from(&name);
    let mut n = 1;
    while target.exists() {
        let mut alt = name.clone();
        alt.push(format!(".{n}"));
        target = PathBuf::from(alt);
        n += 1;
    }
    let mut f = OpenOptions::new().write(true).create_new(true).open(&target).map_err(io(&target, "create"))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io(&target, "write"))?;
    sync_parent(&target)?;
    Ok(target)
}
