//! What a violation's evidence keeps of the values its check read (`evidence_values`, issue
//! 12 §3), on a real ledger file: under the default, `omit` and `hash` the file's bytes never
//! hold the value; `hash` gives equal values equal hashes that nobody without the ledger key
//! can compute; the ledger still verifies; and a bundle of it verifies, its timeline showing
//! the hashes and none of the values. The invariants are those of `tests/macro-specs/pii.pips`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use pip_bundle::archive::{self, Limits};
use pip_runtime::clock::{Clock, SystemClock};
use pip_runtime::evidence::hash_value;
use pip_runtime::ledger::{Ledger, LedgerConfig, LedgerKey, verify_files};
use pip_runtime::{pip_invariant, runtime};

const KEY_HEX: &str = "5b1e9c3a7d2f4e6a8c0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a3c";
const OTHER_KEY_HEX: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

#[pip_invariant("pii.subject_by_default")]
fn record_by_default(subject: &str) -> usize {
    subject.len()
}

#[pip_invariant("pii.subject_omitted")]
fn record_omitted(subject: &str) -> usize {
    subject.len()
}

#[pip_invariant("pii.subject_hashed")]
fn record_hashed(subject: &str) -> usize {
    subject.len()
}

#[pip_invariant("pii.subject_in_debug")]
fn record_in_debug(subject: &str) -> usize {
    subject.len()
}

/// The `Debug` text the check reads, which a hash is computed over.
fn debug(s: &str) -> String {
    format!("{s:?}")
}

fn count(haystack: &[u8], needle: &str) -> usize {
    haystack.windows(needle.len()).filter(|w| *w == needle.as_bytes()).count()
}

fn pipc(args: &[&str]) -> (u8, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = pipc::run(std::iter::once("pipc").chain(args.iter().copied()), &mut out, &mut err);
    (code, format!("{}{}", String::from_utf8_lossy(&out), String::from_utf8_lossy(&err)))
}

#[test]
fn evidence_keeps_what_the_spec_says_and_still_verifies_in_the_ledger_and_a_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.ledger");
    let key = LedgerKey::from_hex(KEY_HEX, "the test").unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let (ledger, _) = Ledger::open(LedgerConfig::new("pii", "audit", &path), key.clone(), clock, None).unwrap();
    runtime().register_ledger("pii", "audit", Arc::new(ledger.clone()));

    let by_default = "ada.lovelace@example.org";
    let omitted = "grace.hopper@example.org";
    let hashed = "alan.turing@example.org";
    let hashed_other = "edsger.dijkstra@example.org";
    let in_debug = "barbara.liskov@example.org";
    record_by_default(by_default);
    record_omitted(omitted);
    record_hashed(hashed);
    record_hashed(hashed_other);
    record_hashed(hashed);
    record_in_debug(in_debug);
    ledger.close().unwrap();

    let bytes = std::fs::read(&path).unwrap();
    // The default and `omit` keep nothing of the value, `hash` keeps no clear text; `debug`
    // keeps it (so the search below can find a value when it is there).
    for (mode, value) in [("default", by_default), ("omit", omitted), ("hash", hashed), ("hash", hashed_other)] {
        assert_eq!(count(&bytes, value), 0, "`{value}` ({mode}) is in the ledger file");
        // Nor the local part alone.
        assert_eq!(count(&bytes, value.split('@').next().unwrap()), 0, "part of `{value}` ({mode}) is in the ledger file");
    }
    assert_eq!(count(&bytes, in_debug), 1, "`debug` keeps the value");

    // Equal values give equal hashes within the ledger, different values different ones.
    let value_key = key.value_key("pii", "audit");
    let h = hash_value(&value_key, &debug(hashed));
    let h_other = hash_value(&value_key, &debug(hashed_other));
    assert_ne!(h, h_other);
    assert_eq!(count(&bytes, &h), 2, "both violations with `{hashed}` hold its hash");
    assert_eq!(count(&bytes, &h_other), 1);
    // The hash is keyed: neither another key nor the plain SHA-256 gives it, so whoever lacks
    // the ledger key cannot test a guess.
    let other = LedgerKey::from_hex(OTHER_KEY_HEX, "the test").unwrap();
    assert_ne!(hash_value(&other.value_key("pii", "audit"), &debug(hashed)), h);
    assert_eq!(count(&bytes, &pip_compiler::sha256_hex(debug(hashed).as_bytes())), 0);
    // Bound to the ledger too: another ledger with the same key hashes the value otherwise.
    assert_ne!(hash_value(&key.value_key("pii", "other"), &debug(hashed)), h);
    // Each event says how its values were kept.
    for mode in ["\"evidence_values\":\"omit\"", "\"evidence_values\":\"hash\"", "\"evidence_values\":\"debug\""] {
        assert!(count(&bytes, mode) > 0, "no event says {mode}");
    }

    // The ledger verifies.
    let report = verify_files(&path, None, &key, 1).unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.entries, 6);

    // A bundle of it verifies, and its timeline shows hashes, never the hashed values.
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, format!("{KEY_HEX}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("macro-specs");
    let zip = dir.path().join("incident.zip");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (code, text) = pipc(&[
        "bundle",
        "--spec",
        &s(&specs),
        "--bundle",
        "pii.incident",
        "--ledger",
        &s(&path),
        "--key-file",
        &s(&key_file),
        "-o",
        &s(&zip),
    ]);
    assert_eq!(code, 0, "{text}");
    let (code, text) = pipc(&["verify-bundle", &s(&zip), "--key-file", &s(&key_file)]);
    assert_eq!(code, 0, "{text}");
    let files = archive::read(&std::fs::read(&zip).unwrap(), &Limits::default()).unwrap();
    let timeline = String::from_utf8(files.iter().find(|(n, _)| n.ends_with("timeline.html")).unwrap().1.clone()).unwrap();
    for value in [by_default, omitted, hashed, hashed_other] {
        assert!(!timeline.contains(value), "the timeline shows `{value}`");
    }
    assert!(timeline.contains(in_debug), "the timeline shows `debug` values");
    let prefix = pip_runtime::evidence::HASH_PREFIX.len();
    let short = |h: &str| format!("hmac {}…", &h[prefix..prefix + 16]);
    assert_eq!(timeline.matches(&short(&h)).count(), 2, "{timeline}");
    assert_eq!(timeline.matches(&short(&h_other)).count(), 1);
    assert!(timeline.matches("class=\"omitted\"").count() >= 2, "the default and `omit` show as omitted");
}
