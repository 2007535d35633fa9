//! `cfg(bt_host)`: the translator's runtime is built (an x86-64 Linux host,
//! unless the `unsupported-host` feature asks for the build other hosts get,
//! so that it can be checked here).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(bt_host)");
    println!("cargo::rerun-if-changed=build.rs");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let forced = std::env::var_os("CARGO_FEATURE_UNSUPPORTED_HOST").is_some();
    if arch == "x86_64" && os == "linux" && !forced {
        println!("cargo::rustc-cfg=bt_host");
    }
}
