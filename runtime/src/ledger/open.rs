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

use crate::ledger::checkpoint::{self, CHECKPOINT_HEADER_LEN, CHECKPOINT_LEN, Checkpoint};
use crate::ledger::config::LedgerConfig;
use crate::ledger::error::LedgerError;
use crate::ledger::format::{
    FRAME_OVERHEAD, FormatError, HASH_LEN, HEADER_LEN, Header, MAC_LEN, MAX_BODY_LEN, RawBody, hash_body, ledger_header,
};
use crate::ledger::identity::Identity;
use crate::ledger::key::{KEY_ID_LEN, LedgerKey, to_hex};
use crate::ledger::lock::lock_exclusive;
use crate::ledger::scan::scan_region;

/// What opening found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenReport {
    /// Whether the ledger file was created.
    pub created: bool,
    /// The seq of the last entry (0 when empty).
    pub head_seq: u64,
    /// A torn tail that was cut off, if there was one.
    pub torn_tail: Option<RecoveredTail>,
    /// Bytes of an unfinished checkpoint cut off the checkpoint file.
    pub checkpoint_torn_bytes: u64,
    /// The ledger's identity (fixed when it was created).
    pub identity: Identity,
    /// Bytes of an unfinished signed checkpoint note cut off the signed checkpoint file
    /// (ledgers with a signing key).
    pub signed_torn_bytes: u64,
    /// Whether the checkpoint file was missing or empty and a new checkpoint history was
    /// started (as [`LedgerConfig::new_checkpoint_history`] allows); the ledger records it
    /// as an entry.
    pub new_checkpoint_history: bool,
}

/// An unfinished last record that opening cut off the ledger, after saving its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredTail {
    /// Byte offset in the ledger where the unfinished record started; the file now ends there.
    pub offset: u64,
    /// Bytes cut off, from `offset` to where the file ended.
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
    /// Why a new checkpoint history was started, if one was.
    pub restarted_checkpoints: Option<&'static str>,
    pub report: OpenReport,
    /// The signing state (signed checkpoint file, tree) of a ledger with a signing key.
    #[cfg(feature = "signing")]
    pub signed: Option<crate::ledger::signed::recover::SignedStart>,
}

fn io<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> LedgerError + 'a {
    move |source| LedgerError::Io { path: path.to_path_buf(), op, source }
}

fn damaged(path: &Path, offset: u64, what: impl Into<String>) -> LedgerError {
    LedgerError::Damaged { path: path.to_path_buf(), offset, what: what.into() }
}

