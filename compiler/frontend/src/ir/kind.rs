//! The registry of construct kinds. One line of `construct_kinds!` declares a kind, its
//! keyword and its place in [`ConstructKind::ALL`], so the enum and the list cannot drift;
//! every stage of the compiler dispatches on [`ConstructKind`] with an exhaustive `match`, so
//! a kind that a stage does not handle is a compile error there.

use serde::Serialize;

/// Declares [`ConstructKind`] with [`ConstructKind::ALL`] and [`ConstructKind::keyword`]
/// from one `Variant => "keyword"` line per kind.
macro_rules! construct_kinds {
    ($($variant:ident => $keyword:literal,)*) => {
        /// The kinds of construct a spec can declare, one per keyword.
        // INVARIANT: the discriminants are 0..ALL.len() in `ALL`'s order (declaration order);
        // emitters index tables by `kind as usize`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ConstructKind {
            $(
                #[doc = concat!("`", $keyword, "`.")]
                $variant,
            )*
        }

        impl ConstructKind {
            /// Every kind, in the order specs, docs and generated artifacts list them.
            pub const ALL: [ConstructKind; [$($keyword),*].len()] = [$(ConstructKind::$variant),*];

            /// The keyword that introduces a construct of this kind in a spec.
            pub const fn keyword(self) -> &'static str {
                match self {
                    $(ConstructKind::$variant => $keyword,)*
                }
            }
        }
    };
}

construct_kinds! {
    Ledger => "ledger",
    Invariant => "invariant",
    RateLimit => "rate_limit",
    Threshold => "threshold",
    Slo => "slo",
    Versioned => "versioned",
    Bundle => "bundle",
    Dashboard => "dashboard",
}

impl ConstructKind {
    /// The kind a keyword introduces; `None` for `spec` and unknown words.
    pub fn from_keyword(keyword: &str) -> Option<ConstructKind> {
        ConstructKind::ALL.into_iter().find(|k| k.keyword() == keyword)
    }

    /// Whether a dashboard row can show constructs of this kind (a kind with panels).
    pub fn showable(self) -> bool {
        match self {
            ConstructKind::Ledger
            | ConstructKind::Invariant
            | ConstructKind::RateLimit
            | ConstructKind::Threshold
            | ConstructKind::Slo
            | ConstructKind::Versioned => true,
            ConstructKind::Bundle | ConstructKind::Dashboard => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ConstructKind;

    #[test]
    fn the_registry_lists_every_kind_once_in_order_under_its_keyword() {
        for (i, k) in ConstructKind::ALL.into_iter().enumerate() {
            assert_eq!(k as usize, i, "{k:?} is out of place in ConstructKind::ALL");
            assert_eq!(ConstructKind::from_keyword(k.keyword()), Some(k));
            // The IR's JSON names a kind by its keyword.
            assert_eq!(serde_json::to_value(k).ok(), Some(serde_json::Value::from(k.keyword())));
        }
        assert_eq!(ConstructKind::from_keyword("spec"), None);
    }

    #[test]
    fn dashboards_show_the_kinds_that_have_panels() {
        let shown: Vec<&str> = ConstructKind::ALL.into_iter().filter(|k| k.showable()).map(ConstructKind::keyword).collect();
        assert_eq!(shown, ["ledger", "invariant", "rate_limit", "threshold", "slo", "versioned"]);
    }
}
