//! Picks exactly one context-switch backend for the target and exposes it as
//! `cfg(greenthread_backend = "...")`. Assembling happens in `src/context/`, not here.

use std::env;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let family = env::var("CARGO_CFG_TARGET_FAMILY").unwrap_or_default();
    let float_abi = env::var("CARGO_CFG_TARGET_ABI").unwrap_or_default();
    let features = env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let backend = match (arch.as_str(), os.as_str(), family.as_str()) {
        ("x86_64", "windows", _) => Some("x86_64_windows"),
        ("x86_64", _, "unix") => Some("x86_64_sysv"),
        ("aarch64", "windows", _) => None,
        ("aarch64", _, "unix") => Some("aarch64"),
        // LP64D needs the D extension; soft-float riscv64 targets are not supported.
        ("riscv64", _, "unix") if features.split(',').any(|f| f == "d") => Some("riscv64"),
        _ => None,
    };
    match backend {
        Some(b) => println!("cargo::rustc-cfg=greenthread_backend=\"{b}\""),
        None => panic!(
            "greenthread: unsupported target (arch={arch}, os={os}, family={family}, abi={float_abi}). \
             Supported: x86_64 System V (Linux, macOS, other Unix), x86_64 Windows, \
             aarch64 AAPCS64 (Linux, macOS), riscv64 LP64D (Linux)."
        ),
    }
}
