//! (not yet written)

use super::Handler;
use iced_x86::Mnemonic;

pub(super) fn lookup(_m: Mnemonic) -> Option<Handler> {
    None
}
