//! The crate's import structure, read from the source text: the layers `src/lib.rs` declares
//! are imported one way, the clients are leaves, and no two modules import each other in a
//! circle (a module and its own ancestors aside: a child uses its parent, which declares it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir` with its module path (`steps/parties/mod.rs` → steps::parties).
fn modules(dir: &Path) -> BTreeMap<Module, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(dir).unwrap().with_extension("");
            let mut parts: Module = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            out.insert(
                parts,
                strip_comments(&std::fs::read_to_string(&path).unwrap()),
            );
        }
    }
    out
}

/// The text without comments and string literals, so only code names modules.
fn strip_comments(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            i = text[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
        } else if b[i] == b'"' && !(i > 0 && b[i - 1] == b'\'') {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i..].starts_with(b"r#\"") {
            i = text[i + 3..].find("\"#").map_or(b.len(), |e| i + 3 + e + 2);
            out.push_str("\"\"");
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The paths a use-tree names: `a::b::{c, d::{e, f}}` → a::b::c, a::b::d::e, a::b::d::f.
fn paths(tree: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    let mut path = prefix.to_vec();
    let mut rest = tree;
    loop {
        rest = rest.trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..matching_brace(group)];
            for item in split_top(inner) {
                paths(item, &path, out);
            }
            return;
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let ident = &rest[..end];
        if !ident.is_empty() && ident != "self" {
            path.push(ident.to_string());
        }
        rest = &rest[end..];
        match rest.strip_prefix("::") {
            Some(r) => rest = r,
            None => break,
        }
    }
    out.push(path);
}

fn matching_brace(s: &str) -> usize {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    s.len()
}

fn split_top(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// The inline modules of a file's text (`mod tests { ... }`): each one's name and byte range.
fn inline_modules(text: &str) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    for (start, _) in text.match_indices("mod ") {
        if start > 0 && text[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &text[start + 4..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let after = rest[name.len()..].trim_start();
        if name.is_empty() || !after.starts_with('{') {
            continue;
        }
        let open = text.len() - after.len();
        let end = open + 1 + matching_brace(&text[open + 1..]);
        out.push((name, open, end));
    }
    out
}

/// The module a file names through `crate::` and `super::` paths: (from, to) between files.
fn edges(mods: &BTreeMap<Module, String>) -> BTreeSet<(Module, Module)> {
    let mut out = BTreeSet::new();
    for (me, text) in mods {
        let inline = inline_modules(text);
        for (start, _) in text
            .match_indices("crate::")
            .chain(text.match_indices("super::"))
        {
            // `x::crate::` or `super::super::` (read with the first `super`) start no path here;
            // `$crate::` does.
            let before = text[..start].chars().next_back().unwrap_or(' ');
            if before.is_alphanumeric() || before == '_' || before == ':' {
                continue;
            }
            // The module the code here is in: the file's, and the inline modules around it.
            let mut here = me.clone();
            here.extend(
                inline
                    .iter()
                    .filter(|(_, a, b)| *a < start && start < *b)
                    .map(|(n, _, _)| n.clone()),
            );
            let is_super = text[start..].starts_with("super::");
            let mut base = if is_super {
                here[..here.len().saturating_sub(1)].to_vec()
            } else {
                Vec::new()
            };
            let mut rest = &text[start + "crate::".len()..];
            while is_super && rest.starts_with("super::") {
                base.pop();
                rest = &rest["super::".len()..];
            }
            let mut named = Vec::new();
            paths(take_tree(rest), &base, &mut named);
            for path in named {
                if let Some(to) = resolve(mods, &path)
                    && &to != me
                {
                    out.insert((me.clone(), to));
                }
            }
        }
    }
    out
}

/// The use-tree at the start of `s`: up to the first character that cannot continue a path.
fn take_tree(s: &str) -> &str {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return &s[..i],
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &s[..=i];
                }
            }
            c if depth > 0 => {
                let _ = c;
            }
            c if c.is_alphanumeric() || c == '_' || c == ':' => {}
            _ => return &s[..i],
        }
    }
    s
}

/// The longest prefix of `path` that is a module of the crate.
fn resolve(mods: &BTreeMap<Module, String>, path: &[String]) -> Option<Module> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|m| mods.contains_key(m))
}

fn is_ancestor(a: &Module, b: &Module) -> bool {
    a.len() < b.len() && b[..a.len()] == a[..]
}

fn shown(m: &Module) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// The declared order: each group of areas, bottom up.
fn declared_layers() -> Vec<Vec<String>> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let line = lib
        .lines()
        .find_map(|l| {
            l.trim_start_matches("//!")
                .trim()
                .strip_prefix("Layers, bottom up:")
        })
        .expect("src/lib.rs declares its layers on a line `//! Layers, bottom up: a b < c < ...`");
    line.split('<')
        .map(|g| g.split_whitespace().map(String::from).collect())
        .collect()
}

