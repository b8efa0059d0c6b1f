//! The tamper suite: generated ledgers attacked at random, one attack of one class each;
//! every attack must be reported with exactly its class (and where it was made), and clean
//! ledgers with no anomaly at all.
//!
//! The default run makes 10,008 attacks (1,112 per class). More:
//! `PIP_TAMPER_CASES=100000 cargo test -p pip-runtime --release --test ledger_tamper`
//! (the number is the total, shared evenly among the nine classes).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeSet;

use pip_runtime::evidence::Event;
use pip_runtime::ledger::checkpoint::{self, Checkpoint};
use pip_runtime::ledger::records::{self as format, PreparedEvent, ledger_header};
use pip_runtime::ledger::{AnomalyClass, Identity, LedgerKey, Report, verify_bytes};
use proptest::prelude::*;

const DEFAULT_CASES: u32 = 10_008;
const START_MS: u64 = 1_767_225_600_000;

fn cases_per_class() -> u32 {
    let total = std::env::var("PIP_TAMPER_CASES").ok().and_then(|v| v.parse::<u32>().ok()).unwrap_or(DEFAULT_CASES);
    total.div_ceil(9).max(1)
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: cases_per_class(), failure_persistence: None, ..ProptestConfig::default() }
}

// SplitMix64: every choice an attack makes comes from the case's seed.
#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

impl Rng {
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.index(hi - lo)
    }

    fn text(&mut self, max: usize) -> String {
        let len = self.index(max + 1);
        (0..len).map(|_| char::from(b'a' + self.index(26) as u8)).collect()
    }

    fn event(&mut self) -> Event {
        let payload = match self.index(3) {
            0 => serde_json::json!({ "amount": self.next() % 10_000, "note": self.text(30) }),
            1 => serde_json::json!([self.text(5), self.next() % 7]),
            _ => serde_json::Value::Null,
        };
        Event {
            subsystem: ["billing", "auth", "export", "ingest"][self.index(4)].to_string(),
            actor: self.text(20),
            action: self.text(12),
            resource: self.text(24),
            payload,
            result: ["ok", "denied", "violated"][self.index(3)].to_string(),
        }
    }
}

/// A generated ledger, kept as separate records so that attacks can move them around.
struct Gen {
    key: LedgerKey,
    ident: Identity,
    header: Vec<u8>,
    records: Vec<Vec<u8>>,
    hashes: Vec<[u8; 32]>,
    times: Vec<u64>,
    checkpoints: Vec<Checkpoint>,
}

impl Gen {
    /// `n` entries, a checkpoint every `every` entries, and one at the head when `final_cp`.
    fn new(rng: &mut Rng, n: usize, every: usize, final_cp: bool) -> Gen {
        let key = LedgerKey::generate().unwrap();
        let ident = Identity::generate("tamper", "audit").unwrap();
        let mut g = Gen {
            header: ledger_header(&key, &ident).to_vec(),
            ident,
            key,
            records: vec![],
            hashes: vec![],
            times: vec![],
            checkpoints: vec![],
        };
        let mut ts = START_MS;
        for _ in 0..n {
            ts += rng.index(2000) as u64;
            g.push(rng.event(), ts);
        }
        let mut covered = 0;
        for seq in (every..=n).step_by(every.max(1)) {
            g.checkpoints.push(Checkpoint::new(&g.key, &g.ident.digest(), seq as u64, g.times[seq - 1] + 5, g.hashes[seq - 1]));
            covered = seq;
        }
        if final_cp && n > covered {
            g.checkpoints.push(Checkpoint::new(&g.key, &g.ident.digest(), n as u64, g.times[n - 1] + 5, g.hashes[n - 1]));
        }
        g
    }

    fn push(&mut self, ev: Event, ts: u64) {
        let prev = self.hashes.last().copied().unwrap_or(self.ident.digest());
        let seq = self.records.len() as u64 + 1;
        let mut rec = Vec::new();
        let h = format::encode_record(&mut rec, &self.key, seq, ts, &prev, &PreparedEvent::new(&ev).unwrap());
        self.records.push(rec);
        self.hashes.push(h);
        self.times.push(ts);
    }

    fn offset_of(&self, records: &[Vec<u8>], index: usize) -> u64 {
        (self.header.len() + records[..index].iter().map(Vec::len).sum::<usize>()) as u64
    }

    fn ledger(records: &[Vec<u8>], header: &[u8]) -> Vec<u8> {
        let mut out = header.to_vec();
        for r in records {
            out.extend_from_slice(r);
        }
        out
    }

