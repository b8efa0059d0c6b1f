//! `bundles`: what an incident bundle of a spec must hold, `generated/bundles/<spec>.manifest.json`,
//! and the JSON Schema of that file, `generated/bundles/manifest.schema.json`.
//!
//! The `pip-bundle` crate (behind `pipc bundle` and `pipc verify-bundle`) builds a bundle from
//! exactly this list ([`bundle_files`]) and checks a bundle against it, so the spec, not the
//! tool, says what an auditor receives. The types an emitted manifest and a bundle's own
//! `manifest.json` share ([`Part`], the in-bundle paths) are defined here once: the compiler
//! cannot depend on the bundle crate, the bundle crate reads them from here.

use serde::{Deserialize, Serialize};

use super::{Artifact, EmitError, Emitter, grafana, prometheus, promtool};
use crate::ir::{self, Include, Spec};

/// Writes `bundles/<spec>.manifest.json` and the schema, only for specs with a `bundle` block.
pub const EMITTER: Emitter = Emitter { name: "bundles", dir: "bundles", emit };

/// The `manifest_version` every emitted manifest carries; the schema pins it (`"const": 1`), so
/// changing the manifest's shape means bumping both.
pub const MANIFEST_VERSION: u32 = 1;

/// The path of the schema, relative to the output directory.
pub const SCHEMA_PATH: &str = "bundles/manifest.schema.json";

/// The schema's bytes (committed beside the manifests, and emitted so that `build --check`
/// keeps it in step).
pub const SCHEMA: &str = include_str!("bundle/manifest.schema.json");

/// Name of the bundle's own manifest inside the ZIP.
pub const BUNDLE_MANIFEST: &str = "manifest.json";
/// Name of the timeline inside the ZIP.
pub const TIMELINE: &str = "timeline.html";
/// Folder of the generated artifacts inside the ZIP.
pub const GENERATED_DIR: &str = "generated/";
/// Folder of the spec sources inside the ZIP.
pub const SPEC_DIR: &str = "spec/";
/// Folder of the ledger slices inside the ZIP.
pub const LEDGER_DIR: &str = "ledger/";

/// What a file of a bundle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The bundle's own manifest (`manifest.json`): hashes of every other file, MACed.
    Manifest,
    /// A ledger slice with its checkpoints.
    Ledger,
    /// A `.pips` source of the spec, under `spec/` (see [`spec_source_path`]).
    Spec,
    /// The spec's rule file or its promtool test file, from `generated/prometheus/`.
    Rules,
    /// A generated Grafana dashboard.
    Dashboards,
    /// The spec's bundle manifest (this emitter's output).
    BundleManifest,
    /// `timeline.html`: the window's events for people, rendered by the bundle crate, not evidence.
    Timeline,
    /// `alerts.json`: the spec's alerts over the window as Prometheus recorded them. Not listed
    /// by the spec (a bundle holds it when `pipc bundle --prometheus` asked for it); bound by
    /// the bundle's manifest like every other file.
    Alerts,
}

/// One file a bundle must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleFile {
    /// Path inside the ZIP (`/`-separated, relative).
    pub path: String,
    /// Which kind of file it is, which decides how `pipc verify-bundle` checks it.
    pub part: Part,
    /// For ledger slices: the ledger's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger: Option<String>,
    /// For spec sources: the file's name as the compiler knew it (artifacts embed it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// For generated artifacts: the path below the output folder (`pipc build`'s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
}

impl BundleFile {
    fn plain(path: String, part: Part) -> BundleFile {
        BundleFile { path, part, ledger: None, source_name: None, artifact: None }
    }

    fn generated(artifact: String, part: Part) -> BundleFile {
        BundleFile { path: format!("{GENERATED_DIR}{artifact}"), part, ledger: None, source_name: None, artifact: Some(artifact) }
    }
}

/// The path of a spec's bundle manifest, relative to the output directory.
pub fn manifest_path(spec: &Spec) -> String {
    format!("bundles/{}.manifest.json", spec.name)
}

/// Where a spec source goes inside a bundle: `spec/` and its name, when that name is a plain
/// relative path; otherwise `spec/` and its last component.
pub fn spec_source_path(name: &str) -> String {
    let plain = !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && !name.contains(':')
        && name.split('/').all(|c| !c.is_empty() && c != "." && c != "..");
    if plain {
        format!("{SPEC_DIR}{name}")
    } else {
        let last = name.rsplit(['/', '\\']).find(|c| !c.is_empty() && *c != "." && *c != "..").unwrap_or("spec.pips");
        format!("{SPEC_DIR}{}", last.replace(':', "_"))
    }
}

