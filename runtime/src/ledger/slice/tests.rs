//! The slice codec's tests: payload templates, round trips and refusals, as properties.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
use super::payload::{fill, slot_text};
use super::*;

#[test]
fn payloads_are_cut_into_templates_and_values_that_rebuild_them_exactly() {
    for text in [
        r#"{"amount":5,"currency":"EUR","ratio":0.25,"tags":["a","b\"c"],"neg":-7,"big":123456789012345678901}"#,
        "null",
        r#""just a string""#,
        r#"{"zero":0,"minus_zero":-0,"exp":1e5,"lead":"x"}"#,
        "{\"k\" : \"v\" , \"n\":  12 }",
        "not json at all \u{1}",
        r#"{"unterminated":"x"#,
        "",
    ] {
        let (t, s) = shred(text);
        assert_eq!(fill(&t, &s.iter().map(slot_text).collect::<Vec<_>>()), text, "{text}");
    }
    assert_eq!(shred(r#"{"a":1,"b":"x"}"#).0, "{\"a\":\u{2},\"b\":\u{1}}");
}

use proptest::prelude::*;

/// Payload texts: JSON the runtime writes (nested objects and arrays of strings, integers
/// of every size, floats) and arbitrary text, which must survive byte for byte too.
fn payload() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        (-1e12f64..1e12).prop_map(serde_json::Value::from),
        "[a-z0-9 \"\\\u{1}-\u{4}é€😀]{0,12}".prop_map(serde_json::Value::from),
    ];
    let json = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z\u{1}\u{2}]{1,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    prop_oneof![4 => json.prop_map(|v| v.to_string()), 1 => any::<String>()]
}

type Fields = (u64, String, String, String, String, String, String);

fn fields() -> impl Strategy<Value = Fields> {
    let word = || prop::sample::select(vec!["", "billing", "auth", "svc-billing", "charge", "ok", "denied", "acct/17", "é\u{1}"]);
    let time = prop_oneof![Just(0u64), 0..2_000u64, 0..u64::from(u32::MAX)];
    (time, word(), word(), word(), prop_oneof![word().prop_map(String::from), any::<String>()], word(), payload())
        .prop_map(|(t, s, a, c, r, o, p)| (t, s.into(), a.into(), c.into(), r, o.into(), p))
}

/// The identity of the test slices.
fn ident() -> Identity {
    Identity::with_id("shop", "audit", [9; 16]).unwrap()
}

/// A run of entries after `anchor`, with checkpoints at `marks` (indices into it).
fn run(anchor: &Anchor, fields: &[Fields], marks: &[prop::sample::Index]) -> (Vec<Entry>, Vec<Checkpoint>) {
    let mut ts = anchor.min_ts;
    let entries: Vec<Entry> = fields
        .iter()
        .enumerate()
        .map(|(i, (dt, subsystem, actor, action, resource, result, payload))| {
            ts += dt;
            Entry {
                seq: anchor.next_seq + i as u64,
                ts_millis: ts,
                subsystem: subsystem.clone(),
                actor: actor.clone(),
                action: action.clone(),
                resource: resource.clone(),
                result: result.clone(),
                payload: payload.clone(),
                prev: [0; HASH_LEN],
                hash: [0; HASH_LEN],
                mac: [0; MAC_LEN],
                offset: 0,
            }
        })
        .collect();
    let mut at: Vec<usize> = marks.iter().map(|m| m.index(entries.len())).collect();
    at.sort_unstable();
    let cps = at
        .iter()
        .map(|&k| Checkpoint { seq: entries[k].seq, time_millis: entries[k].ts_millis + 5, head: [0; HASH_LEN], mac: [k as u8; MAC_LEN] })
        .collect();
    (entries, cps)
}

fn anchor() -> impl Strategy<Value = Anchor> {
    (prop_oneof![Just(1u64), 1..1u64 << 40], any::<[u8; HASH_LEN]>(), 0..1u64 << 42).prop_map(|(next_seq, prev, min_ts)| Anchor {
        next_seq,
        prev,
        min_ts,
    })
}