    fn checkpoint_bytes(&self) -> Vec<u8> {
        let mut out = checkpoint::encode_header(&self.key, &self.ident).to_vec();
        for c in &self.checkpoints {
            out.extend_from_slice(&c.encode());
        }
        out
    }

    fn verify(&self, ledger: &[u8]) -> Report {
        verify_bytes(ledger, Some(&self.checkpoint_bytes()), &self.key, 2).unwrap()
    }
}

fn classes(r: &Report) -> BTreeSet<AnomalyClass> {
    r.classes()
}

fn only(class: AnomalyClass) -> BTreeSet<AnomalyClass> {
    [class].into_iter().collect()
}

fn describe(r: &Report) -> String {
    r.anomalies.iter().map(|a| format!("\n  {a}")).collect()
}

/// A record with other content but the old MAC (what an attacker without the key can do).
fn rewritten(rng: &mut Rng, record: &[u8]) -> Vec<u8> {
    let body = &record[4..record.len() - 32];
    let mac: [u8; 32] = record[record.len() - 32..].try_into().unwrap();
    let mut e = format::Entry::decode(body, &mac, 0).unwrap();
    match rng.index(4) {
        0 => e.actor.push('x'),
        1 => e.payload = format!("{{\"amount\":{}}}", rng.next() % 1_000_000),
        2 => e.ts_millis += 1 + rng.index(100) as u64,
        _ => e.result = if e.result == "ok" { "denied".into() } else { "ok".into() },
    }
    let body = e.body();
    let mut out = (body.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&body);
    out.extend_from_slice(&mac);
    out
}