/// Every file a bundle of `bundle` must hold, sorted by path, without duplicates.
pub fn bundle_files(spec: &Spec, bundle: &ir::Bundle) -> Vec<BundleFile> {
    let mut files = vec![
        BundleFile::plain(BUNDLE_MANIFEST.to_string(), Part::Manifest),
        BundleFile::generated(manifest_path(spec), Part::BundleManifest),
    ];
    // The spec's sources are always bundled, `include specs` or not: verifying a bundle
    // offline rebuilds from them what it must contain.
    let includes = bundle.include.iter().chain(std::iter::once(&Include::Specs));
    for inc in includes {
        match inc {
            Include::Ledger(name) => files.push(BundleFile {
                path: format!("{LEDGER_DIR}{name}.slice"),
                part: Part::Ledger,
                ledger: Some(name.clone()),
                source_name: None,
                artifact: None,
            }),
            Include::Specs => files.extend(spec.provenance.files.iter().map(|f| BundleFile {
                path: spec_source_path(&f.file),
                part: Part::Spec,
                ledger: None,
                source_name: Some(f.file.clone()),
                artifact: None,
            })),
            Include::Rules => {
                files.push(BundleFile::generated(prometheus::rules_path(spec), Part::Rules));
                files.push(BundleFile::generated(promtool::tests_path(spec), Part::Rules));
                files.extend(promtool::slo_tests_paths(spec).into_iter().map(|p| BundleFile::generated(p, Part::Rules)));
            }
            Include::Dashboards => {
                files.extend(grafana::dashboards(spec).iter().map(|d| BundleFile::generated(grafana::path(d), Part::Dashboards)));
            }
            Include::Timeline => files.push(BundleFile::plain(TIMELINE.to_string(), Part::Timeline)),
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    files
}

#[derive(Serialize)]
struct Document<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    #[serde(rename = "$comment")]
    comment: String,
    manifest_version: u32,
    spec: &'a str,
    spec_version: &'a str,
    spec_sha256: &'a str,
    compiler: &'a str,
    bundles: Vec<BundleDoc<'a>>,
}

#[derive(Serialize)]
struct BundleDoc<'a> {
    name: &'a str,
    source: String,
    window: String,
    window_ms: u64,
    max_size_bytes: u64,
    ledgers: Vec<&'a str>,
    files: Vec<BundleFile>,
}

/// The manifest of a spec with `bundle` blocks, and the schema; nothing for a spec without.
pub fn emit(spec: &Spec) -> Result<Vec<Artifact>, EmitError> {
    if spec.bundles.is_empty() {
        return Ok(Vec::new());
    }
    let path = manifest_path(spec);
    let doc = Document {
        schema: "./manifest.schema.json",
        comment: format!(
            "generated by pipc {} from {} — do not edit",
            crate::VERSION,
            spec.provenance.files.iter().map(|f| f.file.as_str()).collect::<Vec<_>>().join(", ")
        ),
        manifest_version: MANIFEST_VERSION,
        spec: &spec.name,
        spec_version: &spec.version,
        spec_sha256: &spec.provenance.sha256,
        compiler: &spec.provenance.compiler,
        bundles: spec
            .bundles
            .iter()
            .map(|b| BundleDoc {
                name: &b.name,
                source: b.source.to_string(),
                window: b.window.to_string(),
                window_ms: b.window.millis,
                max_size_bytes: b.max_size,
                ledgers: b.include.iter().filter_map(|i| if let Include::Ledger(n) = i { Some(n.as_str()) } else { None }).collect(),
                files: bundle_files(spec, b),
            })
            .collect(),
    };
    Ok(vec![
        super::json_artifact(EMITTER.name, path, &doc)?,
        Artifact { path: SCHEMA_PATH.to_string(), contents: SCHEMA.as_bytes().to_vec() },
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn spec_sources_with_odd_names_stay_inside_the_spec_folder() {
        assert_eq!(spec_source_path("specs/payments.pips"), "spec/specs/payments.pips");
        assert_eq!(spec_source_path("/etc/x.pips"), "spec/x.pips");
        assert_eq!(spec_source_path("../up/y.pips"), "spec/y.pips");
        assert_eq!(spec_source_path("C:\\w\\z.pips"), "spec/z.pips");
    }

    #[test]
    fn a_bundle_lists_every_part_it_includes() {
        let text = "spec s version \"1\" { owner = \"o\" runbook = \"https://r.example.com\" }\n\
                    ledger audit { key = env(\"K\") }\n\
                    bundle incident { window = 1h max_size = 1MiB include ledger audit, specs, rules, dashboards, timeline }\n";
        let (_, c) = crate::compile_str("s.pips", text);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let spec = &c.specs[0];
        let paths: Vec<String> = bundle_files(spec, &spec.bundles[0]).into_iter().map(|f| f.path).collect();
        assert_eq!(
            paths,
            [
                "generated/bundles/s.manifest.json",
                "generated/grafana/s.json",
                "generated/prometheus/s.rules.yml",
                "generated/prometheus/s.test.yml",
                "ledger/audit.slice",
                "manifest.json",
                "spec/s.pips",
                "timeline.html"
            ]
        );
    }

    /// A bundle that includes the rules carries every promtool test file the build writes,
    /// the SLO tiers' files too.
    #[test]
    fn a_bundle_with_rules_carries_every_test_file_of_the_spec() {
        let text = include_str!("../../../tests/fixtures/valid/every_construct.pips");
        let (_, c) = crate::compile_str("every_construct.pips", text);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let spec = &c.specs[0];
        assert!(!spec.slos.is_empty());
        let written: Vec<String> = crate::emit::emit_all(std::slice::from_ref(spec))
            .unwrap()
            .into_iter()
            .map(|a| a.path)
            .filter(|p| p.starts_with("prometheus/"))
            .map(|p| format!("generated/{p}"))
            .collect();
        let bundled: Vec<String> =
            bundle_files(spec, &spec.bundles[0]).into_iter().filter(|f| f.part == Part::Rules).map(|f| f.path).collect();
        assert!(written.iter().any(|p| p.contains(".slo_")), "{written:?}");
        assert_eq!(bundled, written);
    }
}
