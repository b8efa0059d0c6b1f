//! Which witnesses a ledger pushes its signed checkpoints to, and how ([`Witnessing`]): their
//! URLs and `cosignature/v1` verifier keys (as the spec's `witness "URL" key "..."` names
//! them), the request timeout and the retry backoff. Kept in the build with feature `signing`
//! alone, so that a spec naming witnesses in a build without the pusher (feature `witness`)
//! is refused when the ledger opens instead of silently not pushing.

use std::time::Duration;

use crate::ledger::note::{NoteError, NoteVerifier, NoteVerifiers, SignatureType};

/// How long one `add-checkpoint` request may take, unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The first wait before a failed push is tried again; it doubles with each failure in a row.
pub const DEFAULT_BACKOFF_MIN: Duration = Duration::from_millis(250);
/// The longest wait between tries.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Why a witness cannot be configured.
#[derive(Debug, thiserror::Error)]
pub enum WitnessConfigError {
    /// The URL is not an absolute `http://` or `https://` URL.
    #[error("the witness URL `{0}` is not an absolute http:// or https:// URL")]
    Url(String),
    /// The key is not a verifier key.
    #[error("the key of witness `{url}` is not a verifier key: {source}")]
    Key {
        /// The witness's URL.
        url: String,
        /// Why.
        source: NoteError,
    },
    /// The key is a verifier key of another kind.
    #[error("the key `{key}` of witness `{url}` is not a cosignature/v1 key (type 0x04)")]
    NotACosigner {
        /// The witness's URL.
        url: String,
        /// The key's name.
        key: String,
    },
    /// Two witnesses have keys of the same name (the `witness` label of their series).
    #[error("two witnesses have keys named `{0}`")]
    Duplicate(String),
    /// A timeout or backoff of zero, or a backoff whose cap is below its start.
    #[error("{0}")]
    Timing(&'static str),
}

/// One witness: where it takes `add-checkpoint` requests and the key it cosigns with.
#[derive(Debug, Clone)]
pub struct WitnessTarget {
    url: String,
    verifier: NoteVerifier,
}

impl WitnessTarget {
    /// The witness at `url` (its prefix: requests go to `<url>/add-checkpoint`, with or
    /// without a trailing slash on `url`) whose cosignatures verify with `key`, a
    /// `cosignature/v1` verifier key `<name>+<hex key id>+<base64>`.
    pub fn new(url: &str, key: &str) -> Result<WitnessTarget, WitnessConfigError> {
        let verifier = NoteVerifier::parse(key).map_err(|source| WitnessConfigError::Key { url: url.to_string(), source })?;
        WitnessTarget::with_verifier(url, verifier)
    }

    /// [`WitnessTarget::new`] with a parsed key.
    pub fn with_verifier(url: &str, verifier: NoteVerifier) -> Result<WitnessTarget, WitnessConfigError> {
        let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
        if !rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/')) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(WitnessConfigError::Url(url.to_string()));
        }
        if verifier.signature_type() != SignatureType::CosignatureV1 {
            return Err(WitnessConfigError::NotACosigner { url: url.to_string(), key: verifier.name().to_string() });
        }
        Ok(WitnessTarget { url: url.to_string(), verifier })
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Where `add-checkpoint` requests go: the URL without its trailing slashes, then
    /// `/add-checkpoint`.
    pub fn add_checkpoint_url(&self) -> String {
        format!("{}/add-checkpoint", self.url.trim_end_matches('/'))
    }

    /// The key its cosignatures verify with.
    pub fn verifier(&self) -> &NoteVerifier {
        &self.verifier
    }

    /// The key's name: the `witness` label of its series.
    pub fn name(&self) -> &str {
        self.verifier.name()
    }

    /// Its key as a set of verifiers, for [`cosignatures`](super::cosignatures).
    pub fn verifiers(&self) -> Result<NoteVerifiers, NoteError> {
        NoteVerifiers::new([self.verifier.clone()])
    }
}

/// The witnesses of a ledger and how its checkpoints are pushed to them. The default has no
/// witness: nothing is pushed.
#[derive(Debug, Clone)]
pub struct Witnessing {
    witnesses: Vec<WitnessTarget>,
    quorum: u32,
    silence: Duration,
    timeout: Duration,
    backoff: (Duration, Duration),
}

impl Default for Witnessing {
    fn default() -> Witnessing {
        Witnessing {
            witnesses: Vec::new(),
            quorum: 0,
            silence: Duration::from_secs(3600),
            timeout: DEFAULT_TIMEOUT,
            backoff: (DEFAULT_BACKOFF_MIN, DEFAULT_BACKOFF_MAX),
        }
    }
}

impl Witnessing {
    /// Pushes to `witnesses` (a quorum of all of them), with the default timeout and backoff;
    /// refuses two witnesses whose keys have the same name.
    pub fn new(witnesses: Vec<WitnessTarget>) -> Result<Witnessing, WitnessConfigError> {
        for (i, w) in witnesses.iter().enumerate() {
            if witnesses.iter().take(i).any(|o| o.name() == w.name()) {
                return Err(WitnessConfigError::Duplicate(w.name().to_string()));
            }
        }
        let quorum = u32::try_from(witnesses.len()).unwrap_or(u32::MAX);
        Ok(Witnessing { witnesses, quorum, ..Witnessing::default() })
    }

