//! `wasmon:check@0.1.0`'s `files`, frozen: served by the newest implementation.

use crate::runtime::HostState;
use crate::runtime::bindings::newest as new;
use crate::runtime::bindings::v0_1::wasmon::check as old;

impl old::files::Host for HostState {
    fn read(&mut self, paths: Vec<String>) -> Vec<Result<Vec<u8>, String>> {
        new::files::Host::read(self, paths)
    }

    fn read_matching(
        &mut self,
        pattern: String,
        max_bytes: u32,
    ) -> Result<Vec<old::files::MatchedFile>, String> {
        let found = new::files::Host::read_matching(self, pattern, max_bytes)?;
        Ok(found
            .into_iter()
            .map(|f| old::files::MatchedFile {
                path: f.path,
                content: f.content,
            })
            .collect())
    }
}
