//! Stage 3: IR → artifacts. Each emitter reads only the IR and owns one folder of
//! `generated/`; they run in the order listed in [`EMITTERS`].

pub mod bundle;
pub mod grafana;
pub mod ir_json;
pub mod prometheus;
pub mod promtool;

use crate::ir;

/// A generated file, relative to the output directory (`/`-separated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Path below the output directory, e.g. `ir/payments.json`.
    pub path: String,
    /// Exact bytes.
    pub contents: Vec<u8>,
}

/// Why an emitter failed (a bug or an impossible IR, never a spec error).
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// Serialization failed.
    #[error("emitter `{emitter}` could not serialize `{path}`: {message}")]
    Serialize {
        /// The emitter.
        emitter: &'static str,
        /// The artifact.
        path: String,
        /// The serializer's message.
        message: String,
    },
    /// The IR holds a value the emitter cannot write exactly (the checker refuses such specs).
    #[error("emitter `{emitter}` cannot write `{path}`: {message}")]
    Unrepresentable {
        /// The emitter.
        emitter: &'static str,
        /// The artifact.
        path: String,
        /// What cannot be written.
        message: String,
    },
    /// Two specs produced the same file.
    #[error("two artifacts would be written to `{0}`")]
    DuplicatePath(String),
}

/// One emitter.
pub struct Emitter {
    /// Stable name.
    pub name: &'static str,
    /// The folder of the output directory it owns.
    pub dir: &'static str,
    /// Produces the artifacts of one spec.
    pub emit: fn(&ir::Spec) -> Result<Vec<Artifact>, EmitError>,
}

/// Every emitter, in the order they run.
pub const EMITTERS: &[Emitter] = &[ir_json::EMITTER, prometheus::EMITTER, grafana::EMITTER, bundle::EMITTER];

/// `doc` as pretty-printed JSON with a final newline: the bytes of a JSON artifact.
pub(crate) fn json_artifact(emitter: &'static str, path: String, doc: &impl serde::Serialize) -> Result<Artifact, EmitError> {
    let mut contents =
        serde_json::to_vec_pretty(doc).map_err(|e| EmitError::Serialize { emitter, path: path.clone(), message: e.to_string() })?;
    contents.push(b'\n');
    Ok(Artifact { path, contents })
}

/// Runs every emitter on every spec. Artifacts come back sorted by path.
pub fn emit_all(specs: &[ir::Spec]) -> Result<Vec<Artifact>, EmitError> {
    let mut out = Vec::new();
    for e in EMITTERS {
        for spec in specs {
            out.extend((e.emit)(spec)?);
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    // A file every spec emits alike (the bundle manifest schema) is written once.
    out.dedup_by(|a, b| a.path == b.path && a.contents == b.contents);
    for pair in out.windows(2) {
        if let [a, b] = pair
            && a.path == b.path
        {
            return Err(EmitError::DuplicatePath(a.path.clone()));
        }
    }
    Ok(out)
}
