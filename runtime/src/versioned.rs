//! Versioned state with verified rollback (issue 6).
