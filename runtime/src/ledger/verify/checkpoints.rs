//! Checking a checkpoint file as it is read, in memory that does not grow with the file: each
//! checkpoint's MAC and order is checked as it passes, anomalies are kept as runs of alike
//! ones, and only the distinct checkpoints whose MAC verifies are kept (only the key holder
//! can make those; copies of one are reported, not kept again). A gigabyte of junk is one
//! run of `modified` checkpoints, and costs one MAC per distinct 80 bytes read.

use std::collections::HashSet;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::ledger::checkpoint::{CHECKPOINT_HEADER_LEN, CHECKPOINT_LEN, Checkpoint, decode_header};
use crate::ledger::error::VerifyError;
use crate::ledger::format::Header;
use crate::ledger::format::{HASH_LEN, MAC_LEN};
use crate::ledger::key::{LedgerKey, to_hex};
use crate::ledger::report::{Anomaly, AnomalyClass, FileKind, Runs, SeqRange};

/// Where the checkpoints come from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CkptInput<'a> {
    /// A checkpoint file's bytes.
    Bytes(&'a [u8]),
    /// A checkpoint file, read up to `len` bytes (all of it when `None`).
    File {
        /// The checkpoint file, opened as [`crate::fsread::open`] allows.
        path: &'a Path,
        /// Bytes to read from its start, header included: a live writer's synced length, so that checkpoints written meanwhile are not read.
        len: Option<u64>,
    },
}

/// An opened checkpoint input: its header, and a reader positioned after it.
pub(crate) struct Opened<'a> {
    pub header: Header,
    reader: Box<dyn Read + 'a>,
}

/// Reads the header of a checkpoint input.
pub(crate) fn open(input: CkptInput<'_>) -> Result<Opened<'_>, VerifyError> {
    let mut reader: Box<dyn Read + '_> = match input {
        CkptInput::Bytes(b) => Box::new(b),
        CkptInput::File { path, len } => {
            let io = |source| VerifyError::Io { path: path.to_path_buf(), source };
            let file = crate::fsread::open(path).map_err(io)?;
            Box::new(BufReader::with_capacity(1 << 20, file.take(len.unwrap_or(u64::MAX))))
        }
    };
    let mut head = Vec::with_capacity(CHECKPOINT_HEADER_LEN);
    let path = match input {
        CkptInput::File { path, .. } => Some(path),
        CkptInput::Bytes(_) => None,
    };
    (&mut reader)
        .take(CHECKPOINT_HEADER_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|source| VerifyError::Io { path: path.map(Path::to_path_buf).unwrap_or_default(), source })?;
    let header = decode_header(&head).map_err(VerifyError::Checkpoints)?;
    Ok(Opened { header, reader })
}

/// The checkpoint file, checked.
#[derive(Debug, Default)]
pub(crate) struct Checked {
    /// The file's header (`None`: no checkpoint file).
    pub header: Option<Header>,
    /// The distinct checkpoints whose MAC verifies, in file order.
    pub valid: Vec<Checkpoint>,
    /// Whether any checkpoint's MAC verifies: when none does and nothing else verifies either, the key is wrong.
    pub any_ok: bool,
    pub anomalies: Vec<Anomaly>,
}

impl Checked {
    /// The seqs the verified checkpoints name, sorted, without duplicates.
    pub(crate) fn named_seqs(&self) -> Vec<u64> {
        let mut named: Vec<u64> = self.valid.iter().map(|c| c.seq).collect();
        named.sort_unstable();
        named.dedup();
        named
    }
}

/// Checks checkpoints one at a time.
pub(crate) struct Checker<'a> {
    key: &'a LedgerKey,
    digest: [u8; HASH_LEN],
    valid: Vec<Checkpoint>,
    seen: HashSet<[u8; MAC_LEN]>,
    last: Option<Checkpoint>,
    order: Runs,
    bad: Runs,
    /// The last 80 bytes checked and whether their MAC verified (junk repeats itself).
    memo: Option<([u8; CHECKPOINT_LEN], bool)>,
    /// The checkpoint before this one failed its MAC and its anomaly is the last run of
    /// `bad`: a copy of it only extends that run (no text to format and compare).
    extends_bad_run: bool,
}

