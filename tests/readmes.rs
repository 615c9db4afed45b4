//! The English and the Chinese README give the same commands and flags, so neither drifts:
//! the same two first commands, every command line of one's code blocks in the other, every
//! `--flag` of one in the other, as many sections, and each linked from the other's first lines.

use std::collections::BTreeSet;
use std::path::Path;

fn read(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The command lines of the code blocks (indented or fenced), without their comments and with
/// single spaces: what a reader copies into a shell.
fn commands(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !(fenced || line.starts_with("    ")) {
            continue;
        }
        let code = line.split(" #").next().unwrap_or("").trim();
        let words: Vec<&str> = code.split_whitespace().collect();
        let command = words
            .iter()
            .position(|w| *w == "fatelab" || *w == "cargo" || *w == "scripts/test")
            .filter(|&i| {
                words[..i]
                    .iter()
                    .all(|w| *w == "sudo" || *w == "-E" || w.contains('='))
            });
        if command.is_some() {
            out.push(words.join(" "));
        }
    }
    out
}

fn flags(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 2 < bytes.len() {
        let starts = bytes[i] == b'-'
            && bytes[i + 1] == b'-'
            && bytes[i + 2].is_ascii_lowercase()
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'-'));
        if starts {
            let end = (i + 2..bytes.len())
                .find(|&j| {
                    !(bytes[j].is_ascii_lowercase()
                        || bytes[j].is_ascii_digit()
                        || bytes[j] == b'-')
                })
                .unwrap_or(bytes.len());
            out.insert(text[i..end].trim_end_matches('-').to_string());
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

fn sections(text: &str) -> usize {
    text.lines().filter(|l| l.starts_with("## ")).count()
}

#[test]
fn both_readmes_give_the_same_commands_and_flags() {
    let en = read("README.md");
    let zh = read("README.zh-CN.md");

    let (en_commands, zh_commands) = (commands(&en), commands(&zh));
    assert_eq!(
        en_commands[..2],
        zh_commands[..2],
        "both begin with the same two commands"
    );
    assert!(
        en_commands[0].contains("up --local") && en_commands[1] == "scripts/test",
        "{:?}",
        &en_commands[..2]
    );
    // CI runs exactly the README's test command.
    let ci = read(".ci/run");
    assert!(
        ci.lines()
            .any(|l| l.trim() == format!("bash {}", en_commands[1])),
        ".ci/run does not run `{}`:\n{ci}",
        en_commands[1]
    );
    for (from, to, missing_in) in [
        (&en_commands, &zh_commands, "README.zh-CN.md"),
        (&zh_commands, &en_commands, "README.md"),
    ] {
        let missing: Vec<&String> = from.iter().filter(|c| !to.contains(c)).collect();
        assert!(
            missing.is_empty(),
            "{missing_in} lacks these command lines: {missing:#?}"
        );
    }

    let (en_flags, zh_flags) = (flags(&en), flags(&zh));
    assert!(
        en_flags.contains("--dry-run") && en_flags.contains("--local") && en_flags.len() > 30,
        "{en_flags:?}"
    );
    let only_en: Vec<&String> = en_flags.difference(&zh_flags).collect();
    let only_zh: Vec<&String> = zh_flags.difference(&en_flags).collect();
    assert!(
        only_en.is_empty() && only_zh.is_empty(),
        "flags only in README.md: {only_en:?}; only in README.zh-CN.md: {only_zh:?}"
    );

    assert_eq!(
        sections(&en),
        sections(&zh),
        "the same sections (## headings)"
    );

    for (text, other) in [(&en, "README.zh-CN.md"), (&zh, "README.md")] {
        let head: String = text.lines().take(8).collect::<Vec<_>>().join("\n");
        assert!(
            head.contains(&format!("({other})")),
            "no link to {other} in:\n{head}"
        );
    }
}

/// The Chinese README maps every step of the tutorial to fatelab's step and flag.
#[test]
fn the_chinese_readme_maps_every_tutorial_step() {
    let zh = read("README.zh-CN.md");
    let table: Vec<&str> = zh
        .lines()
        .skip_while(|l| !l.starts_with("## 从教程到 fatelab"))
        .take_while(|l| !l.starts_with("## `up --dry-run`"))
        .filter(|l| l.starts_with('|'))
        .collect();
    for step in [
        "安装 kubectl",
        "安装 MiniKube",
        "启用 Ingress",
        "部署 KubeFATE 服务",
        "添加 hosts",
        "创建命名空间",
        "准备集群配置文件",
        "`kubefate cluster install",
        "验证",
    ] {
        let row = table
            .iter()
            .find(|r| r.trim_start_matches("| ").starts_with(step))
            .unwrap_or_else(|| panic!("no row for {step} in:\n{}", table.join("\n")));
        let cells: Vec<&str> = row.split(" | ").collect();
        assert_eq!(cells.len(), 3, "{row}");
        assert!(
            cells[1].chars().next().is_some_and(|c| c.is_ascii_digit())
                || cells[1].starts_with("不需要"),
            "{step}: the second cell names the `up` step: {row}"
        );
    }
}
