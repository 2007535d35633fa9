//! The `strachey` command line.
//!
//! Exit statuses (documented in the README and `--help`):
//! - `(v << 1) | 1`: the guest wrote `v` to the debug-exit port (odd values);
//! - 0: the built-in demo finished as expected;
//! - 2: bad usage or bad input (missing ROM, bad flag), with a one-line error;
//! - 4: triple fault with `--no-reboot`;
//! - 6: the CPU halted where nothing can wake it (e.g. `cli; hlt`);
//! - 8: `--timeout` expired;
//! - 10: host failure while running.

#![forbid(unsafe_code)]

mod cli;
mod console;
#[cfg(feature = "gui")]
mod window;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::main() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("strachey: {e}");
            ExitCode::from(cli::EXIT_USAGE)
        }
    }
}