#[test]
fn the_layers_import_one_way() {
    let mods = modules(&src());
    let layers = declared_layers();
    let level = |area: &str| layers.iter().position(|g| g.iter().any(|a| a == area));
    let mut wrong = Vec::new();
    for area in mods.keys().filter_map(|m| m.first()) {
        assert!(
            level(area).is_some() || area == "main",
            "src/{area} is in no layer of src/lib.rs"
        );
    }
    for (from, to) in edges(&mods) {
        let (Some(a), Some(b)) = (from.first(), to.first()) else {
            continue;
        };
        if a == b || a == "main" {
            continue;
        }
        let (la, lb) = (level(a).unwrap(), level(b).unwrap());
        if lb >= la {
            wrong.push(format!("{} imports {}", shown(&from), shown(&to)));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers of src/lib.rs:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn clients_are_leaves() {
    let mods = modules(&src());
    let mut leaks = Vec::new();
    for (from, to) in edges(&mods) {
        if from.first().map(String::as_str) != Some("clients") || from.len() < 2 {
            continue;
        }
        let own = to.len() >= 2 && to[..2] == from[..2];
        let transport = to.len() >= 2 && to[0] == "clients" && to[1] == "transport";
        let secret = to == ["secret"];
        if !(own || transport || secret) {
            leaks.push(format!("{} imports {}", shown(&from), shown(&to)));
        }
    }
    assert!(
        leaks.is_empty(),
        "a client imports only crates, `clients::transport` and `secret`:\n  {}",
        leaks.join("\n  ")
    );
}

#[test]
fn no_modules_import_each_other_in_a_circle() {
    let mods = modules(&src());
    let graph: BTreeMap<Module, Vec<Module>> = edges(&mods)
        .into_iter()
        .filter(|(a, b)| !is_ancestor(a, b) && !is_ancestor(b, a))
        .fold(BTreeMap::new(), |mut g, (a, b)| {
            g.entry(a).or_default().push(b);
            g
        });
    let cycles = strongly_connected(&graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| c.iter().map(shown).collect::<Vec<_>>().join(" ↔ "))
        .collect::<Vec<_>>();
    assert!(
        cycles.is_empty(),
        "modules that import each other in a circle:\n  {}",
        cycles.join("\n  ")
    );
}

/// Tarjan's strongly connected components.
fn strongly_connected(graph: &BTreeMap<Module, Vec<Module>>) -> Vec<Vec<Module>> {
    struct State<'a> {
        graph: &'a BTreeMap<Module, Vec<Module>>,
        index: BTreeMap<Module, usize>,
        low: BTreeMap<Module, usize>,
        stack: Vec<Module>,
        on: BTreeSet<Module>,
        out: Vec<Vec<Module>>,
    }
    fn visit(s: &mut State, v: &Module) {
        let i = s.index.len();
        s.index.insert(v.clone(), i);
        s.low.insert(v.clone(), i);
        s.stack.push(v.clone());
        s.on.insert(v.clone());
        for w in s.graph.get(v).cloned().unwrap_or_default() {
            if !s.index.contains_key(&w) {
                visit(s, &w);
                let lw = s.low[&w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on.contains(&w) {
                let iw = s.index[&w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on.remove(&w);
                comp.push(w.clone());
                if &w == v {
                    break;
                }
            }
            s.out.push(comp);
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    let nodes: BTreeSet<Module> = graph
        .iter()
        .flat_map(|(a, bs)| std::iter::once(a.clone()).chain(bs.iter().cloned()))
        .collect();
    for v in &nodes {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn the_reader_sees_what_it_must() {
    // The checks above are only as good as this reader: it must find each form of path.
    let mut mods = BTreeMap::new();
    for m in [
        vec!["a"],
        vec!["b"],
        vec!["b", "c"],
        vec!["d"],
        vec!["e"],
        vec!["f"],
    ] {
        mods.insert(
            m.iter().map(|s| s.to_string()).collect::<Module>(),
            String::new(),
        );
    }
    let text = strip_comments(
        "use crate::{b::c::{X, Y}, d};\n// crate::e is only a comment\nfn g() { super::super::f::h(); let s = \"crate::e\"; }\nmod tests { use super::*; }\n",
    );
    mods.insert(vec!["a".to_string(), "z".to_string()], text);
    let found: Vec<String> = edges(&mods)
        .into_iter()
        .map(|(a, b)| format!("{}->{}", shown(&a), shown(&b)))
        .collect();
    assert_eq!(found, ["a::z->b::c", "a::z->d", "a::z->f"], "{found:?}");
}
