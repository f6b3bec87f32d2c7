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

/// docs/API.md, read as text.
fn api_doc() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/API.md")).unwrap()
}

/// One of every `ApiError`; the match below stops compiling when a variant
/// is added, so the list cannot fall behind.
fn every_api_error() -> Vec<wxauth::error::ApiError> {
    use wxauth::error::ApiError as E;
    let all = vec![
        E::InvalidRequest(String::new()),
        E::PayloadTooLarge { limit: 1 },
        E::InvalidCode,
        E::CodeUsed,
        E::PlatformRateLimited,
        E::ClientRateLimited { retry_after: 1 },
        E::UnknownApp(String::new()),
        E::UnsupportedPlatform("QQ"),
        E::InvalidState(String::new()),
        E::UnsupportedMediaType,
        E::UserBlocked,
        E::UpstreamError,
        E::UpstreamUnavailable,
        E::Overloaded,
        E::InvalidToken { token_sent: true },
        E::SessionExpired,
        E::DecryptFailed(String::new()),
        E::NotFound,
        E::MethodNotAllowed { allow: "GET" },
        E::Internal,
    ];
    for error in &all {
        match error {
            E::InvalidRequest(_)
            | E::PayloadTooLarge { .. }
            | E::InvalidCode
            | E::CodeUsed
            | E::PlatformRateLimited
            | E::ClientRateLimited { .. }
            | E::UnknownApp(_)
            | E::UnsupportedPlatform(_)
            | E::InvalidState(_)
            | E::UnsupportedMediaType
            | E::UserBlocked
            | E::UpstreamError
            | E::UpstreamUnavailable
            | E::Overloaded
            | E::InvalidToken { .. }
            | E::SessionExpired
            | E::DecryptFailed(_)
            | E::NotFound
            | E::MethodNotAllowed { .. }
            | E::Internal => {}
        }
    }
    all
}

#[test]
fn every_error_code_is_in_the_api_doc_with_its_status() {
    let doc = api_doc();
    for error in every_api_error() {
        let row = error.problem_type();
        let line = format!("| `{}` | {} |", row.code, row.status.as_u16());
        assert!(doc.contains(&line), "docs/API.md lacks the row {line}");
    }
}

#[test]
fn every_variable_of_serve_help_is_in_the_api_doc() {
    use clap::CommandFactory as _;
    let doc = api_doc();
    let command = wxauth::config::Settings::command();
    let variables: Vec<String> = command
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .collect();
    assert!(variables.len() > 20, "{variables:?}");
    for variable in variables {
        assert!(
            doc.contains(&format!("`{variable}`")),
            "docs/API.md does not document {variable}"
        );
    }
}

/// Module -> the modules its `Uses:` line in docs/ARCHITECTURE.md names,
/// for every code-map section about one top-level module.
fn claimed_uses() -> BTreeMap<String, BTreeSet<String>> {
    let map =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ARCHITECTURE.md"))
            .unwrap();
    let mut claims = BTreeMap::new();
    for section in map.split("\n### ").skip(1) {
        let heading = section.lines().next().unwrap_or_default();
        let Some(module) = heading
            .strip_prefix("`src/")
            .and_then(|rest| rest.split('`').next())
            .map(|path| path.trim_end_matches('/').trim_end_matches(".rs"))
            .filter(|_| heading.matches('`').count() == 2)
        else {
            continue;
        };
        // The `Uses:` sentence, which may wrap over lines.
        let text = section.replace('\n', " ");
        let Some(uses) = text
            .split("Uses: ")
            .nth(1)
            .and_then(|rest| rest.split('.').next())
        else {
            continue;
        };
        let names: BTreeSet<String> = uses
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        claims.insert(module.to_owned(), names);
    }
    claims
}

#[test]
fn the_architecture_map_says_who_uses_whom_truly() {
    let graph = edges();
    let claims = claimed_uses();
    // Every module of the graph has a section with a `Uses:` line.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules: BTreeSet<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|entry| {
            entry
                .unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned()
        })
        .filter(|name| name != "main" && name != "lib")
        .collect();
    modules.extend(graph.keys().cloned());
    for module in modules {
        let actual = graph.get(&module).cloned().unwrap_or_default();
        let claimed = claims
            .get(&module)
            .unwrap_or_else(|| panic!("docs/ARCHITECTURE.md has no `Uses:` line for src/{module}"));
        assert_eq!(
            claimed, &actual,
            "docs/ARCHITECTURE.md's `Uses:` line of src/{module} is not what it imports"
        );
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
