//! The pass must give exactly the general path's report whenever it succeeds, and must
//! succeed on every intact ledger, however the records are cut into ranges.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
use super::*;
use crate::evidence::Event;
use crate::ledger::checkpoint::{self, Checkpoint};
use crate::ledger::format::{PreparedEvent, encode_record, ledger_header};
use crate::ledger::identity::Identity;
use crate::ledger::verify::{CkptInput, Pass, Report, Streaming, verify_file_with, verify_ledger};
use proptest::prelude::*;

const T0: u64 = 1_767_225_600_000;

/// The identity of every test ledger here.
fn ident() -> Identity {
    Identity::with_id("t", "audit", [7; 16]).unwrap()
}

fn genesis() -> Anchor {
    Anchor::genesis(&ident().digest())
}

/// A ledger of `n` entries of varied sizes (times repeat now and then), its records'
/// offsets, and the hashes of its entries.
fn ledger(key: &LedgerKey, n: u64) -> (Vec<u8>, Vec<usize>, Vec<[u8; HASH_LEN]>) {
    let mut bytes = ledger_header(key, &ident()).to_vec();
    let (mut starts, mut hashes) = (Vec::new(), Vec::new());
    let mut prev = ident().digest();
    for seq in 1..=n {
        let ev = Event {
            subsystem: ["billing", "auth", "config"][(seq % 3) as usize].into(),
            actor: "svc".into(),
            action: "x".into(),
            resource: format!("r/{seq}"),
            payload: serde_json::json!({ "pad": "p".repeat((seq * 37 % 150) as usize) }),
            result: "ok".into(),
        };
        starts.push(bytes.len());
        prev = encode_record(&mut bytes, key, seq, T0 + seq / 3, &prev, &PreparedEvent::new(&ev).unwrap());
        hashes.push(prev);
    }
    (bytes, starts, hashes)
}

fn checkpoints(key: &LedgerKey, cps: &[(u64, [u8; HASH_LEN])]) -> Vec<u8> {
    let mut out = checkpoint::encode_header(key, &ident()).to_vec();
    for &(seq, head) in cps {
        out.extend_from_slice(&Checkpoint::new(key, &ident().digest(), seq, T0 + seq, head).encode());
    }
    out
}

/// The report of the fast path (in memory, and read from a file in chunks of a few
/// records), which must be one, and the general path's.
fn both(bytes: &[u8], cps: Option<&[u8]>, key: &LedgerKey, threads: usize, min_range: usize) -> (Report, Report) {
    let fast = verify_ledger(bytes, cps.map(CkptInput::Bytes), key, threads, Pass::Fast(min_range)).unwrap();
    let general = verify_ledger(bytes, cps.map(CkptInput::Bytes), key, threads, Pass::General).unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    for chunk in [700, 5000] {
        let streaming = Streaming { min_file: 0, chunk, min_range };
        let streamed = verify_file_with(file.path(), None, cps.map(CkptInput::Bytes), key, threads, streaming).unwrap();
        assert_eq!(streamed, fast, "read in chunks of {chunk}");
    }
    (fast, general)
}

#[cfg(unix)]
fn sweep_file(bytes: &[u8], key: &LedgerKey, named: &[u64], threads: usize, min_range: usize) -> Option<Intact> {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let f = File::open(file.path()).unwrap();
    sweep(Source::File { file: &f, len: bytes.len(), chunk: 700 }, key, &genesis(), named, threads, min_range)
}

#[test]
fn intact_ledgers_pass_in_one_sweep_with_the_general_paths_report() {
    let key = LedgerKey::generate().unwrap();
    for n in [0u64, 1, 2, 3, 4, 57, 400] {
        let (bytes, starts, hashes) = ledger(&key, n);
        let h = |seq: u64| hashes[(seq - 1) as usize];
        let mut cps: Vec<(u64, [u8; HASH_LEN])> = (1..=n).filter(|s| s % 7 == 0).map(|s| (s, h(s))).collect();
        if n >= 3 {
            // A checkpoint naming another entry's hash, one repeated, one going back.
            cps.push((2, h(3)));
            cps.push((2, h(3)));
            cps.push((1, h(1)));
        }
        let with_cps = checkpoints(&key, &cps);
        // Checkpoints past the end: entries were cut off.
        let mut truncated = cps.clone();
        truncated.push((n + 5, [9; HASH_LEN]));
        let truncated = checkpoints(&key, &truncated);
        for threads in 1..=4 {
            for min_range in [1, 200, 5000, MIN_RANGE_BYTES] {
                for cp in [None, Some(&with_cps), Some(&truncated)] {
                    let mut named: Vec<u64> = cps.iter().map(|c| c.0).collect();
                    named.sort_unstable();
                    named.dedup();
                    let intact =
                        sweep(Source::Bytes(&bytes), &key, &genesis(), &named, threads, min_range).expect("an intact ledger sweeps");
                    #[cfg(unix)]
                    assert_eq!(sweep_file(&bytes, &key, &named, threads, min_range).as_ref(), Some(&intact), "read in chunks");
                    assert_eq!(intact.entries, n);
                    assert_eq!(intact.last.map(|l| (l.seq, l.offset)), n.checked_sub(1).map(|i| (n, starts[i as usize] as u64)));
                    let (fast, general) = both(&bytes, cp.map(Vec::as_slice), &key, threads, min_range);
                    assert_eq!(fast, general, "n {n}, threads {threads}, min range {min_range}");
                }
            }
        }
    }
}

