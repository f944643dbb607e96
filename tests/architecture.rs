//! The shape DESIGN.md promises, held by a test: the core stays pure (no files,
//! network, async runtime, terminal or logging, and nothing of ours but
//! itself), and the crate's top-level modules import one another without a
//! circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The code of a file without its comments (doc comments name crates freely).
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| match l.find("//") {
            // `//` inside a string ("http://…") cuts the rest of that line only.
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Identifier-bounded occurrences of `word` followed by `::` in `text`.
fn mentions(text: &str, word: &str) -> bool {
    let pat = format!("{word}::");
    text.match_indices(&pat).any(|(i, _)| {
        i == 0 || {
            let prev = text.as_bytes()[i - 1];
            !(prev.is_ascii_alphanumeric() || prev == b'_')
        }
    })
}

#[test]
fn the_core_touches_no_files_network_runtime_terminal_or_logs() {
    let forbidden = [
        "tokio",
        "reqwest",
        "hyper",
        "ratatui",
        "crossterm",
        "tracing",
        "notify_rust",
    ];
    let mut found = Vec::new();
    for file in sources(Path::new("src/core")) {
        let text = code(&file);
        for word in forbidden {
            if mentions(&text, word) {
                found.push(format!("{}: uses {word}", file.display()));
            }
        }
        for std_mod in ["std::fs", "std::net", "std::process"] {
            if text.contains(std_mod) {
                found.push(format!("{}: uses {std_mod}", file.display()));
            }
        }
        for (i, _) in text.match_indices("crate::") {
            let rest = &text[i + "crate::".len()..];
            if !rest.starts_with("core") && !rest.starts_with('{') {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                found.push(format!("{}: depends on crate::{name}", file.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the core must stay pure:\n{}",
        found.join("\n")
    );
}

/// The top-level modules `text` (in module `top`) names.
fn deps_of(text: &str, top: &str) -> BTreeSet<String> {
    let mut deps = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let names: Vec<String> = if let Some(group) = rest.strip_prefix('{') {
            group
                .split('}')
                .next()
                .unwrap_or_default()
                .split(',')
                .filter_map(|s| s.trim().split("::").next().map(str::to_string))
                .collect()
        } else {
            vec![
                rest.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect(),
            ]
        };
        deps.extend(names.into_iter().filter(|n| !n.is_empty() && n != top));
    }
    deps
}

/// Top-level module → the top-level modules it names (`crate::x`, `use crate::{x, y}`).
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in sources(Path::new("src")) {
        let rel = file.strip_prefix("src").unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let text = code(&file);
        // Tests may reach anywhere.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        let deps = deps_of(text, &top);
        graph.entry(top).or_default().extend(deps);
    }
    graph
}

/// A circle in `graph`, if there is one, as the path that closes it.
fn find_circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut circle = path[i..].to_vec();
            circle.push(n.to_string());
            return Some(circle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for d in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(d, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn top_level_modules_import_each_other_without_a_circle() {
    let graph = module_graph();
    assert!(
        graph.contains_key("core") && graph.contains_key("app"),
        "{graph:?}"
    );
    if let Some(circle) = find_circle(&graph) {
        panic!("import circle: {}", circle.join(" → "));
    }
    // The core depends on nothing of ours.
    assert!(
        graph["core"].is_empty(),
        "core depends on {:?}",
        graph["core"]
    );
}

#[test]
fn the_checks_see_what_they_look_for() {
    // Guards against checks that can never fail.
    assert!(mentions("x tokio::spawn", "tokio"));
    assert!(!mentions("mytokio::spawn", "tokio"));
    let deps = deps_of(
        "use crate::{a::X, b};\nfn f() { crate::c::g(); crate::me::h() }",
        "me",
    );
    assert_eq!(deps.into_iter().collect::<Vec<_>>(), ["a", "b", "c"]);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let edge = |g: &mut BTreeMap<String, BTreeSet<String>>, a: &str, b: &str| {
        g.entry(a.into()).or_default().insert(b.into());
    };
    edge(&mut g, "tui", "runtime");
    edge(&mut g, "runtime", "app");
    assert_eq!(find_circle(&g), None);
    edge(&mut g, "app", "tui");
    let circle = find_circle(&g).unwrap();
    assert_eq!(circle.first(), circle.last());
    assert_eq!(circle.len(), 4, "{circle:?}");
}
