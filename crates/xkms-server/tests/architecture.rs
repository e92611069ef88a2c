//! ARCHITECTURE.md and the workspace agree: the crate table names exactly the crates,
//! each crate depends on exactly the internal crates its row allows, the bottom crates
//! stay free of runtimes and drivers, no crate has a module cycle, and the service object
//! is extended only where the allowlist says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "architecture/modules.rs"]
mod modules;
#[path = "architecture/service_object.rs"]
mod service_object;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The crate table of ARCHITECTURE.md: crate → the internal crates it may depend on
/// (the backticked names of the last column; `—` for none).
fn table() -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).unwrap();
    doc.lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|row| {
            let name = row.split('`').next()?;
            if !name.starts_with("xkms-") {
                return None;
            }
            let allowed = row.trim_end().trim_end_matches('|').rsplit('|').next()?;
            let allowed = allowed
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect();
            Some((name.to_owned(), allowed))
        })
        .collect()
}

/// Every crate of the workspace with the names of its normal dependencies (all targets;
/// dev-dependencies aside).
fn crates() -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(workspace().join("crates")).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let toml: toml::Table = text.parse().unwrap();
        let name = toml["package"]["name"].as_str().unwrap().to_owned();
        let mut dependencies = BTreeSet::new();
        let mut tables = vec![toml.get("dependencies")];
        if let Some(targets) = toml.get("target").and_then(|t| t.as_table()) {
            tables.extend(targets.values().map(|t| t.get("dependencies")));
        }
        for table in tables.into_iter().flatten() {
            dependencies.extend(table.as_table().unwrap().keys().cloned());
        }
        out.insert(name, dependencies);
    }
    out
}

#[test]
fn architecture_table_matches_the_workspace() {
    let named: BTreeSet<String> = table().into_keys().collect();
    let present: BTreeSet<String> = crates().into_keys().collect();
    assert!(!named.is_empty());
    assert_eq!(named, present, "ARCHITECTURE.md crate table vs crates/");
}

