//! What a spec declares, as the service's process sees it: `pip_spec!("payments")` reads the
//! spec at compile time (as `#[pip_invariant]` does) and gives a [`SpecDecl`].
//!
//! [`SpecDecl::declare`] exports every invariant's check and violation counters and every
//! rate limit's series at zero when the service starts, before any annotated function runs:
//! a counter that first appears at 1 has no `increase()` in Prometheus, so a violation on the
//! first call after a restart would raise no alert. [`SpecDecl::ledger_config`] opens a
//! ledger as the spec's `ledger` block configures it (checkpoints, durability, expected
//! subsystems), so that its figures are never copied by hand.
//!
//! ```ignore
//! static SPEC: SpecDecl = pip_runtime::pip_spec!("payments");
//! SPEC.declare()?;
//! let config = SPEC.ledger_config("audit", data_dir.join("audit.ledger")).expect("the spec has ledger `audit`");
//! ```

use std::path::PathBuf;
use std::time::Duration;

use crate::global::runtime;
use crate::invariant::Clause;
use crate::ledger::{CheckpointPolicy, Durability, LedgerConfig};
use crate::limiter::{BackendFailure, LimitConfig, LimiterError};
use crate::metrics::InvariantLabels;

/// A spec's constructs that have runtime series or configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecDecl {
    /// The spec id (`spec payments`), the `spec` label of every series [`SpecDecl::declare`] exports.
    pub name: &'static str,
    /// The spec's `invariant` constructs, whose counters [`SpecDecl::declare`] exports at zero.
    pub invariants: &'static [InvariantDecl],
    /// The spec's `rate_limit` constructs, which [`SpecDecl::declare`] registers with the process's limiters.
    pub limits: &'static [LimitDecl],
    /// The spec's `ledger` constructs, which [`SpecDecl::ledger_config`] looks up by name.
    pub ledgers: &'static [LedgerDecl<'static>],
}

/// An `invariant` of the spec: what its counters' labels need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvariantDecl {
    /// The invariant's name in the spec, the `invariant` label of its counters.
    pub name: &'static str,
    /// Its severity's level label value (`critical`, ...).
    pub level: &'static str,
}

/// A `rate_limit` of the spec, with the settings [`SpecDecl::limit_config`] turns into a [`LimitConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitDecl {
    /// The limit's name in the spec, the `limit` label of its series and its key among the process's limiters.
    pub name: &'static str,
    /// Requests admitted per key and window.
    pub rate: u64,
    /// Window length in nanoseconds.
    pub window_nanos: u64,
    /// The spec's `max_keys` (default 100000): keys tracked at once before a new key is refused.
    pub max_keys: u64,
    /// The spec's `on_backend_failure` (default `allow`): what a decision on a shared backend
    /// is when the backend gives none within `backend_timeout_millis`.
    pub on_backend_failure: BackendFailure,
    /// The spec's `backend_timeout` in milliseconds (default 50, at most 10000): how long a
    /// decision waits for a shared backend.
    pub backend_timeout_millis: u64,
}

/// A ledger. `pip_spec!` declares them as constants; a tool that reads a spec at run time
/// (`pipc log append`) borrows one from what it read, and both open the ledger through
/// [`LedgerDecl::config`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerDecl<'a> {
    /// The ledger's name in the spec, which [`SpecDecl::ledger_config`] looks it up by.
    pub name: &'a str,
    /// Checkpoint after this many entries.
    pub checkpoint_entries: Option<u64>,
    /// Checkpoint after this many milliseconds.
    pub checkpoint_every_millis: Option<u64>,
    /// `sync every append` (`true`), or group commit after `sync_entries` / `sync_every_millis`.
    pub sync_every_append: bool,
    /// Group commit: sync once this many entries wait (`sync every 64 entries`); `None` when the spec gives no count.
    pub sync_entries: Option<u64>,
    /// Group commit: the longest an entry waits for its sync (`sync ... or 5ms`); `None` when the spec gives no interval.
    pub sync_every_millis: Option<u64>,
    /// The subsystems it expects evidence from.
    pub expected_subsystems: &'a [&'a str],
    /// The spec's `clock_tolerance` in milliseconds (default 5m): a wall-clock jump beyond it is recorded.
    pub clock_tolerance_millis: u64,
    /// `signing_key = env("NAME")`: the environment variable that holds the key signing the
    /// ledger's checkpoints. At most one of this and [`LedgerDecl::signing_key_file`] is set;
    /// neither when the ledger does not sign its checkpoints.
    pub signing_key_env: Option<&'a str>,
    /// `signing_key = file("path")`: the file that holds the signing key.
    pub signing_key_file: Option<&'a str>,
    /// The checkpoint origin when the ledger signs (the spec's `origin`, default
    /// `pip/<spec>/<ledger>`); `None` when it does not.
    pub origin: Option<&'a str>,
    /// The witnesses that cosign its checkpoints (`witness ... key ...`), in the spec's order;
    /// empty when it names none.
    pub witnesses: &'a [WitnessDecl<'a>],
    /// Cosignatures a checkpoint needs (`witness_quorum`, default all witnesses; 0 without witnesses).
    pub witness_quorum: u32,
    /// The spec's `witness_silence` in milliseconds (default 1h, also when the ledger names no
    /// witness): a witness that has not cosigned for longer is alerted on.
    pub witness_silence_millis: u64,
}