/// Opens (or creates) the ledger and its checkpoint file, takes the ledger's lock, and
/// recovers.
pub(crate) fn open_files(
    config: &LedgerConfig,
    key: &LedgerKey,
    #[cfg(feature = "signing")] signing: Option<&crate::ledger::signed::Signing>,
) -> Result<Recovered, LedgerError> {
    let (path, ckpt_path) = (config.path.as_path(), config.checkpoint_path());
    let mut file = crate::fsread::open_rw(path, true).map_err(io(path, "open"))?;
    lock_exclusive(&file, path)?;
    let len = file.metadata().map_err(io(path, "read the size of"))?.len();
    let mut created = None;
    if len < HEADER_LEN as u64 {
        // Empty, or a crash while the header was being written: only a prefix of a header
        // made with this key may be there (its random id cannot be known).
        let mut existing = Vec::new();
        file.read_to_end(&mut existing).map_err(io(path, "read"))?;
        let identity = match config.ledger_id {
            Some(id) => Identity::with_id(&config.spec, &config.name, id),
            None => Identity::generate(&config.spec, &config.name),
        }
        .map_err(|e| LedgerError::Config(e.to_string()))?;
        let header = ledger_header(key, &identity);
        let fixed = KEY_FIXED_LEN.min(existing.len());
        if existing.get(..fixed) != header.get(..fixed) {
            if let Err(source @ FormatError::UnsupportedVersion(_)) = Header::decode(&existing) {
                return Err(LedgerError::NotALedger { path: path.to_path_buf(), source });
            }
            return if existing.starts_with(b"PIPLEDGR") || b"PIPLEDGR".starts_with(existing.as_slice()) {
                Err(LedgerError::WrongKey {
                    path: path.to_path_buf(),
                    file_key_id: "unknown (the header is incomplete)".into(),
                    key_id: key.id_hex(),
                })
            } else {
                Err(LedgerError::NotALedger { path: path.to_path_buf(), source: FormatError::NotALedger })
            };
        }
        // Checkpoints of an earlier ledger at this path would vouch for entries that are gone.
        refuse_checkpoints_of_lost_entries(&ckpt_path, path)?;
        file.set_len(0).map_err(io(path, "truncate"))?;
        file.seek(SeekFrom::Start(0)).map_err(io(path, "seek in"))?;
        file.write_all(&header).map_err(io(path, "write"))?;
        file.sync_all().map_err(io(path, "sync"))?;
        sync_parent(path)?;
        created = Some(identity);
    }
    let identity = match created.clone() {
        Some(i) => i,
        // Not a ledger, another key's, another ledger's or a changed header: refused before
        // the checkpoint file is touched.
        None => check_header(&mut file, path, key, config)?,
    };
    // A ledger with no entry (new, or a crash right after its header was written) has nothing
    // a lost checkpoint file could have vouched for.
    let fresh = created.is_some() || len == HEADER_LEN as u64;
    let ckpt = open_checkpoints(&ckpt_path, key, &identity, fresh, config.new_checkpoint_history)?;
    let last_checkpoint = ckpt.last;
    #[cfg(feature = "signing")]
    let mut recovery = signing.map(|sg| crate::ledger::signed::recover::Recovery::start(config, &identity.digest(), sg)).transpose()?;
    let mut fold = |_seq: u64, _offset: u64, _body: &[u8]| {
        #[cfg(feature = "signing")]
        if let Some(r) = recovery.as_mut() {
            r.fold(_seq, _offset, _body);
        }
    };
    let mut rec = if created.is_some() {
        Scanned { next_seq: 1, head_hash: identity.digest(), last_ts: 0, end: HEADER_LEN as u64, subsystems: HashMap::new(), torn: None }
    } else {
        scan_for_append(&mut file, path, key, &identity, last_checkpoint.as_ref(), &mut fold)?
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
    #[cfg(feature = "signing")]
    let signed = recovery.map(|r| r.finish(config, rec.next_seq - 1)).transpose()?;
    let mut subsystems: Vec<(String, u64)> =
        rec.subsystems.into_iter().map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v)).collect();
    subsystems.sort();
    Ok(Recovered {
        ledger: file,
        checkpoints: ckpt.file,
        next_seq: rec.next_seq,
        head_hash: rec.head_hash,
        last_ts: rec.last_ts,
        ledger_len: rec.end,
        checkpoints_len: ckpt.len,
        last_checkpoint,
        subsystems,
        restarted_checkpoints: ckpt.restarted,
        report: OpenReport {
            created: created.is_some(),
            head_seq: rec.next_seq - 1,
            torn_tail,
            checkpoint_torn_bytes: ckpt.torn_bytes,
            identity,
            new_checkpoint_history: ckpt.restarted.is_some(),
            #[cfg(feature = "signing")]
            signed_torn_bytes: signed.as_ref().map_or(0, |s| s.torn_bytes),
            #[cfg(not(feature = "signing"))]
            signed_torn_bytes: 0,
        },
        #[cfg(feature = "signing")]
        signed,
    })
}

/// Bytes at the start of a header that do not depend on the ledger's identity: magic,
/// version, reserved, key id.
const KEY_FIXED_LEN: usize = 8 + 2 + 2 + KEY_ID_LEN;