    /// The cosignatures a checkpoint needs (the spec's `witness_quorum`): carried for readers
    /// of the cosigned checkpoints; the pusher pushes to every witness regardless.
    #[must_use]
    pub fn with_quorum(mut self, quorum: u32) -> Witnessing {
        self.quorum = quorum;
        self
    }

    /// How long a witness may go without cosigning before it is alerted on (the spec's
    /// `witness_silence`; the alert is generated from the spec, this is informational).
    #[must_use]
    pub fn with_silence(mut self, silence: Duration) -> Witnessing {
        self.silence = silence;
        self
    }

    /// The timeout of one request (default [`DEFAULT_TIMEOUT`]); refuses zero.
    pub fn with_timeout(mut self, timeout: Duration) -> Result<Witnessing, WitnessConfigError> {
        if timeout.is_zero() {
            return Err(WitnessConfigError::Timing("the witness request timeout must be more than zero"));
        }
        self.timeout = timeout;
        Ok(self)
    }

    /// The wait after the first failure in a row, doubled after each next one up to `max`
    /// (defaults [`DEFAULT_BACKOFF_MIN`], [`DEFAULT_BACKOFF_MAX`]); refuses a zero `min` or a
    /// `max` below `min`.
    pub fn with_backoff(mut self, min: Duration, max: Duration) -> Result<Witnessing, WitnessConfigError> {
        if min.is_zero() || max < min {
            return Err(WitnessConfigError::Timing("the witness backoff must start above zero and its cap must not be below its start"));
        }
        self.backoff = (min, max);
        Ok(self)
    }

    /// The witnesses, in the order given.
    pub fn witnesses(&self) -> &[WitnessTarget] {
        &self.witnesses
    }

    /// The quorum.
    pub fn quorum(&self) -> u32 {
        self.quorum
    }

    /// The silence after which a witness is alerted on.
    pub fn silence(&self) -> Duration {
        self.silence
    }

    /// The timeout of one request.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The first and the longest wait between tries.
    pub fn backoff(&self) -> (Duration, Duration) {
        self.backoff
    }

    /// The wait before the next try after `failures` failures in a row (at least 1).
    pub fn backoff_after(&self, failures: u32) -> Duration {
        let (min, max) = self.backoff;
        let doublings = failures.saturating_sub(1).min(31);
        min.checked_mul(1u32 << doublings).map_or(max, |d| d.min(max))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;
    use crate::ledger::note::NoteSigner;

    fn cosigner(name: &str) -> NoteVerifier {
        NoteSigner::generate(name, SignatureType::CosignatureV1).unwrap().verifier()
    }

    #[test]
    fn the_request_url_is_joined_with_or_without_a_trailing_slash() {
        for url in ["http://w.example:8080", "http://w.example:8080/", "http://w.example:8080//"] {
            let w = WitnessTarget::with_verifier(url, cosigner("w")).unwrap();
            assert_eq!(w.add_checkpoint_url(), "http://w.example:8080/add-checkpoint");
        }
        let w = WitnessTarget::with_verifier("https://w.example/prefix/", cosigner("w")).unwrap();
        assert_eq!(w.add_checkpoint_url(), "https://w.example/prefix/add-checkpoint");
    }

    #[test]
    fn a_witness_needs_an_http_url_and_a_cosignature_key() {
        for url in ["w.example", "ftp://w.example", "http://", "http:///x", "http://w .example"] {
            assert!(matches!(WitnessTarget::with_verifier(url, cosigner("w")), Err(WitnessConfigError::Url(_))), "{url}");
        }
        let plain = NoteSigner::generate("log", SignatureType::Ed25519).unwrap().verifier();
        assert!(matches!(WitnessTarget::with_verifier("http://w", plain), Err(WitnessConfigError::NotACosigner { .. })));
        assert!(matches!(WitnessTarget::new("http://w", "not a key"), Err(WitnessConfigError::Key { .. })));
        let key = cosigner("w1").to_text();
        assert_eq!(WitnessTarget::new("http://w", &key).unwrap().name(), "w1");
    }

    #[test]
    fn witnesses_with_keys_of_one_name_are_refused() {
        let a = WitnessTarget::with_verifier("http://a", cosigner("same")).unwrap();
        let b = WitnessTarget::with_verifier("http://b", cosigner("same")).unwrap();
        assert!(matches!(Witnessing::new(vec![a.clone(), b]), Err(WitnessConfigError::Duplicate(n)) if n == "same"));
        assert_eq!(Witnessing::new(vec![a]).unwrap().quorum(), 1);
    }

    #[test]
    fn the_backoff_doubles_from_its_start_up_to_its_cap() {
        let w = Witnessing::default().with_backoff(Duration::from_millis(250), Duration::from_secs(60)).unwrap();
        let waits: Vec<u128> = (1..=11).map(|n| w.backoff_after(n).as_millis()).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
        assert_eq!(w.backoff_after(u32::MAX), Duration::from_secs(60));
        assert!(Witnessing::default().with_backoff(Duration::ZERO, Duration::from_secs(1)).is_err());
        assert!(Witnessing::default().with_backoff(Duration::from_secs(2), Duration::from_secs(1)).is_err());
        assert!(Witnessing::default().with_timeout(Duration::ZERO).is_err());
    }
}