#[test]
fn payload_integers_whose_differences_overflow_an_i64_round_trip() {
    // Found by the property below: a delta between far-apart integers does not fit an
    // i64, and was written as garbage that the decoder then refused.
    let anchor = Anchor { next_seq: 1, prev: [0; HASH_LEN], min_ts: 0 };
    let payloads = [i64::MIN, i64::MAX, -337_431_093_001_454_998, 8_885_940_943_853_320_810, 0];
    let fields: Vec<Fields> =
        payloads.iter().map(|p| (0, String::new(), String::new(), String::new(), String::new(), String::new(), p.to_string())).collect();
    let (entries, cps) = run(&anchor, &fields, &[]);
    let d = decode(&encode(&[7; KEY_ID_LEN], &ident(), &anchor, &entries, &cps).unwrap()).unwrap();
    let got: Vec<_> = d.entries.iter().map(|e| e.payload.clone()).collect();
    assert_eq!(got, entries.iter().map(|e| e.payload.clone()).collect::<Vec<_>>());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn shredding_any_text_rebuilds_it_exactly(text in any::<String>()) {
        let (t, s) = shred(&text);
        prop_assert_eq!(fill(&t, &s.iter().map(slot_text).collect::<Vec<_>>()), text);
    }

    #[test]
    fn any_run_of_entries_decodes_to_what_was_encoded(
        anchor in anchor(),
        fields in prop::collection::vec(fields(), 1..40),
        marks in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let (entries, cps) = run(&anchor, &fields, &marks);
        let bytes = encode(&[7; KEY_ID_LEN], &ident(), &anchor, &entries, &cps).unwrap();
        let d = decode(&bytes).unwrap();
        prop_assert_eq!(d.key_id, [7; KEY_ID_LEN]);
        prop_assert_eq!(&d.identity, &ident());
        prop_assert_eq!(&d.anchor, &anchor);
        prop_assert_eq!(d.entries.len(), entries.len());
        let mut chain = anchor.prev;
        for (got, want) in d.entries.iter().zip(&entries) {
            let fields = |e: &Entry| (e.seq, e.ts_millis, e.subsystem.clone(), e.actor.clone(), e.action.clone(), e.resource.clone(), e.result.clone(), e.payload.clone());
            prop_assert_eq!(fields(got), fields(want));
            prop_assert_eq!(got.prev, chain, "the chain is recomputed from the anchor");
            chain = got.hash;
        }
        let cp = |c: &Checkpoint| (c.seq, c.time_millis, c.mac);
        prop_assert_eq!(d.checkpoints.iter().map(cp).collect::<Vec<_>>(), cps.iter().map(cp).collect::<Vec<_>>());
        for c in &d.checkpoints {
            let e = d.entries.iter().find(|e| e.seq == c.seq).unwrap();
            prop_assert_eq!(c.head, e.hash, "a checkpoint's head is its entry's recomputed hash");
        }
    }

    /// Changing, inserting or cutting bytes of a slice either fails to decode or decodes
    /// to different entries or checkpoints (which the chain and MACs then reveal); it
    /// never panics and never decodes to the same content.
    #[test]
    fn no_edit_of_a_slice_decodes_to_the_same_content(
        anchor in anchor(),
        fields in prop::collection::vec(fields(), 1..12),
        marks in prop::collection::vec(any::<prop::sample::Index>(), 1..3),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4),
    ) {
        let (entries, cps) = run(&anchor, &fields, &marks);
        let bytes = encode(&[7; KEY_ID_LEN], &ident(), &anchor, &entries, &cps).unwrap();
        let original = decode(&bytes).unwrap();
        let mut changed = bytes.clone();
        for (at, byte, how) in edits {
            let i = at.index(changed.len().max(1));
            match how {
                0 => { if let Some(b) = changed.get_mut(i) { *b ^= byte | 1; } }
                1 => changed.insert(i, byte),
                _ => changed.truncate(i),
            }
        }
        prop_assume!(changed != bytes);
        if let Ok(d) = decode(&changed) {
            prop_assert!(d != original, "an edited slice decoded to the same content");
        }
    }

    #[test]
    fn arbitrary_bytes_are_refused_without_panicking(tail in prop::collection::vec(any::<u8>(), 0..512), header in any::<bool>()) {
        let mut bytes = Vec::new();
        if header {
            bytes.extend_from_slice(&SLICE_MAGIC);
            bytes.extend_from_slice(&SLICE_VERSION.to_le_bytes());
            bytes.extend_from_slice(&0u16.to_le_bytes());
        }
        bytes.extend_from_slice(&tail);
        // Whatever decodes is, by the strict check, exactly what encode writes.
        if let Ok(d) = decode(&bytes) {
            prop_assert_eq!(encode(&d.key_id, &d.identity, &d.anchor, &d.entries, &d.checkpoints).unwrap(), bytes);
        }
    }
}
