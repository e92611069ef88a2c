//! The name search of the operator's inventory queries ([`InventoryStore`], implemented
//! in `shared/inventory.rs`).
//!
//! Listing is an operator's tool, not a request path: a name search is a substring match
//! over KeyNames and UseKeyWith identifiers (a scan, bounded by the limit it returns).
//!
//! [`InventoryStore`]: xkms_service::store::InventoryStore

/// `text` as a case-insensitive `LIKE … ESCAPE '\'` pattern matching any value that
/// contains it: the pattern characters `%` and `_` (and the escape) stand for themselves.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_like_wildcards() {
        assert_eq!(contains_pattern("Joe"), "%joe%");
        assert_eq!(contains_pattern("a_b%c\\"), "%a\\_b\\%c\\\\%");
    }
}
