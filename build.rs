//! Rebuilds when a case changes: the binary carries `cases/` (include_dir), and a new case file is no source file
//! cargo would notice otherwise.
fn main() {
    println!("cargo:rerun-if-changed=cases");
}
