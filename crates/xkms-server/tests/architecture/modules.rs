//! The module graph of a crate, read from its sources with `syn`: which module names which.
//!
//! A module refers to another when it names it by a `crate::`, `super::` or `self::` path
//! (in a `use`, in an expression or type, or in a macro's tokens). References between a
//! module and its own ancestors or descendants are the module tree itself and are not
//! edges; any other reference becomes an edge between the two siblings under the common
//! ancestor (`crate::a::x` naming `crate::b::y` is the edge `a → b`). Test code
//! (`#[cfg(test)]` items and modules) is left out: it may look anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A module's path below the crate root (`[]` is the root).
pub type ModulePath = Vec<String>;

/// The modules of one crate root (`lib.rs` or `main.rs`) and the edges between siblings.
#[derive(Debug, Default)]
pub struct ModuleGraph {
    modules: BTreeSet<ModulePath>,
    /// Edge → one place that makes it (`file: path`).
    edges: BTreeMap<(ModulePath, ModulePath), String>,
}

impl ModuleGraph {
    /// Reads the crate whose root file is `root` (following `mod` declarations).
    pub fn read(root: &Path) -> Result<ModuleGraph, String> {
        let mut loaded = Vec::new();
        load(root, true, Vec::new(), &mut loaded)?;
        let mut graph = ModuleGraph {
            modules: loaded.iter().map(|m| m.path.clone()).collect(),
            ..ModuleGraph::default()
        };
        for module in &loaded {
            let mut refs = References::default();
            for item in &module.items {
                refs.visit_item(item);
            }
            for path in refs.paths {
                graph.add_reference(module, &path);
            }
        }
        Ok(graph)
    }

    /// Every cycle (strongly connected set of sibling modules), each with the edges that
    /// make it, as readable lines.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        strongly_connected(&self.modules, &self.edges)
            .into_iter()
            .filter(|set| set.len() > 1)
            .map(|set| {
                self.edges
                    .iter()
                    .filter(|((from, to), _)| set.contains(from) && set.contains(to))
                    .map(|((from, to), at)| format!("{} -> {} ({at})", show(from), show(to)))
                    .collect()
            })
            .collect()
    }

    fn add_reference(&mut self, module: &Loaded, path: &[String]) {
        let Some(absolute) = absolute(&module.path, path) else {
            return;
        };
        let target = (0..=absolute.len())
            .rev()
            .map(|n| absolute[..n].to_vec())
            .find(|prefix| self.modules.contains(prefix))
            .unwrap_or_default();
        let from = &module.path;
        if target.starts_with(from) || from.starts_with(&target) {
            return;
        }
        let common = from.iter().zip(&target).take_while(|(a, b)| a == b).count();
        let edge = (from[..=common].to_vec(), target[..=common].to_vec());
        self.edges
            .entry(edge)
            .or_insert_with(|| format!("{}: {}", module.file.display(), path.join("::")));
    }
}

fn show(path: &ModulePath) -> String {
    if path.is_empty() {
        "crate".into()
    } else {
        path.join("::")
    }
}

/// A module with the items that belong to it (not those of its child modules).
struct Loaded {
    path: ModulePath,
    file: PathBuf,
    items: Vec<syn::Item>,
}

/// Loads the module in `file` and, recursively, its children. `owns_dir`: the file is a
/// crate root or a `mod.rs`, whose children live beside it (else in a folder named after it).
fn load(
    file: &Path,
    owns_dir: bool,
    path: ModulePath,
    out: &mut Vec<Loaded>,
) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let parsed = syn::parse_file(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let here = file.parent().unwrap_or(Path::new("."));
    let children_dir = if owns_dir {
        here.to_owned()
    } else {
        here.join(file.file_stem().unwrap_or_default())
    };
    load_items(file, here, &children_dir, path, parsed.items, out)
}

fn load_items(
    file: &Path,
    here: &Path,
    children_dir: &Path,
    path: ModulePath,
    items: Vec<syn::Item>,
    out: &mut Vec<Loaded>,
) -> Result<(), String> {
    let mut own = Vec::new();
    for item in items {
        if is_test_only(item_attrs(&item)) {
            continue;
        }
        let syn::Item::Mod(module) = item else {
            own.push(item);
            continue;
        };
        let name = module.ident.to_string();
        let mut child_path = path.clone();
        child_path.push(name.clone());
        match module.content {
            Some((_, inner)) => load_items(
                file,
                here,
                &children_dir.join(&name),
                child_path,
                inner,
                out,
            )?,
            None => {
                let (child, owns_dir) = match path_attribute(&module.attrs) {
                    // As rustc does: a file named by `#[path]` owns its directory
                    // (its children live beside it, whatever its name).
                    Some(explicit) => (here.join(explicit), true),
                    None => module_file(children_dir, &name)?,
                };
                load(&child, owns_dir, child_path, out)?;
            }
        }
    }
    out.push(Loaded {
        path,
        file: file.to_owned(),
        items: own,
    });
    Ok(())
}