#[test]
fn ranges_start_on_record_boundaries_and_use_every_thread_when_there_is_work() {
    let key = LedgerKey::generate().unwrap();
    let (bytes, starts, _) = ledger(&key, 300);
    for threads in 1..=8 {
        let got = range_starts(Source::Bytes(&bytes), &key, threads, 1000);
        assert_eq!(got.len(), threads, "threads {threads}");
        assert!(got.iter().all(|s| starts.contains(s)), "{got:?}");
        assert!(got.windows(2).all(|w| w[0] < w[1]));
    }
    assert_eq!(range_starts(Source::Bytes(&bytes), &key, 8, bytes.len()), vec![HEADER_LEN], "small ledgers are one range");
    let other = LedgerKey::generate().unwrap();
    assert_eq!(range_starts(Source::Bytes(&bytes), &other, 4, 1000), vec![HEADER_LEN], "with a wrong key nothing confirms a start");
}

#[test]
fn torn_tails_are_found_by_the_sweep_as_the_scan_finds_them() {
    let key = LedgerKey::generate().unwrap();
    let (bytes, starts, hashes) = ledger(&key, 40);
    let last = *starts.last().unwrap();
    let cps = checkpoints(&key, &[(39, hashes[38]), (40, hashes[39])]);
    for cut in (last + 1..bytes.len()).step_by(7) {
        let cut_bytes = &bytes[..cut];
        for threads in 1..=3 {
            let intact = sweep(Source::Bytes(cut_bytes), &key, &genesis(), &[], threads, 500).expect("a torn tail is intact");
            #[cfg(unix)]
            assert_eq!(sweep_file(cut_bytes, &key, &[], threads, 500).as_ref(), Some(&intact), "read in chunks");
            assert_eq!(intact.tail.map(|t| t.offset), Some(last));
            let (fast, general) = both(cut_bytes, Some(&cps), &key, threads, 500);
            assert_eq!(fast, general, "cut at {cut}");
        }
    }
    let mut zeros = bytes.clone();
    zeros.extend_from_slice(&[0; 100]);
    let (fast, general) = both(&zeros, None, &key, 2, 500);
    assert_eq!(fast, general);
    assert_eq!(fast.anomalies.len(), 1);
}

/// Entries written with the key but wrong: their MACs verify, their links do not.
#[test]
fn links_the_key_holder_broke_are_left_to_the_general_path() {
    let key = LedgerKey::generate().unwrap();
    let ev = Event {
        subsystem: "s".into(),
        actor: "a".into(),
        action: "x".into(),
        resource: "r".into(),
        payload: serde_json::json!(1),
        result: "ok".into(),
    };
    let p = PreparedEvent::new(&ev).unwrap();
    // Thirty entries, one of them broken: (seq, time, whether prev is the hash of the
    // entry before) of entry `i`.
    type Entry = fn(u64) -> (u64, u64, bool);
    let breaks: [Entry; 5] = [
        |i| (i, if i == 15 { 5 } else { 10 + i }, true),
        |i| (i, 10 + i, i != 15),
        |i| (if i >= 15 { i + 1 } else { i }, 10 + i, true),
        |i| (i + 1, 10 + i, true),
        |i| (i, 10 + i, i != 1),
    ];
    for (k, entry) in breaks.iter().enumerate() {
        let mut bytes = ledger_header(&key, &ident()).to_vec();
        let mut prev = ident().digest();
        for i in 1..=30 {
            let (seq, ts, linked) = entry(i);
            prev = encode_record(&mut bytes, &key, seq, ts, if linked { &prev } else { &[7; HASH_LEN] }, &p);
        }
        let case = k;
        for threads in 1..=3 {
            assert!(sweep(Source::Bytes(&bytes), &key, &genesis(), &[], threads, 300).is_none(), "{case:?}");
            let (fast, general) = both(&bytes, None, &key, threads, 300);
            assert!(!general.is_clean(), "{case:?}");
            assert_eq!(fast, general, "{case:?}");
        }
    }
}

