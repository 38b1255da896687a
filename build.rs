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
    refuse_unsupported_configurations(&arch, &os);
    // The assembly's symbols carry the crate version (`greenthread_x86_64_sysv_switch_v0_1_0`),
    // so two semver-incompatible copies of the crate link into one binary without clashing.
    let version = env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let version: String = version
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    println!("cargo::rustc-env=GREENTHREAD_ASM_VERSION={version}");
    let backend = match (arch.as_str(), os.as_str(), family.as_str()) {
        ("x86_64", "windows", _) => Some("x86_64_windows"),
        ("x86_64", _, "unix") => Some("x86_64_sysv"),
        ("aarch64", "windows", _) => None,
        ("aarch64", _, "unix") => Some("aarch64"),
        // LP64D needs the D extension; soft-float riscv64 targets are not supported.
        ("riscv64", _, "unix") if features.split(',').any(|f| f == "d") => Some("riscv64"),
        // 32-bit Arm: ARMv7-A Linux, hard-float (AAPCS-VFP), A32 state.
        ("arm", "linux", _) => Some(arm_backend(&float_abi, &features)),
        _ => None,
    };
    match backend {
        Some(b) => println!("cargo::rustc-cfg=greenthread_backend=\"{b}\""),
        None => panic!(
            "greenthread: unsupported target (arch={arch}, os={os}, family={family}, abi={float_abi}). \
             Supported: x86_64 System V (Linux, macOS, other Unix), x86_64 Windows, \
             aarch64 AAPCS64 (Linux, macOS), riscv64 LP64D (Linux), \
             32-bit Arm AAPCS-VFP (ARMv7-A Linux, hard-float: armv7-unknown-linux-gnueabihf)."
        ),
    }
}

/// Accepts the 32-bit Arm targets the `arm` backend is written for, and refuses the others
/// with the reason.
fn arm_backend(float_abi: &str, features: &str) -> &'static str {
    let has = |f: &str| features.split(',').any(|x| x == f);
    if float_abi != "eabihf" {
        panic!(
            "greenthread: 32-bit Arm targets are supported only with the hard-float ABI \
             (AAPCS-VFP, `*-gnueabihf`/`*-musleabihf`); this target's ABI is {float_abi:?} \
             (soft-float passes FP values in integer registers and has no d8-d15 to save)."
        );
    }
    if !has("v7") {
        panic!(
            "greenthread: 32-bit Arm needs ARMv7-A or later (armv6 and older targets are not \
             supported: the backend uses `movw`-era A32 instructions and `udf`)."
        );
    }
    if has("thumb-mode") {
        panic!(
            "greenthread: Thumb-2 targets (thumbv7neon-*) are not supported yet: the switch \
             computes resume addresses with `adr`, which lacks the Thumb bit in Thumb code. \
             Use armv7-unknown-linux-gnueabihf."
        );
    }
    "arm"
}

/// Configurations that would build but not run correctly: refused with the reason (issue 20).
/// `docs/ABI.md` ("Refused configurations") lists them.
fn refuse_unsupported_configurations(arch: &str, os: &str) {
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    // Every context of an OS thread would share one shadow stack, whose entries would no
    // longer match the return addresses after the first switch.
    let sanitizers = env::var("CARGO_CFG_SANITIZE").unwrap_or_default();
    if sanitizers.split(',').any(|s| s == "shadow-call-stack") {
        panic!(
            "greenthread: the shadow call stack sanitizer (-Zsanitizer=shadow-call-stack, \
             x18 on aarch64) is not supported: every green thread of an OS thread would share \
             one shadow stack. Build without it."
        );
    }
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    // `-Zname=value` or `-Z name=value`, as CARGO_ENCODED_RUSTFLAGS spells them.
    let mut zflags = Vec::new();
    let mut it = flags.split('\x1f');
    while let Some(f) = it.next() {
        if f == "-Z" {
            zflags.extend(it.next().map(str::to_string));
        } else if let Some(v) = f.strip_prefix("-Z") {
            zflags.push(v.to_string());
        }
    }
    let flag_value = |name: &str| -> Option<String> {
        let prefix = format!("{name}=");
        zflags
            .iter()
            .find_map(|f| f.strip_prefix(prefix.as_str()).map(str::to_string))
    };
    if let Some(v) = flag_value("cf-protection")
        && (v == "return" || v == "full")
    {
        panic!(
            "greenthread: Intel CET shadow stacks (-Zcf-protection={v}) are not supported: each \
             context needs its own shadow stack (map_shadow_stack + restore tokens), which the \
             switch does not manage yet. Build with -Zcf-protection=branch or none."
        );
    }
    if let Some(v) = flag_value("branch-protection")
        && v.split(',').any(|p| p == "gcs")
    {
        panic!(
            "greenthread: Arm's Guarded Control Stack (-Zbranch-protection=...,gcs) is not \
             supported: each context needs its own GCS, which the switch does not manage yet. \
             bti and pac-ret are fine."
        );
    }
    if os == "fuchsia" {
        panic!(
            "greenthread: {arch}-unknown-fuchsia is not supported: the stack-overflow report \
             needs POSIX signals with `si_addr`, which Fuchsia does not deliver (exceptions \
             go through Zircon ports)."
        );
    }
}
