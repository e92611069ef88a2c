//! Which files of a crate extend a type with inherent `impl` blocks, read with `syn`.
//!
//! Used to keep the service object (`XkmsService`) from growing back into "one object
//! that sees everything": operations are functions over narrow contexts, and only the
//! composition root may add methods to the object.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// Every `.rs` file under `src` (relative to `src`, with `/` separators) that holds an
/// inherent `impl <type_name>` block, at any depth (inline modules, function bodies).
pub fn files_extending(src: &Path, type_name: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for file in rust_files(src) {
        let text = std::fs::read_to_string(&file).unwrap();
        let parsed = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut finder = InherentImpls {
            type_name,
            found: false,
        };
        finder.visit_file(&parsed);
        if finder.found {
            let relative = file.strip_prefix(src).unwrap();
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.insert(parts.join("/"));
        }
    }
    out
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

struct InherentImpls<'a> {
    type_name: &'a str,
    found: bool,
}

impl<'ast> Visit<'ast> for InherentImpls<'_> {
    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        if item.trait_.is_none()
            && let syn::Type::Path(path) = &*item.self_ty
            && path
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident == self.type_name)
        {
            self.found = true;
        }
        syn::visit::visit_item_impl(self, item);
    }
}