/// A new ledger is made where a checkpoint file with checkpoints exists: its entries were lost.
fn refuse_checkpoints_of_lost_entries(ckpt_path: &Path, path: &Path) -> Result<(), LedgerError> {
    let Ok(meta) = std::fs::metadata(ckpt_path) else { return Ok(()) };
    let whole = meta.len().saturating_sub(CHECKPOINT_HEADER_LEN as u64) / CHECKPOINT_LEN as u64;
    if whole > 0 {
        // The seq of the last checkpoint, read alone (the file may be of any size).
        let last_at = CHECKPOINT_HEADER_LEN as u64 + (whole - 1) * CHECKPOINT_LEN as u64;
        let mut raw = [0u8; CHECKPOINT_LEN];
        let seq = crate::fsread::open(ckpt_path)
            .and_then(|mut f| f.seek(SeekFrom::Start(last_at)).and_then(|_| f.read_exact(&mut raw)))
            .ok()
            .and_then(|()| Checkpoint::decode(&raw))
            .map_or(0, |c| c.seq);
        return Err(LedgerError::Truncated { path: path.to_path_buf(), head: 0, checkpoint: seq });
    }
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

/// The checkpoint file opened for appending, with what recovery found at its end.
struct OpenedCheckpoints {
    file: File,
    len: u64,
    last: Option<Checkpoint>,
    torn_bytes: u64,
    /// Why a new checkpoint history was started (`missing` or `empty`), if one was.
    restarted: Option<&'static str>,
}

fn open_checkpoints(
    path: &Path,
    key: &LedgerKey,
    identity: &Identity,
    ledger_created: bool,
    new_history: bool,
) -> Result<OpenedCheckpoints, LedgerError> {
    let existed = path.exists();
    if !existed && !ledger_created && !new_history {
        return Err(LedgerError::CheckpointsMissing { path: path.to_path_buf(), what: "missing" });
    }
    let mut file = crate::fsread::open_rw(path, true).map_err(io(path, "open"))?;
    // Only the header and the last checkpoint are read: memory does not grow with the file.
    let file_len = file.metadata().map_err(io(path, "read the size of"))?.len();
    let mut bytes = Vec::with_capacity(CHECKPOINT_HEADER_LEN);
    (&mut file).take(CHECKPOINT_HEADER_LEN as u64).read_to_end(&mut bytes).map_err(io(path, "read"))?;
    let header = checkpoint::encode_header(key, identity);
    let fixed = KEY_FIXED_LEN.min(bytes.len());
    // A new (or still empty) ledger may replace a header-only file of an earlier one made
    // with this key: it vouches for nothing.
    let stale_header = ledger_created
        && file_len == CHECKPOINT_HEADER_LEN as u64
        && checkpoint::decode_header(&bytes).is_ok_and(|h| h.key_id == key.id() && h.verifies(key));
    if stale_header || (bytes.len() < CHECKPOINT_HEADER_LEN && header.get(..fixed) == bytes.get(..fixed)) {
        // No checkpoint history: a new ledger starts one; an existing ledger had one, and
        // whoever deleted or emptied it may have cut entries off with it.
        let restarted = match (ledger_created, existed, bytes.is_empty()) {
            (true, _, _) => None,
            (false, false, _) if new_history => Some("missing"),
            (false, true, true) if new_history => Some("empty"),
            (false, true, false) if new_history => Some("incomplete"),
            (false, _, empty) => {
                return Err(LedgerError::CheckpointsMissing { path: path.to_path_buf(), what: if empty { "empty" } else { "incomplete" } });
            }
        };
        file.set_len(0).map_err(io(path, "truncate"))?;
        file.seek(SeekFrom::Start(0)).map_err(io(path, "seek in"))?;
        file.write_all(&header).map_err(io(path, "write"))?;
        file.sync_all().map_err(io(path, "sync"))?;
        sync_parent(path)?;
        return Ok(OpenedCheckpoints { file, len: CHECKPOINT_HEADER_LEN as u64, last: None, torn_bytes: 0, restarted });
    }
    let parsed = checkpoint::decode_header(&bytes).map_err(|source| LedgerError::NotALedger { path: path.to_path_buf(), source })?;
    if parsed.key_id != key.id() {
        return Err(LedgerError::WrongKey { path: path.to_path_buf(), file_key_id: to_hex(&parsed.key_id), key_id: key.id_hex() });
    }
    if !parsed.verifies(key) {
        return Err(damaged(path, 0, "the checkpoint file's header fails its MAC"));
    }
    if parsed.identity != *identity {
        return Err(LedgerError::OtherLedger {
            path: path.to_path_buf(),
            found: parsed.identity.to_string(),
            expected: identity.to_string(),
        });
    }
    let body = file_len - CHECKPOINT_HEADER_LEN as u64;
    let torn_bytes = body % CHECKPOINT_LEN as u64;
    let good_len = file_len - torn_bytes;
    if torn_bytes > 0 {
        file.set_len(good_len).map_err(io(path, "truncate"))?;
        file.sync_all().map_err(io(path, "sync"))?;
    }
    let last = if good_len > CHECKPOINT_HEADER_LEN as u64 {
        let mut raw = [0u8; CHECKPOINT_LEN];
        file.seek(SeekFrom::Start(good_len - CHECKPOINT_LEN as u64)).map_err(io(path, "seek in"))?;
        file.read_exact(&mut raw).map_err(io(path, "read"))?;
        Checkpoint::decode(&raw)
    } else {
        None
    };
    if let Some(cp) = &last
        && !cp.verify(key, &identity.digest())
    {
        return Err(damaged(path, good_len - CHECKPOINT_LEN as u64, format!("the last checkpoint (seq {}) fails its MAC", cp.seq)));
    }
    file.seek(SeekFrom::Start(good_len)).map_err(io(path, "seek in"))?;
    Ok(OpenedCheckpoints { file, len: good_len, last, torn_bytes, restarted: None })
}

struct Scanned {
    next_seq: u64,
    head_hash: [u8; HASH_LEN],
    last_ts: u64,
    end: u64,
    subsystems: HashMap<Vec<u8>, u64>,
    torn: Option<(u64, Vec<u8>)>,
}

/// The file starts with a ledger header made with `key`, unchanged, for the ledger the
/// configuration names (any, when it names none); returns the ledger's identity.
fn check_header(file: &mut File, path: &Path, key: &LedgerKey, config: &LedgerConfig) -> Result<Identity, LedgerError> {
    let mut header = [0u8; HEADER_LEN];
    file.seek(SeekFrom::Start(0)).map_err(io(path, "seek in"))?;
    file.read_exact(&mut header).map_err(io(path, "read"))?;
    let h = Header::decode(&header).map_err(|source| LedgerError::NotALedger { path: path.to_path_buf(), source })?;
    if h.key_id != key.id() {
        return Err(LedgerError::WrongKey { path: path.to_path_buf(), file_key_id: to_hex(&h.key_id), key_id: key.id_hex() });
    }
    if !h.verifies(key) {
        return Err(damaged(path, 0, "the header fails its MAC (a byte of it was changed)"));
    }
    let named = !config.spec.is_empty() || !config.name.is_empty();
    let other_id = config.ledger_id.is_some_and(|id| id != h.identity.id);
    if other_id || (named && (h.identity.spec != config.spec || h.identity.ledger != config.name)) {
        return Err(LedgerError::OtherLedger {
            path: path.to_path_buf(),
            found: h.identity.to_string(),
            expected: format!(
                "spec `{}`, ledger `{}`{}",
                config.spec,
                config.name,
                config.ledger_id.map(|id| format!(", id {}", to_hex(&id))).unwrap_or_default()
            ),
        });
    }
    Ok(h.identity)
}

fn scan_for_append(
    file: &mut File,
    path: &Path,
    key: &LedgerKey,
    identity: &Identity,
    checkpoint: Option<&Checkpoint>,
    fold: &mut dyn FnMut(u64, u64, &[u8]),
) -> Result<Scanned, LedgerError> {
    let file_len = file.metadata().map_err(io(path, "read the size of"))?.len();
    // The header was checked by `check_header` before the checkpoint file was opened.
    file.seek(SeekFrom::Start(HEADER_LEN as u64)).map_err(io(path, "seek in"))?;
    let mut reader = BufReader::with_capacity(1 << 20, &*file);
    let genesis = identity.digest();
    let mut s = Scanned { next_seq: 1, head_hash: genesis, last_ts: 0, end: HEADER_LEN as u64, subsystems: HashMap::new(), torn: None };
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
        fold(seq, offset, record.get(..body_len).unwrap_or_default());
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