fn module_file(dir: &Path, name: &str) -> Result<(PathBuf, bool), String> {
    let flat = dir.join(format!("{name}.rs"));
    if flat.exists() {
        return Ok((flat, false));
    }
    let nested = dir.join(name).join("mod.rs");
    if nested.exists() {
        return Ok((nested, true));
    }
    Err(format!(
        "module {name}: neither {} nor {}",
        flat.display(),
        nested.display()
    ))
}

fn path_attribute(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| match &a.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

/// `#[cfg(test)]` (alone; `cfg(any(test, …))` is not test-only).
fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Ident>()
                .is_ok_and(|ident| ident == "test")
    })
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// `path` (starting with `crate`, `super` or `self`) as seen from `module`, from the root.
fn absolute(module: &[String], path: &[String]) -> Option<ModulePath> {
    let mut segments = path.iter().peekable();
    let mut out: ModulePath = match segments.peek().map(|s| s.as_str()) {
        Some("crate") => {
            segments.next();
            Vec::new()
        }
        Some("super" | "self") => module.to_vec(),
        _ => return None,
    };
    while let Some(segment) = segments.peek() {
        match segment.as_str() {
            "super" => {
                out.pop()?;
            }
            "self" => {}
            _ => break,
        }
        segments.next();
    }
    out.extend(segments.cloned());
    Some(out)
}

/// Every path a module's items name, as segments.
#[derive(Default)]
struct References {
    paths: Vec<Vec<String>>,
}

impl<'ast> Visit<'ast> for References {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_test_only(item_attrs(item)) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        use_paths(&item.tree, &mut Vec::new(), &mut self.paths);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.paths
            .push(path.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        token_paths(mac.tokens.clone(), &mut self.paths);
    }
}

fn use_paths(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_paths(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) if n.ident == "self" => out.push(prefix.clone()),
        syn::UseTree::Name(n) => out.push([prefix.as_slice(), &[n.ident.to_string()]].concat()),
        syn::UseTree::Rename(r) => out.push([prefix.as_slice(), &[r.ident.to_string()]].concat()),
        syn::UseTree::Glob(_) => out.push(prefix.clone()),
        syn::UseTree::Group(g) => {
            for tree in &g.items {
                use_paths(tree, prefix, out);
            }
        }
    }
}

/// `crate::a::b`-like sequences in macro tokens (`format!`, `tracing::info!`, …).
fn token_paths(tokens: proc_macro2::TokenStream, out: &mut Vec<Vec<String>>) {
    use proc_macro2::TokenTree;
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Group(g) => token_paths(g.stream(), out),
            TokenTree::Ident(id)
                if ["crate", "super", "self"].contains(&id.to_string().as_str()) =>
            {
                let mut path = vec![id.to_string()];
                let mut j = i + 1;
                while let (
                    Some(TokenTree::Punct(a)),
                    Some(TokenTree::Punct(b)),
                    Some(TokenTree::Ident(next)),
                ) = (tokens.get(j), tokens.get(j + 1), tokens.get(j + 2))
                {
                    if a.as_char() != ':' || b.as_char() != ':' {
                        break;
                    }
                    path.push(next.to_string());
                    j += 3;
                }
                if path.len() > 1 {
                    out.push(path);
                }
                i = j - 1;
            }
            _ => {}
        }
        i += 1;
    }
}

/// Tarjan's strongly connected components.
fn strongly_connected(
    nodes: &BTreeSet<ModulePath>,
    edges: &BTreeMap<(ModulePath, ModulePath), String>,
) -> Vec<BTreeSet<ModulePath>> {
    struct State<'a> {
        next: BTreeMap<&'a ModulePath, Vec<&'a ModulePath>>,
        index: BTreeMap<&'a ModulePath, usize>,
        low: BTreeMap<&'a ModulePath, usize>,
        stack: Vec<&'a ModulePath>,
        on_stack: BTreeSet<&'a ModulePath>,
        out: Vec<BTreeSet<ModulePath>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a ModulePath) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.next.get(v).cloned().unwrap_or_default() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut set = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                set.insert(w.clone());
                if w == v {
                    break;
                }
            }
            s.out.push(set);
        }
    }
    let mut state = State {
        next: BTreeMap::new(),
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for (from, to) in edges.keys() {
        state.next.entry(from).or_default().push(to);
    }
    let all: BTreeSet<&ModulePath> = nodes
        .iter()
        .chain(edges.keys().flat_map(|(a, b)| [a, b]))
        .collect();
    for v in all {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.out
}