/// A witness of a ledger (`witness "https://..." key "..."`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WitnessDecl<'a> {
    /// The witness's base URL, absolute `http://` or `https://`.
    pub url: &'a str,
    /// Its C2SP verifier key `<name>+<hex key id>+<base64>` (Ed25519 `cosignature/v1`, type
    /// `0x04`), as the compiler checked it: shape, type and key id.
    pub key: &'a str,
}

impl SpecDecl {
    /// Exports every invariant's counters at zero and registers every rate limit with the
    /// process's limiters (whose series start at zero). A limit the service registered
    /// already keeps its configuration. Call it once at start-up; calling it again changes
    /// nothing.
    pub fn declare(&self) -> Result<(), LimiterError> {
        let m = runtime().metrics();
        for inv in self.invariants {
            // Both clauses, as an annotated function's site exports them on its first call
            // (a series of a clause the invariant lacks stays at zero).
            for clause in [Clause::Requires, Clause::Ensures] {
                let labels = InvariantLabels {
                    spec: self.name.to_string(),
                    invariant: inv.name.to_string(),
                    check: clause.as_str().to_string(),
                    severity: inv.level.to_string(),
                };
                drop(m.invariant_checks.get_or_create(&labels));
                drop(m.invariant_violations.get_or_create(&labels));
            }
        }
        for l in self.limits {
            match runtime().limiters().register(self.limit_config(l)) {
                Ok(()) | Err(LimiterError::Duplicate { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The limiter configuration of a limit: its rate, window, key cap and backend failure
    /// policy and timeout, as the spec gives them.
    pub fn limit_config(&self, l: &LimitDecl) -> LimitConfig {
        LimitConfig::new(self.name, l.name, l.rate, Duration::from_nanos(l.window_nanos))
            .with_max_keys(l.max_keys)
            .with_backend_failure(l.on_backend_failure, Duration::from_millis(l.backend_timeout_millis))
    }

    /// The ledger `name` as the spec configures it, in the file `path`; `None` when the spec
    /// has no such ledger.
    pub fn ledger_config(&self, name: &str, path: impl Into<PathBuf>) -> Option<LedgerConfig> {
        Some(self.ledgers.iter().find(|l| l.name == name)?.config(self.name, path))
    }
}

impl LedgerDecl<'_> {
    /// The configuration of this ledger of spec `spec`, in the file `path`: its checkpoint
    /// policy, durability, expected subsystems and clock tolerance; everything the spec does
    /// not say keeps [`LedgerConfig::new`]'s default. The signing settings (signing key,
    /// origin, witnesses) are not part of a [`LedgerConfig`]: `LedgerDecl::signing` (runtime
    /// feature `signing`) loads the key and origin for `Ledger::open_signed`.
    pub fn config(&self, spec: &str, path: impl Into<PathBuf>) -> LedgerConfig {
        let mut config = LedgerConfig::new(spec, self.name, path);
        config.checkpoint =
            CheckpointPolicy { every_entries: self.checkpoint_entries, every: self.checkpoint_every_millis.map(Duration::from_millis) };
        config.durability = if self.sync_every_append {
            Durability::EveryAppend
        } else {
            Durability::Group { entries: self.sync_entries, interval: self.sync_every_millis.map(Duration::from_millis) }
        };
        config.expected_subsystems = self.expected_subsystems.iter().map(|s| (*s).to_string()).collect();
        config.clock_tolerance = Duration::from_millis(self.clock_tolerance_millis);
        config
    }
}

#[cfg(feature = "signing")]
impl LedgerDecl<'_> {
    /// Where the spec says the ledger's signing key is (`signing_key = env(..)` or `file(..)`);
    /// `None` when the ledger signs nothing.
    pub fn signing_key(&self) -> Option<crate::ledger::KeySource> {
        match (self.signing_key_env, self.signing_key_file) {
            (Some(var), _) => Some(crate::ledger::KeySource::Env(var.to_string())),
            (None, Some(path)) => Some(crate::ledger::KeySource::File(PathBuf::from(path))),
            (None, None) => None,
        }
    }

    /// The ledger's signing key loaded from where the spec says, with its origin and its
    /// witnesses ([`LedgerDecl::witnessing`]), ready for
    /// [`Ledger::open_signed`](crate::ledger::Ledger::open_signed), and a warning when its file
    /// is open to others; `None` when the ledger signs nothing. `spec` is the spec's id (for
    /// the default origin). Opening fails when the spec names witnesses and pip-runtime was
    /// built without feature `witness`, which pushes checkpoints to them.
    pub fn signing(
        &self,
        spec: &str,
    ) -> Option<Result<(crate::ledger::signed::Signing, Option<crate::ledger::key::KeyWarning>), crate::ledger::signed::SigningKeyError>>
    {
        use crate::ledger::signed::{Signing, SigningKeyError, default_origin, load_signer};
        let source = self.signing_key()?;
        Some(load_signer(&source).and_then(|(signer, warning)| {
            let origin = self.origin.map_or_else(|| default_origin(spec, self.name), str::to_string);
            let signing = Signing::new(signer, origin.clone()).map_err(|source| SigningKeyError::Origin { origin, source })?;
            Ok((signing.with_witnessing(self.witnessing()?), warning))
        }))
    }

    /// The witnesses the spec names with their quorum and silence, and the default request
    /// timeout and backoff; no witness when it names none.
    pub fn witnessing(&self) -> Result<crate::ledger::witness::Witnessing, crate::ledger::witness::WitnessConfigError> {
        use crate::ledger::witness::{WitnessTarget, Witnessing};
        let targets = self.witnesses.iter().map(|w| WitnessTarget::new(w.url, w.key)).collect::<Result<Vec<_>, _>>()?;
        Ok(Witnessing::new(targets)?.with_quorum(self.witness_quorum).with_silence(Duration::from_millis(self.witness_silence_millis)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    /// A declaration borrowed from data read at run time configures the ledger exactly as a
    /// constant one does.
    #[test]
    fn a_borrowed_declaration_gives_the_same_config_as_a_constant_one() {
        const AUDIT: LedgerDecl<'static> = LedgerDecl {
            name: "audit",
            checkpoint_entries: Some(500),
            checkpoint_every_millis: None,
            sync_every_append: false,
            sync_entries: Some(64),
            sync_every_millis: Some(250),
            expected_subsystems: &["billing", "auth"],
            clock_tolerance_millis: 60_000,
            signing_key_env: Some("PIP_AUDIT_SIGNING_KEY"),
            signing_key_file: None,
            origin: Some("payments.example.com/audit"),
            witnesses: &[WitnessDecl {
                url: "https://w1.example.com/",
                key: "w1.example.com+a7d18111+BNdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea",
            }],
            witness_quorum: 1,
            witness_silence_millis: 3_600_000,
        };
        let (name, subsystems) = (String::from("audit"), vec![String::from("billing"), String::from("auth")]);
        let borrowed: Vec<&str> = subsystems.iter().map(String::as_str).collect();
        let (origin, url, key) =
            (String::from("payments.example.com/audit"), String::from("https://w1.example.com/"), String::from(AUDIT.witnesses[0].key));
        let witnesses = [WitnessDecl { url: &url, key: &key }];
        let read = LedgerDecl { name: &name, expected_subsystems: &borrowed, origin: Some(&origin), witnesses: &witnesses, ..AUDIT };
        assert_eq!(read, AUDIT, "a borrowed declaration equals the constant one it was read from");
        let config = read.config("payments", "/data/audit.ledger");
        assert_eq!(config, AUDIT.config("payments", "/data/audit.ledger"));
        let mut expected = LedgerConfig::new("payments", "audit", "/data/audit.ledger");
        expected.checkpoint = CheckpointPolicy { every_entries: Some(500), every: None };
        expected.durability = Durability::Group { entries: Some(64), interval: Some(Duration::from_millis(250)) };
        expected.expected_subsystems = subsystems;
        expected.clock_tolerance = Duration::from_secs(60);
        assert_eq!(config, expected);
        let every_append = LedgerDecl { sync_every_append: true, ..AUDIT }.config("payments", "/x");
        assert_eq!(every_append.durability, Durability::EveryAppend);
    }

    /// A limit's backend failure policy and timeout reach its limiter configuration with its
    /// rate, window and key cap.
    #[test]
    fn a_declared_limit_configures_its_backend_failure_policy_and_timeout() {
        const LIMITS: [LimitDecl; 2] = [
            LimitDecl {
                name: "per_tenant",
                rate: 100,
                window_nanos: 1_000_000_000,
                max_keys: 1_000,
                on_backend_failure: BackendFailure::Deny,
                backend_timeout_millis: 120,
            },
            LimitDecl {
                name: "per_ip",
                rate: 5,
                window_nanos: 60_000_000_000,
                max_keys: 100_000,
                on_backend_failure: BackendFailure::Allow,
                backend_timeout_millis: 50,
            },
        ];
        let spec = SpecDecl { name: "payments", invariants: &[], limits: &LIMITS, ledgers: &[] };
        let deny = spec.limit_config(&LIMITS[0]);
        let expected = LimitConfig::new("payments", "per_tenant", 100, Duration::from_secs(1))
            .with_max_keys(1_000)
            .with_backend_failure(BackendFailure::Deny, Duration::from_millis(120));
        assert_eq!(deny, expected);
        let allow = spec.limit_config(&LIMITS[1]);
        assert_eq!((allow.on_backend_failure, allow.backend_timeout), (BackendFailure::Allow, Duration::from_millis(50)));
        assert_eq!(allow, LimitConfig::new("payments", "per_ip", 5, Duration::from_secs(60)), "the spec's defaults are the runtime's");
    }

    /// The witnesses a spec names come with its signing key; a build that cannot push to them
    /// refuses to open the ledger, and says which feature it needs.
    #[cfg(feature = "signing")]
    #[test]
    fn a_declared_ledger_with_witnesses_pushes_to_them_or_refuses_to_open() {
        use crate::clock::ManualClock;
        use crate::ledger::note::{NoteSigner, SignatureType};
        use crate::ledger::{Ledger, LedgerKey};
        let dir = tempfile::tempdir().unwrap();
        let signer = NoteSigner::generate("pip/payments/audit", SignatureType::Ed25519).unwrap();
        let key_file = dir.path().join("audit.signing");
        std::fs::write(&key_file, signer.to_private_text().as_bytes()).unwrap();
        let key_path = key_file.to_str().unwrap().to_string();
        let w = NoteSigner::generate("w1.example", SignatureType::CosignatureV1).unwrap().verifier().to_text();
        // Port 9 on the loopback: nothing listens, so a push fails at once.
        let witnesses = [WitnessDecl { url: "http://127.0.0.1:9/", key: &w }];
        let decl = LedgerDecl {
            name: "audit",
            checkpoint_entries: Some(10),
            checkpoint_every_millis: None,
            sync_every_append: true,
            sync_entries: None,
            sync_every_millis: None,
            expected_subsystems: &[],
            clock_tolerance_millis: 60_000,
            signing_key_env: None,
            signing_key_file: Some(&key_path),
            origin: None,
            witnesses: &witnesses,
            witness_quorum: 1,
            witness_silence_millis: 60_000,
        };
        let (signing, _) = decl.signing("payments").unwrap().unwrap();
        let w = signing.witnessing();
        assert_eq!(w.witnesses().len(), 1);
        assert_eq!(w.witnesses()[0].name(), "w1.example");
        assert_eq!(w.witnesses()[0].add_checkpoint_url(), "http://127.0.0.1:9/add-checkpoint");
        assert_eq!((w.quorum(), w.silence()), (1, Duration::from_secs(60)));
        let bad_key = [WitnessDecl { url: "http://127.0.0.1:9/", key: "w1.example+00000000+AAAA" }];
        assert!(matches!(
            LedgerDecl { witnesses: &bad_key, ..decl }.signing("payments"),
            Some(Err(crate::ledger::signed::SigningKeyError::Witness(_)))
        ));
        let config = decl.config("payments", dir.path().join("audit.ledger"));
        let opened =
            Ledger::open_signed(config, LedgerKey::generate().unwrap(), signing, std::sync::Arc::new(ManualClock::new(1_000)), None);
        #[cfg(feature = "witness")]
        opened.unwrap().0.close().unwrap();
        #[cfg(not(feature = "witness"))]
        {
            let e = opened.unwrap_err().to_string();
            assert!(e.contains("feature `witness`") && e.contains("http://127.0.0.1:9/"), "{e}");
        }
    }
}
