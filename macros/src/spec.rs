//! Finding and reading the specs, once per compiler process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use pip_frontend::diagnostics::{Style, render_human};
use pip_frontend::load::{self, Checked, SpecsError};

/// The specs of one folder, or why they cannot be used.
pub struct Loaded {
    /// The specs folder [`specs_dir`] found: this cache's key, and the folder error messages name.
    pub dir: PathBuf,
    /// The checked specs, or why there are none: the read error or the rendered errors.
    pub checked: Result<Checked, String>,
    /// Every spec file: its name below the specs folder (as the IR names it) and its
    /// absolute path (for `include_bytes!`).
    pub files: Vec<(String, PathBuf)>,
}

static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<Loaded>>>> = OnceLock::new();

/// The environment variable that overrides where specs are read from (a folder, relative to
/// the crate's manifest or absolute): for builds whose crate is not where its specs are,
/// e.g. generated projects. The expansion names it in `option_env!`, so cargo rebuilds when
/// it changes.
pub const SPECS_ENV: &str = "PIP_SPECS";

/// The specs folder of the crate being compiled: `$PIP_SPECS`, else
/// `[package.metadata.pip] specs`, else the nearest `specs/` folder at or above the manifest.
pub fn specs_dir() -> Result<PathBuf, String> {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).ok_or("CARGO_MANIFEST_DIR is not set; build with cargo")?;
    if let Some(dir) = std::env::var_os(SPECS_ENV).filter(|d| !d.is_empty()) {
        let dir = manifest.join(dir);
        return if dir.is_dir() { Ok(dir) } else { Err(format!("{SPECS_ENV}={}: not a folder", dir.display())) };
    }
    if let Some(dir) = metadata_dir(&manifest)? {
        return Ok(dir);
    }
    manifest.ancestors().map(|d| d.join("specs")).find(|d| d.is_dir()).ok_or_else(|| {
        format!("no `specs/` folder in {} or its parents; add `[package.metadata.pip] specs = \"path\"` to Cargo.toml", manifest.display())
    })
}

/// `[package.metadata.pip] specs = "..."`, relative to the manifest.
fn metadata_dir(manifest: &Path) -> Result<Option<PathBuf>, String> {
    let path = manifest.join("Cargo.toml");
    // A manifest is read like a spec: only a regular file, and no more than any manifest needs.
    let text = match pip_frontend::source::read_regular(&path, 1 << 20) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| format!("cannot read {}: it is not UTF-8", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let table: toml::Table = toml::from_str(&text).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let specs = table.get("package").and_then(|p| p.get("metadata")).and_then(|m| m.get("pip")).and_then(|p| p.get("specs"));
    match specs {
        None => Ok(None),
        Some(toml::Value::String(s)) => {
            let dir = manifest.join(s);
            if dir.is_dir() {
                Ok(Some(dir))
            } else {
                Err(format!("[package.metadata.pip] specs = \"{s}\": {} is not a folder", dir.display()))
            }
        }
        Some(_) => Err("[package.metadata.pip] specs must be a string (a folder relative to Cargo.toml)".into()),
    }
}

/// The checked specs of `dir`, read once per process.
pub fn load(dir: &Path) -> Arc<Loaded> {
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut guard = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(l) = guard.get(dir) {
        return Arc::clone(l);
    }
    let loaded = Arc::new(read(dir));
    guard.insert(dir.to_path_buf(), Arc::clone(&loaded));
    loaded
}

/// The errors of specs that do not check, each led by its `file:line:column`: the
/// narrated form (the front end as the macro builds it has no graphical renderer) names the
/// file and lines only in passing, and a compiler message should say where to look first.
fn render_errors(checked: &Checked) -> String {
    checked
        .errors()
        .map(|d| {
            let text = render_human(&checked.sources, std::slice::from_ref(d), STYLE);
            match checked.location(d) {
                Some(at) => format!("{at}: {text}"),
                None => text,
            }
        })
        .collect()
}

/// How spec errors are rendered into a `compile_error!`: no color or box drawing, which a
/// compiler message would show as escape codes.
const STYLE: Style = Style { color: false, unicode: false, width: 100 };

fn read(dir: &Path) -> Loaded {
    let checked = match load::load(&[dir.to_path_buf()]) {
        Ok(checked) => Ok(checked),
        Err(SpecsError::Read(e)) => Err(e.to_string()),
        Err(SpecsError::Invalid(checked)) => Err(render_errors(&checked)),
    };
    let files = match &checked {
        Ok(c) => c
            .sources
            .iter()
            .map(|(_, f)| (f.spec_path.clone(), std::fs::canonicalize(&f.path).unwrap_or_else(|_| f.path.clone())))
            .collect(),
        Err(_) => Vec::new(),
    };
    Loaded { dir: dir.to_path_buf(), checked, files }
}