#[test]
fn a_prefix_of_a_file_is_verified_as_those_bytes_alone() {
    let key = LedgerKey::generate().unwrap();
    let (bytes, starts, hashes) = ledger(&key, 60);
    let cps = checkpoints(&key, &[(20, hashes[19])]);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &bytes).unwrap();
    for len in [starts[30], starts[30] + 9, bytes.len(), bytes.len() + 100] {
        let streaming = Streaming { min_file: 0, chunk: 800, min_range: 300 };
        let got = verify_file_with(file.path(), Some(len as u64), Some(CkptInput::Bytes(&cps)), &key, 2, streaming).unwrap();
        let want = verify_ledger(&bytes[..len.min(bytes.len())], Some(CkptInput::Bytes(&cps)), &key, 2, Pass::General).unwrap();
        assert_eq!(got, want, "first {len} bytes");
    }
    let short = verify_file_with(file.path(), Some(10), None, &key, 2, Streaming { min_file: 0, chunk: 800, min_range: 300 });
    assert!(
        matches!(short, Err(crate::ledger::verify::VerifyError::Format(crate::ledger::format::FormatError::TooShort(10)))),
        "{short:?}"
    );
}

#[derive(Debug, Clone)]
enum Attack {
    Flip { at: usize, bit: u8 },
    Delete { record: usize },
    Duplicate { record: usize, to: usize },
    Swap { a: usize, b: usize },
    Garbage { at: usize, len: usize },
    Cut { at: usize },
}

fn attack(bytes: &[u8], starts: &[usize], a: &Attack) -> Vec<u8> {
    let rec = |i: usize| {
        let i = i % starts.len();
        (starts[i], starts.get(i + 1).copied().unwrap_or(bytes.len()))
    };
    let mut out = bytes.to_vec();
    match *a {
        Attack::Flip { at, bit } => {
            let at = HEADER_LEN + at % (bytes.len() - HEADER_LEN);
            out[at] ^= 1 << (bit % 8);
        }
        Attack::Delete { record } => {
            let (s, e) = rec(record);
            out.drain(s..e);
        }
        Attack::Duplicate { record, to } => {
            let (s, e) = rec(record);
            let (at, _) = rec(to);
            let copy = bytes[s..e].to_vec();
            out.splice(at..at, copy);
        }
        Attack::Swap { a, b } => {
            let (mut x, mut y) = (rec(a), rec(b));
            if x.0 > y.0 {
                std::mem::swap(&mut x, &mut y);
            }
            if x.0 != y.0 {
                out = [&bytes[..x.0], &bytes[y.0..y.1], &bytes[x.1..y.0], &bytes[x.0..x.1], &bytes[y.1..]].concat();
            }
        }
        Attack::Garbage { at, len } => {
            let (s, _) = rec(at);
            out.splice(s..s, (0..len).map(|i| (i * 7 + 1) as u8));
        }
        Attack::Cut { at } => out.truncate(HEADER_LEN + at % (bytes.len() - HEADER_LEN)),
    }
    out
}

fn attacks() -> impl Strategy<Value = Attack> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, bit)| Attack::Flip { at, bit }),
        any::<usize>().prop_map(|record| Attack::Delete { record }),
        (any::<usize>(), any::<usize>()).prop_map(|(record, to)| Attack::Duplicate { record, to }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Attack::Swap { a, b }),
        (any::<usize>(), 1..300usize).prop_map(|(at, len)| Attack::Garbage { at, len }),
        any::<usize>().prop_map(|at| Attack::Cut { at }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever was done to a ledger, the sweep either declines or agrees with the
    /// general path, on any number of threads and ranges.
    #[test]
    fn an_attacked_ledger_gets_the_general_paths_report(a in attacks(), n in 1u64..120, threads in 1usize..5, min_range in prop_oneof![Just(1usize), Just(300), Just(4000)]) {
        let key = LedgerKey::generate().unwrap();
        let (bytes, starts, hashes) = ledger(&key, n);
        let cps = checkpoints(&key, &[(n / 2 + 1, hashes[(n / 2) as usize]), (n, hashes[(n - 1) as usize])]);
        let attacked = attack(&bytes, &starts, &a);
        let (fast, general) = both(&attacked, Some(&cps), &key, threads, min_range);
        prop_assert_eq!(fast, general);
    }
}