/// A record nobody wrote with the key.
fn forged(rng: &mut Rng, seq: u64, prev: [u8; 32], ts: u64) -> Vec<u8> {
    let ev = rng.event();
    let mut out = Vec::new();
    let attacker = LedgerKey::generate().unwrap();
    format::encode_record(&mut out, &attacker, seq, ts, &prev, &PreparedEvent::new(&ev).unwrap());
    if rng.index(2) == 0 {
        let n = out.len();
        for b in &mut out[n - 32..] {
            *b = rng.next() as u8;
        }
    }
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn clean_ledgers_show_no_anomaly(seed in any::<u64>(), n in 0usize..60, every in 1usize..20, final_cp in any::<bool>()) {
        let mut rng = Rng(seed);
        let g = Gen::new(&mut rng, n, every, final_cp);
        let bytes = Gen::ledger(&g.records, &g.header);
        let r = g.verify(&bytes);
        prop_assert!(r.is_clean(), "{}", describe(&r));
        prop_assert_eq!(r.entries, n as u64);
        prop_assert_eq!(r.head.map(|h| h.seq), (n > 0).then_some(n as u64));
        let without = verify_bytes(&bytes, None, &g.key, 1).unwrap();
        prop_assert!(without.is_clean(), "{}", describe(&without));
    }

    #[test]
    fn modified_entries_are_reported_as_modified(seed in any::<u64>(), n in 1usize..48, every in 1usize..16) {
        let mut rng = Rng(seed);
        let g = Gen::new(&mut rng, n, every, true);
        let i = rng.index(n);
        let mut records = g.records.clone();
        match rng.index(3) {
            0 => {
                let byte = rng.index(records[i].len());
                records[i][byte] ^= 1 << rng.index(8);
            }
            1 => records[i] = rewritten(&mut rng, &records[i]),
            _ => {
                // Rewritten and re-MACed with the attacker's own key.
                let body = &records[i][4..records[i].len() - 32];
                let e = format::Entry::decode(body, &[0; 32], 0).unwrap();
                let ev = Event { subsystem: e.subsystem, actor: "mallory".into(), action: e.action, resource: e.resource, payload: serde_json::Value::Null, result: e.result };
                let mut out = Vec::new();
                format::encode_record(&mut out, &LedgerKey::generate().unwrap(), e.seq, e.ts_millis, &e.prev, &PreparedEvent::new(&ev).unwrap());
                records[i] = out;
            }
        }
        let r = g.verify(&Gen::ledger(&records, &g.header));
        prop_assert_eq!(classes(&r), only(AnomalyClass::Modified), "entry {} of {}:{}", i + 1, n, describe(&r));
        let at = g.offset_of(&records, i);
        prop_assert!(r.anomalies.iter().any(|a| a.offset == at), "expected offset {}:{}", at, describe(&r));
    }

    #[test]
    fn deleted_entries_are_reported_as_a_seq_gap(seed in any::<u64>(), n in 2usize..48, every in 1usize..16) {
        let mut rng = Rng(seed);
        let g = Gen::new(&mut rng, n, every, true);
        let from = rng.index(n - 1);
        let to = rng.range(from + 1, n);
        let mut records = g.records.clone();
        records.drain(from..to);
        let r = g.verify(&Gen::ledger(&records, &g.header));
        prop_assert_eq!(classes(&r), only(AnomalyClass::Deleted), "{}", describe(&r));
        let gap = r.anomalies[0].seq.unwrap();
        prop_assert_eq!((gap.first, gap.last), (from as u64 + 1, to as u64));
    }

    #[test]
    fn forged_entries_are_reported_as_inserted(seed in any::<u64>(), n in 1usize..48, every in 1usize..16) {
        let mut rng = Rng(seed);
        let g = Gen::new(&mut rng, n, every, true);
        let at = rng.index(n + 1);
        let prev = if at == 0 { g.ident.digest() } else { g.hashes[at - 1] };
        let ts = if at == 0 { START_MS } else { g.times[at - 1] };
        let seq = match rng.index(3) {
            0 => at as u64 + 1,
            1 => rng.next() % 1000,
            _ => at.max(1) as u64,
        };
        let mut records = g.records.clone();
        if at < n && rng.index(4) == 0 {
            // Junk bytes rather than a record.
            records.insert(at, (0..rng.range(1, 200)).map(|_| rng.next() as u8).collect());
        } else {
            records.insert(at, forged(&mut rng, seq, prev, ts));
        }
        let r = g.verify(&Gen::ledger(&records, &g.header));
        prop_assert_eq!(classes(&r), only(AnomalyClass::Inserted), "at {} of {}:{}", at, n, describe(&r));
        let offset = g.offset_of(&records, at);
        prop_assert!(r.anomalies.iter().all(|a| a.offset == offset), "expected offset {}:{}", offset, describe(&r));
    }

    #[test]
    fn moved_entries_are_reported_as_reordered(seed in any::<u64>(), n in 2usize..48, every in 1usize..16) {
        let mut rng = Rng(seed);
        let g = Gen::new(&mut rng, n, every, true);
        let mut records = g.records.clone();
        let i = rng.index(n);
        let mut j = rng.index(n - 1);
        if j >= i {
            j += 1;
        }
        if rng.index(2) == 0 {
            records.swap(i, j);
        } else {
            let r = records.remove(i);
            records.insert(j, r);
        }
        // Which entries of the disturbed stretch "moved" is a matter of view ([1,4,3,2,5]
        // may be read as 2 and 4 swapped, or 3 and 4 moved): they are all within it.
        let (lo, hi) = (i.min(j), i.max(j));
        let moved: BTreeSet<u64> = (lo as u64 + 1..=hi as u64 + 1).collect();
        let r = g.verify(&Gen::ledger(&records, &g.header));
        prop_assert_eq!(classes(&r), only(AnomalyClass::Reordered), "{} <-> {} of {}:{}", i + 1, j + 1, n, describe(&r));
        prop_assert!(r.anomalies.iter().all(|a| moved.contains(&a.seq.unwrap().first)), "{}", describe(&r));
    }

    #[test]
    fn copied_entries_are_reported_as_replayed(seed in any::<u64>(), n in 1usize..48, every in 1usize..16) {
        let mut rng = Rng(seed);
        let g = Gen::new(&mut rng, n, every, true);
        let mut records = g.records.clone();
        let i = rng.index(n);
        let at = rng.index(n + 1);
        records.insert(at, g.records[i].clone());
        let r = g.verify(&Gen::ledger(&records, &g.header));
        prop_assert_eq!(classes(&r), only(AnomalyClass::Replayed), "copy of {} at {} of {}:{}", i + 1, at, n, describe(&r));
        prop_assert_eq!(r.anomalies.len(), 1);
        prop_assert_eq!(r.anomalies[0].seq.unwrap().first, i as u64 + 1);
    }

    #[test]
    fn cut_off_entries_are_reported_as_truncated(seed in any::<u64>(), n in 1usize..48, every in 1usize..16) {
        let mut rng = Rng(seed);
        let g = Gen::new(&mut rng, n, every, true);
        let bytes = Gen::ledger(&g.records, &g.header);
        // Cut anywhere from the header's end to one byte before the end.
        let cut = rng.range(g.header.len(), bytes.len());
        let first_lost = (0..n).find(|&k| g.offset_of(&g.records, k + 1) as usize > cut).unwrap() as u64 + 1;
        let r = g.verify(&bytes[..cut]);
        prop_assert_eq!(classes(&r), only(AnomalyClass::Truncated), "cut at {} of {}:{}", cut, bytes.len(), describe(&r));
        let lost = r.anomalies[0].seq.unwrap();
        prop_assert_eq!((lost.first, lost.last), (first_lost, n as u64));
    }

    #[test]
    fn backdated_entries_are_reported_as_timestamp_reversals(seed in any::<u64>(), n in 2usize..48, every in 1usize..16) {
        // Only the key holder can write a valid entry: this is an insider backdating one.
        let mut rng = Rng(seed);
        let k = rng.range(1, n);
        let key = LedgerKey::generate().unwrap();
        let ident = Identity::generate("tamper", "audit").unwrap();
        let mut g = Gen { header: ledger_header(&key, &ident).to_vec(), ident, key, records: vec![], hashes: vec![], times: vec![], checkpoints: vec![] };
        let mut ts = START_MS + 10_000;
        for i in 0..n {
            ts += 1 + rng.index(2000) as u64;
            let t = if i == k { g.times[k - 1] - 1 - rng.index(5000) as u64 } else { ts };
            g.push(rng.event(), t);
        }
        for seq in (every..=n).step_by(every) {
            g.checkpoints.push(Checkpoint::new(&g.key, &g.ident.digest(), seq as u64, ts, g.hashes[seq - 1]));
        }
        let r = g.verify(&Gen::ledger(&g.records, &g.header));
        prop_assert_eq!(classes(&r), only(AnomalyClass::TimestampReversal), "{}", describe(&r));
        prop_assert_eq!(r.anomalies[0].seq.unwrap().first, k as u64 + 1);
    }

    #[test]
    fn another_key_is_reported_as_wrong_key(seed in any::<u64>(), n in 0usize..48, every in 1usize..16, with_checkpoints in any::<bool>()) {
        let mut rng = Rng(seed);
        let g = Gen::new(&mut rng, n, every, true);
        let other = LedgerKey::generate().unwrap();
        let bytes = Gen::ledger(&g.records, &g.header);
        let cps = g.checkpoint_bytes();
        let r = verify_bytes(&bytes, with_checkpoints.then_some(cps.as_slice()), &other, 2).unwrap();
        prop_assert_eq!(classes(&r), only(AnomalyClass::WrongKey), "{}", describe(&r));
        prop_assert_eq!(r.anomalies.len(), 1);
    }

    #[test]
    fn an_unfinished_last_write_is_reported_as_a_torn_tail(seed in any::<u64>(), n in 0usize..48, every in 1usize..16) {
        let mut rng = Rng(seed);
        let mut g = Gen::new(&mut rng, n, every, true);
        let end = Gen::ledger(&g.records, &g.header).len() as u64;
        // The next entry, never finished: a prefix of it, or zeros where it should be.
        let ts = g.times.last().copied().unwrap_or(START_MS);
        g.push(rng.event(), ts);
        let next = g.records.pop().unwrap();
        let mut bytes = Gen::ledger(&g.records, &g.header);
        if rng.index(4) == 0 {
            bytes.extend(std::iter::repeat_n(0u8, rng.range(1, 300)));
        } else {
            bytes.extend_from_slice(&next[..rng.range(1, next.len())]);
        }
        let r = g.verify(&bytes);
        prop_assert_eq!(classes(&r), only(AnomalyClass::TornTail), "{}", describe(&r));
        prop_assert_eq!(r.anomalies[0].offset, end);
    }
}