#[test]
fn every_crate_depends_on_exactly_the_crates_its_row_allows() {
    let table = table();
    let mut wrong = Vec::new();
    for (name, dependencies) in crates() {
        let internal: BTreeSet<String> = dependencies
            .into_iter()
            .filter(|d| d.starts_with("xkms-"))
            .collect();
        let allowed = &table[&name];
        if &internal != allowed {
            wrong.push(format!(
                "{name}: depends on {internal:?}, ARCHITECTURE.md allows {allowed:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_bottom_crates_use_no_runtime_and_no_driver() {
    let crates = crates();
    for name in ["xkms-proto", "xkms-xmlsec", "xkms-ca"] {
        for forbidden in ["tokio", "axum", "hyper", "reqwest", "sqlx"] {
            assert!(
                !crates[name].contains(forbidden),
                "{name} depends on {forbidden}"
            );
        }
    }
}

#[test]
fn only_the_store_talks_sql() {
    for (name, dependencies) in crates() {
        assert_eq!(
            dependencies.contains("sqlx"),
            name == "xkms-store",
            "{name} and sqlx"
        );
    }
}

#[test]
fn no_crate_has_a_module_cycle() {
    let mut report = Vec::new();
    for name in crates().keys() {
        let src = workspace().join("crates").join(name).join("src");
        let roots = ["lib.rs", "main.rs"].map(|f| src.join(f));
        let mut cycles = Vec::new();
        for root in roots.iter().filter(|r| r.exists()) {
            cycles.extend(modules::ModuleGraph::read(root).unwrap().cycles());
        }
        if !cycles.is_empty() {
            report.push(format!(
                "{name}:\n  {}",
                cycles
                    .iter()
                    .map(|c| c.join("\n  "))
                    .collect::<Vec<_>>()
                    .join("\n  --\n  ")
            ));
        }
    }
    assert!(report.is_empty(), "module cycles:\n{}", report.join("\n"));
}

/// The checker itself: a cycle between siblings is found, nested ones too, and a child
/// naming its parent (or a parent its child) is not a cycle.
#[test]
fn the_cycle_checker_finds_cycles_and_only_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "mod a; mod b; mod c; pub use a::A;");
    write("a.rs", "pub struct A; fn f() -> crate::b::B { todo!() }");
    write(
        "b.rs",
        "pub struct B; mod inner { fn g() { let _ = super::super::c::C; } }",
    );
    write(
        "c/mod.rs",
        "pub struct C; mod d; #[cfg(test)] mod tests { use crate::a::A; }",
    );
    write(
        "c/d.rs",
        "use super::C; fn h() { format!(\"{:?}\", crate::c::C); }",
    );
    let graph = modules::ModuleGraph::read(&dir.path().join("lib.rs")).unwrap();
    assert!(graph.cycles().is_empty(), "{:?}", graph.cycles());

    write("c/d.rs", "use crate::{a::A as _, c::C};");
    let cycles = modules::ModuleGraph::read(&dir.path().join("lib.rs"))
        .unwrap()
        .cycles();
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    let cycle = cycles[0].join("\n");
    for edge in ["a -> b", "b -> c", "c -> a"] {
        assert!(cycle.contains(edge), "{edge} in {cycle}");
    }
}

/// fuzz/ is its own workspace (docs/FUZZING.md): it links libFuzzer and is built only with
/// coverage instrumentation, so the root workspace must never pick it up (a `cargo build
/// --workspace` would try to link it), and it must not become a row of the crate table.
#[test]
fn the_fuzz_crate_stays_outside_the_workspace() {
    let root: toml::Table = std::fs::read_to_string(workspace().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let members: Vec<&str> = root["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(
        members,
        ["crates/*"],
        "workspace members changed: keep fuzz/ out"
    );
    let excluded = root["workspace"].get("exclude");
    assert!(excluded.is_none() || !members.iter().any(|m| m.starts_with("fuzz")));

    let fuzz: toml::Table = std::fs::read_to_string(workspace().join("fuzz/Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        fuzz.get("workspace")
            .is_some_and(|w| w.as_table().is_some_and(|t| t.is_empty())),
        "fuzz/Cargo.toml must declare its own empty [workspace]"
    );
    assert!(
        workspace().join("fuzz/Cargo.lock").is_file(),
        "fuzz/Cargo.lock is committed (builds are --locked)"
    );
    let name = fuzz["package"]["name"].as_str().unwrap();
    assert!(!crates().contains_key(name));
    assert!(
        !table().contains_key(name),
        "the fuzz crate is not a row of the crate table"
    );
}

/// The files of xkms-service that may add methods to `XkmsService` (issue 12): only the
/// composition root (`service.rs`: builds each context — the pipeline's, asynchronous
/// processing's, every operation's — and holds the public façade). Never grow this
/// list: a new operation is a function over its own context (see ARCHITECTURE.md,
/// "Where do I change X").
const EXTENDS_THE_SERVICE_OBJECT: &[&str] = &["service.rs"];

#[test]
fn only_the_composition_root_extends_the_service_object() {
    let src = workspace().join("crates/xkms-service/src");
    let found = service_object::files_extending(&src, "XkmsService");
    let allowed: BTreeSet<String> = EXTENDS_THE_SERVICE_OBJECT
        .iter()
        .map(|f| (*f).to_owned())
        .collect();
    let added: Vec<&String> = found.difference(&allowed).collect();
    assert!(
        added.is_empty(),
        "these files add `impl XkmsService` blocks: write the operation as a function over \
         a context built in service.rs instead: {added:?}"
    );
    let converted: Vec<&String> = allowed.difference(&found).collect();
    assert!(
        converted.is_empty(),
        "these files no longer extend XkmsService: remove them from the allowlist: {converted:?}"
    );
}

/// The reader itself: inherent impls are found at any depth, trait impls and other types
/// are not.
#[test]
fn the_service_object_reader_finds_inherent_impls_only() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "service.rs",
        "pub struct XkmsService; impl XkmsService { fn a(&self) {} }",
    );
    write(
        "op/nested.rs",
        "mod inner { impl crate::service::XkmsService { fn b(&self) {} } }",
    );
    write(
        "traits.rs",
        "impl Default for XkmsService { fn default() -> Self { todo!() } }",
    );
    write(
        "other.rs",
        "struct Locator; impl Locator { fn c(&self) {} }",
    );
    let found = service_object::files_extending(dir.path(), "XkmsService");
    let expected: BTreeSet<String> = ["op/nested.rs", "service.rs"].map(str::to_owned).into();
    assert_eq!(found, expected);
}
