//! The crate's layering, checked on its source files:
//!
//! - the protocol and sandbox layers (`acme`, `dns01`, `plugins`) and the
//!   small shared modules below them never reach up into `cli` or `engine`;
//!   the exit-code table lives in `cli` only;
//! - no two files depend on each other, directly or through others.
//!
//! A file depends on another when it names one of its items by path
//! (`use crate::a::b::…`, `super::x::…`, or a path in code). A `mod.rs`
//! re-exporting its own children is their facade, not a dependency of its
//! own. Test modules (`#[cfg(test)]` to the end of a file) are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`acme::jws`, `cli`, `` for the crate root) → source text.
fn modules() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let module = module_of(&src, &path);
                if let Some(module) = module {
                    let text = std::fs::read_to_string(&path).unwrap();
                    out.insert(module, strip_tests(&text));
                }
            }
        }
    }
    out
}

fn module_of(src: &Path, path: &Path) -> Option<String> {
    let rel: PathBuf = path.strip_prefix(src).ok()?.to_path_buf();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop()?;
    match file.as_str() {
        "main.rs" => return None,
        "lib.rs" | "mod.rs" => {}
        other => parts.push(other.trim_end_matches(".rs").to_string()),
    }
    Some(parts.join("::"))
}

/// The text up to the first `#[cfg(test)]` item, comments removed.
fn strip_tests(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        // A trailing comment (`x; // …`), not a URL in a string.
        let code = match line.find(" //") {
            Some(at) => &line[..at],
            None => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// Every path the text names that starts with `crate::`, `super::` or, in a
/// `use` statement, a child module: each as a list of segments.
fn paths(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    // `use` statements (at the start of a line), brace groups expanded.
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let body = trimmed
            .strip_prefix("pub ")
            .or_else(|| trimmed.strip_prefix("pub(crate) "))
            .or_else(|| trimmed.strip_prefix("pub(super) "))
            .unwrap_or(trimmed);
        if let Some(tree) = body.strip_prefix("use ") {
            let start = offset + (line.len() - tree.len());
            if let Some(end) = text[start..].find(';') {
                expand(&text[start..start + end], &mut Vec::new(), &mut out);
            }
        }
        offset += line.len();
    }
    // Paths in code: `crate::a::b`, `super::a`.
    for start in ["crate::", "super::"] {
        let mut rest = text;
        while let Some(at) = find_word(rest, start) {
            let tail = &rest[at..];
            let len = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            out.push(
                tail[..len]
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            );
            rest = &tail[len..];
        }
    }
    out
}

/// Where `word` starts as a whole word.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text[from..].find(word) {
        let at = from + i;
        let before = text[..at].chars().next_back();
        if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// Expands `a::{b, c::{d, e}}` into `[a,b]`, `[a,c,d]`, `[a,c,e]`.
fn expand(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head: Vec<String> = tree[..open]
            .split("::")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let close = tree.rfind('}').filter(|c| *c > open).unwrap_or(tree.len());
        let inner = &tree[open + 1..close];
        let depth_before = prefix.len();
        prefix.extend(head);
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&inner[start..i], prefix, out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&inner[start..], prefix, out);
        prefix.truncate(depth_before);
    } else if !tree.is_empty() {
        let mut path = prefix.clone();
        let tree = tree.split(" as ").next().unwrap_or(tree);
        path.extend(
            tree.split("::")
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
        );
        out.push(path);
    }
}