#[test]
fn several_attacks_on_one_ledger_are_each_named() {
    let mut rng = Rng(7);
    let g = Gen::new(&mut rng, 60, 10, true);
    let mut records = g.records.clone();
    let n = records.len();
    records[4][20] ^= 0x10; // seq 5 modified
    records.swap(30, 35); // seqs 31 and 36 reordered
    records.insert(45, g.records[40].clone()); // seq 41 replayed
    records.drain(20..23); // seqs 21..=23 deleted
    records.truncate(records.len() - 2); // seqs 59..=60 truncated
    let r = g.verify(&Gen::ledger(&records, &g.header));
    let want: BTreeSet<AnomalyClass> =
        [AnomalyClass::Modified, AnomalyClass::Deleted, AnomalyClass::Reordered, AnomalyClass::Replayed, AnomalyClass::Truncated]
            .into_iter()
            .collect();
    assert_eq!(classes(&r), want, "{}", describe(&r));
    let seqs = |c: AnomalyClass| {
        r.anomalies.iter().filter(|a| a.class == c).map(|a| a.seq.unwrap()).map(|s| (s.first, s.last)).collect::<Vec<_>>()
    };
    assert_eq!(seqs(AnomalyClass::Modified), vec![(5, 5)]);
    assert_eq!(seqs(AnomalyClass::Deleted), vec![(21, 23)]);
    assert_eq!(seqs(AnomalyClass::Replayed), vec![(41, 41)]);
    assert_eq!(seqs(AnomalyClass::Truncated), vec![(59, n as u64)]);
    assert!(r.anomalies.iter().filter(|a| a.class == AnomalyClass::Reordered).all(|a| [31, 36].contains(&a.seq.unwrap().first)));
}