impl<'a> Checker<'a> {
    /// Checks against the ledger with identity digest `digest`.
    pub(crate) fn new(key: &'a LedgerKey, digest: [u8; HASH_LEN]) -> Checker<'a> {
        Checker {
            key,
            digest,
            valid: Vec::new(),
            seen: HashSet::new(),
            last: None,
            order: Runs::default(),
            bad: Runs::default(),
            memo: None,
            extends_bad_run: false,
        }
    }

    /// Checks checkpoint `i` (0-based) at `offset` of the file.
    pub(crate) fn add(&mut self, i: u64, offset: u64, cp: Checkpoint) {
        let raw = cp.encode();
        let ok = match self.memo {
            Some((bytes, false)) if bytes == raw && self.extends_bad_run => {
                // INVARIANT: `extends_bad_run` is set only right after a MAC failure was
                // pushed to `bad`, so its last run is that failure's.
                let copy = Anomaly::new(AnomalyClass::Modified, FileKind::Checkpoints, offset, Some(SeqRange::one(cp.seq)), String::new());
                if let Some(run) = self.bad.list.last_mut() {
                    run.absorb(&copy);
                }
                return;
            }
            Some((bytes, ok)) if bytes == raw => ok,
            _ => {
                let ok = cp.verify(self.key, &self.digest);
                self.memo = Some((raw, ok));
                ok
            }
        };
        if !ok {
            self.bad.push(Anomaly::new(
                AnomalyClass::Modified,
                FileKind::Checkpoints,
                offset,
                Some(SeqRange::one(cp.seq)),
                format!("checkpoint {} fails its MAC", i + 1),
            ));
            self.extends_bad_run = true;
            return;
        }
        self.extends_bad_run = false;
        if let Some(last) = self.last
            && cp.seq <= last.seq
        {
            let (class, what) =
                if cp.seq == last.seq { (AnomalyClass::Replayed, "repeats") } else { (AnomalyClass::Reordered, "goes back from") };
            self.order.push(Anomaly::new(
                class,
                FileKind::Checkpoints,
                offset,
                Some(SeqRange::one(cp.seq)),
                format!("checkpoint {} (seq {}) {what} the one before it (seq {})", i + 1, cp.seq, last.seq),
            ));
        }
        self.last = Some(cp);
        if self.seen.insert(cp.mac) {
            self.valid.push(cp);
        }
    }

    /// The result; `header` names the key the file says it was written with.
    pub(crate) fn finish(self, header: Option<Header>, torn: Option<(u64, u64)>) -> Checked {
        let any_ok = !self.valid.is_empty();
        let mut anomalies = self.order.list;
        let key_id = header.as_ref().map(|h| h.key_id);
        if any_ok || key_id.is_none_or(|k| k == self.key.id()) {
            anomalies.extend(self.bad.list);
        } else if let Some(k) = key_id {
            // Nothing in the file verifies and its header names another key. When the ledger
            // verifies, the caller keeps this; when nothing does, it reports one wrong key.
            anomalies.push(Anomaly::new(
                AnomalyClass::WrongKey,
                FileKind::Checkpoints,
                0,
                None,
                format!("the checkpoints were written with key id {}, not with this key (id {})", to_hex(&k), self.key.id_hex()),
            ));
        }
        if let Some((offset, len)) = torn {
            anomalies.push(Anomaly::new(
                AnomalyClass::TornTail,
                FileKind::Checkpoints,
                offset,
                None,
                format!("the last {len} bytes are an unfinished checkpoint"),
            ));
        }
        Checked { header, valid: self.valid, any_ok, anomalies }
    }
}

/// Reads and checks every checkpoint after the header.
pub(crate) fn check_stream(
    opened: Opened<'_>,
    key: &LedgerKey,
    digest: [u8; HASH_LEN],
    path: Option<&Path>,
) -> Result<Checked, VerifyError> {
    let Opened { header, mut reader } = opened;
    let mut checker = Checker::new(key, digest);
    let mut buf = [0u8; CHECKPOINT_LEN];
    let mut i = 0u64;
    let torn = loop {
        let n = read_full(&mut reader, &mut buf)
            .map_err(|source| VerifyError::Io { path: path.map(Path::to_path_buf).unwrap_or_default(), source })?;
        let offset = CHECKPOINT_HEADER_LEN as u64 + i * CHECKPOINT_LEN as u64;
        if n < CHECKPOINT_LEN {
            break (n > 0).then_some((offset, n as u64));
        }
        if let Some(cp) = Checkpoint::decode(&buf) {
            checker.add(i, offset, cp);
        }
        i += 1;
    };
    Ok(checker.finish(Some(header), torn))
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while let Some(rest) = buf.get_mut(n..) {
        if rest.is_empty() {
            break;
        }
        match r.read(rest) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
