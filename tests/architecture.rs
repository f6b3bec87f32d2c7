//! The shape of the code (docs/ARCHITECTURE.md): no cycle between the
//! top-level modules. Reads the sources as text: every `crate::<module>`
//! outside comments and tests is an edge.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)] // test code

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Top-level module -> the top-level modules it names.
fn edges() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "main" || module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        for line in code.lines().map(str::trim).filter(|l| !l.starts_with("//")) {
            for (at, _) in line.match_indices("crate::") {
                let name: String = line[at + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    graph.entry(module.clone()).or_default().insert(name);
                }
            }
        }
    }
    graph
}

/// A cycle through `start`, if there is one.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_owned(), vec![start.to_owned()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(next.clone());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let graph = edges();
    assert!(graph.len() > 10, "the sources were read: {graph:?}");
    for module in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, module) {
            panic!("a dependency cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_lower_layers_never_reach_up() {
    let graph = edges();
    let upper = [
        "cli", "startup", "routes", "sim", "sessions", "guard", "error", "http",
    ];
    for lower in [
        "domain",
        "clock",
        "keyring",
        "token",
        "platform",
        "revocation",
        "apps",
    ] {
        let reaches: Vec<&String> = graph
            .get(lower)
            .into_iter()
            .flatten()
            .filter(|name| upper.contains(&name.as_str()))
            .collect();
        assert!(reaches.is_empty(), "{lower} uses {reaches:?}");
    }
}

#[test]
fn one_reloader_drives_the_watched_files_and_the_keyring_knows_no_revocation() {
    let graph = edges();
    let uses = |module: &str| graph.get(module).cloned().unwrap_or_default();
    assert!(
        !uses("keyring").contains("revocation"),
        "keyring uses {:?}",
        uses("keyring")
    );
    // The reloader drives files it knows only by their trait.
    for watched in ["keyring", "revocation", "token", "guard"] {
        assert!(
            !uses("reload").contains(watched),
            "reload uses {:?}",
            uses("reload")
        );
    }
    assert!(uses("keyring").contains("reload") && uses("revocation").contains("reload"));
}
