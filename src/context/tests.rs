//! Internal tests of the context layer that need private access.

use super::imp;

/// Parses the frame table out of the backend's `.s` header (`#    0x08    r15` rows) and
/// compares it with the `offset_of!` values the assembly is fed.
#[test]
fn frame_table_matches_asm_header() {
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in imp::ASM_SOURCE.lines() {
        let body = line.trim_start_matches(['#', '/', '@', ' ']).trim();
        if body.starts_with("offset") && body.contains("register") {
            in_table = true;
            continue;
        }
        if in_table {
            let mut parts = body.split_whitespace();
            match (parts.next(), parts.next()) {
                (Some(off), Some(reg)) if off.starts_with("0x") => {
                    let off = usize::from_str_radix(&off[2..], 16).unwrap();
                    rows.push((reg.to_string(), off));
                }
                _ => break,
            }
        }
    }
    let expected: Vec<(String, usize)> = imp::FRAME_TABLE
        .iter()
        .map(|&(r, o)| (r.to_string(), o))
        .collect();
    assert_eq!(
        rows, expected,
        "frame table in the .s header is out of sync"
    );
    assert!(rows.iter().all(|&(_, o)| o < imp::FRAME_SIZE));
}

/// The Mach-O twins (`arch/*_macho.s`, included on Apple targets, compile-checked only) hold
/// the same instructions and directives as the ELF files that the test suite runs, apart
/// from the Mach-O spellings: the section, and no `.type`/`.size`/`.note.GNU-stack` (symbol
/// names, with the Mach-O underscore, come from Rust). Checked on every host, whatever the
/// backend.
#[test]
fn macho_variants_match_elf() {
    const MACHO_SECTION: &str = ".pushsection __TEXT,__text,regular,pure_instructions";
    let pairs = [
        (
            "x86_64_sysv",
            include_str!("../../arch/x86_64_sysv_elf.s"),
            include_str!("../../arch/x86_64_sysv_macho.s"),
            "#",
        ),
        (
            "aarch64_aapcs",
            include_str!("../../arch/aarch64_aapcs_elf.s"),
            include_str!("../../arch/aarch64_aapcs_macho.s"),
            "//",
        ),
    ];
    for (name, elf, macho, comment) in pairs {
        let elf_code = code_lines(elf, comment);
        let macho_code = code_lines(macho, comment);
        assert!(
            macho_code.iter().any(|l| l == MACHO_SECTION),
            "{name}: the Mach-O file must use {MACHO_SECTION:?}"
        );
        assert!(
            !macho_code.iter().any(|l| l.starts_with(".type")
                || l.starts_with(".size")
                || l.contains(".note.GNU-stack")
                || l.contains("%progbits")),
            "{name}: ELF-only directive in the Mach-O file"
        );
        let strip = |lines: Vec<String>| -> Vec<String> {
            lines
                .into_iter()
                .filter(|l| {
                    !(l.starts_with(".type")
                        || l.starts_with(".size")
                        || l.starts_with(".pushsection")
                        || l.starts_with(".popsection"))
                })
                .collect()
        };
        // Symbol names come from Rust as `sym` operands (versioned, and with the Mach-O
        // underscore added by the compiler): no code line may spell one out.
        for (file, code) in [("elf", &elf_code), ("macho", &macho_code)] {
            assert!(
                code.iter()
                    .filter(|l| !l.starts_with(".pushsection"))
                    .all(|l| !l.contains("greenthread_")),
                "{name} ({file}): a routine name is spelled out instead of a `sym` operand"
            );
        }
        assert_eq!(
            strip(elf_code),
            strip(macho_code),
            "{name}: arch/{name}_macho.s has drifted from arch/{name}_elf.s"
        );
    }
}

/// The non-empty lines of an assembly file with comments removed and whitespace trimmed.
fn code_lines(src: &str, comment: &str) -> Vec<String> {
    src.lines()
        .map(|l| l.split(comment).next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}
