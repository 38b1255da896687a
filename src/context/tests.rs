//! Internal tests of the context layer that need private access.

use super::imp;

/// Parses the frame table out of the backend's `.s` header (`#    0x08    r15` rows) and
/// compares it with the `offset_of!` values the assembly is fed.
#[test]
fn frame_table_matches_asm_header() {
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in imp::ASM_SOURCE.lines() {
        let body = line.trim_start_matches(['#', '/', ' ']).trim();
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