/// The file module a path from `from` names (the longest known prefix).
fn resolve(
    from: &str,
    path: &[String],
    known: &BTreeMap<String, String>,
    is_dir_module: bool,
) -> Option<String> {
    let mut base: Vec<String> = if from.is_empty() {
        Vec::new()
    } else {
        from.split("::").map(str::to_string).collect()
    };
    // `super` in a mod.rs (or lib.rs) is the parent of the directory module;
    // in a plain file it is the directory the file sits in.
    let mut segments = path.iter().peekable();
    match segments.peek().map(|s| s.as_str()) {
        Some("crate") => {
            base.clear();
            segments.next();
        }
        Some("super") => {
            while segments.peek().map(|s| s.as_str()) == Some("super") {
                base.pop();
                segments.next();
            }
        }
        Some("self") => {
            segments.next();
            if !is_dir_module {
                base.pop();
            }
        }
        Some(first) => {
            // A `use` of a child module from a directory module, e.g.
            // `pub use runtime::Plugin` in plugins/mod.rs; anything else
            // (std, other crates) is not ours.
            let child = if base.is_empty() {
                first.to_string()
            } else {
                format!("{}::{first}", base.join("::"))
            };
            if !(is_dir_module && known.contains_key(&child)) {
                return None;
            }
        }
        None => return None,
    }
    let mut best = None;
    let mut current = base;
    if known.contains_key(&current.join("::")) {
        best = Some(current.join("::"));
    }
    for s in segments {
        current.push(s.clone());
        if known.contains_key(&current.join("::")) {
            best = Some(current.join("::"));
        }
    }
    best
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let known = modules();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &known {
        let file = if module.is_empty() {
            src.join("lib.rs")
        } else {
            src.join(module.replace("::", "/") + ".rs")
        };
        let is_dir_module = !file.exists();
        let deps = graph.entry(module.clone()).or_default();
        for path in paths(text) {
            let Some(target) = resolve(module, &path, &known, is_dir_module) else {
                continue;
            };
            // A directory module re-exporting its descendants is their facade.
            let descendant = module.is_empty() || target.starts_with(&format!("{module}::"));
            if target != *module && !descendant {
                deps.insert(target);
            }
        }
    }
    graph
}

fn name(module: &str) -> &str {
    if module.is_empty() { "lib" } else { module }
}

#[test]
fn lower_layers_never_reach_up() {
    let graph = graph();
    let lower = [
        "acme",
        "dns01",
        "plugins",
        "workspace",
        "names",
        "duration",
        "error",
        "fsx",
    ];
    let upper = ["cli", "engine", "exit"];
    let mut bad = Vec::new();
    for (from, deps) in &graph {
        let top = from.split("::").next().unwrap_or_default();
        if !lower.contains(&top) {
            continue;
        }
        for to in deps {
            let to_top = to.split("::").next().unwrap_or_default();
            if upper.contains(&to_top) {
                bad.push(format!("{} -> {}", name(from), name(to)));
            }
        }
    }
    assert!(bad.is_empty(), "lower layers reach up: {bad:#?}");
}

#[test]
fn no_import_cycles_between_files() {
    let graph = graph();
    // Tarjan's strongly connected components.
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        next: usize,
        cycles: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.graph.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[w].min(s.low[v]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.index[w].min(s.low[v]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(name(w).to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.cycles.push(component);
            }
        }
    }
    let mut state = State {
        graph: &graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        cycles: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    assert!(
        state.cycles.is_empty(),
        "files that depend on each other: {:#?}",
        state.cycles
    );
}

#[test]
fn the_checker_sees_what_it_must() {
    let mut out = Vec::new();
    expand(
        "super::{error::{Error, Result}, jws::b64 as b}",
        &mut Vec::new(),
        &mut out,
    );
    assert_eq!(
        out,
        [
            vec!["super", "error", "Error"],
            vec!["super", "error", "Result"],
            vec!["super", "jws", "b64"],
        ]
    );
    let known: BTreeMap<String, String> = ["", "acme", "acme::jws", "acme::keys", "cli"]
        .into_iter()
        .map(|m| (m.to_string(), String::new()))
        .collect();
    let p = |s: &str| s.split("::").map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        resolve("acme::keys", &p("super::jws::Jwk"), &known, false).as_deref(),
        Some("acme::jws")
    );
    assert_eq!(
        resolve("acme::keys", &p("crate::cli::main"), &known, false).as_deref(),
        Some("cli")
    );
    assert_eq!(
        resolve("acme", &p("jws::b64"), &known, true).as_deref(),
        Some("acme::jws")
    );
    assert_eq!(resolve("acme::keys", &p("std::fmt"), &known, false), None);
    assert_eq!(
        paths(&strip_tests(
            "let x = crate::acme::jws::b64(&d); // crate::cli\n#[cfg(test)]\nuse crate::cli;\n"
        )),
        [p("crate::acme::jws::b64")]
    );
}