#[test]
fn damage_of_alternating_classes_gives_a_bounded_report_with_exact_counts() {
    // Per block of 4 entries: the first two swapped, the third's MAC flipped, the fourth intact.
    let attack = |blocks: usize| {
        let mut rng = Rng(11);
        let g = Gen::new(&mut rng, 4 * blocks, 4 * blocks, true);
        let mut records = g.records.clone();
        for b in 0..blocks {
            records.swap(4 * b, 4 * b + 1);
            let mac = records[4 * b + 2].len() - 1;
            records[4 * b + 2][mac] ^= 1;
        }
        g.verify(&Gen::ledger(&records, &g.header))
    };
    let one = attack(1);
    let per_block: Vec<(AnomalyClass, usize)> = AnomalyClass::ALL.iter().map(|&c| (c, one.count(c))).collect();
    assert!(one.count(AnomalyClass::Reordered) > 0 && one.count(AnomalyClass::Modified) == 1, "{}", describe(&one));
    let blocks = 2000;
    let r = attack(blocks);
    for (class, n) in per_block {
        assert_eq!(r.count(class), n * blocks, "{class:?}");
    }
    assert_eq!(r.anomaly_count(), one.anomaly_count() * blocks as u64);
    assert!(r.anomalies.len() <= 256 + 2 * AnomalyClass::ALL.len(), "{} lines", r.anomalies.len());
    let last = r.anomalies.iter().rfind(|a| a.class == AnomalyClass::Modified).unwrap();
    let last_seq = last.repeats.and_then(|rep| rep.last_seq).or(last.seq).unwrap();
    assert_eq!(last_seq.first, (4 * blocks - 1) as u64, "the last run ends at the last modified entry");
}

#[test]
fn a_damaged_checkpoint_is_reported_in_the_checkpoint_file() {
    let mut rng = Rng(11);
    let g = Gen::new(&mut rng, 20, 5, true);
    let bytes = Gen::ledger(&g.records, &g.header);
    let mut cps = g.checkpoint_bytes();
    let at = checkpoint::CHECKPOINT_HEADER_LEN + checkpoint::CHECKPOINT_LEN + 3;
    cps[at] ^= 1;
    let r = verify_bytes(&bytes, Some(&cps), &g.key, 1).unwrap();
    assert_eq!(classes(&r), only(AnomalyClass::Modified), "{}", describe(&r));
    assert_eq!(r.anomalies[0].file, pip_runtime::ledger::verify::FileKind::Checkpoints);
}

#[test]
fn a_ledger_rolled_back_and_rewritten_disagrees_with_its_checkpoint() {
    // The key holder restores an old copy and appends different entries: every entry
    // verifies, but the checkpoint commits to the entry that was there before.
    let mut rng = Rng(3);
    let g = Gen::new(&mut rng, 10, 10, false);
    let mut h = Gen {
        key: g.key.clone(),
        ident: g.ident.clone(),
        header: g.header.clone(),
        records: g.records[..6].to_vec(),
        hashes: g.hashes[..6].to_vec(),
        times: g.times[..6].to_vec(),
        checkpoints: vec![],
    };
    for _ in 6..10 {
        h.push(rng.event(), START_MS + 100_000);
    }
    let r = verify_bytes(&Gen::ledger(&h.records, &h.header), Some(&g.checkpoint_bytes()), &g.key, 1).unwrap();
    assert_eq!(classes(&r), only(AnomalyClass::Modified), "{}", describe(&r));
    assert_eq!(r.anomalies[0].seq.unwrap().first, 10);
}
