//! What the site build (scripts/build-site.sh) writes and the server reads: `hash.txt`
//! beside the binary, with the content hashes of the asset names, and the chunk list
//! (`split.HASH.json`). One reading of each, for the pages and for the start-up check.

use std::collections::{BTreeSet, HashMap};

/// hash.txt's `kind: hash` lines (js, wasm, css, split).
pub fn parse_hashes(text: &str) -> HashMap<String, String> {
    text.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect()
}

/// The chunk loader of a split build.
pub fn loader_name(split_hash: &str) -> String {
    format!("__wasm_split.{split_hash}.js")
}

/// The chunk list of a split build.
pub fn chunk_list_name(split_hash: &str) -> String {
    format!("split.{split_hash}.json")
}

/// The chunk list: the loader, which lazy parts are pages, and the chunks each part needs
/// (its own first).
#[derive(serde::Deserialize)]
pub struct ChunkList {
    pub loader: String,
    pub pages: Vec<String>,
    pub preloads: HashMap<String, Vec<String>>,
}

impl ChunkList {
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// Every chunk file it names, once.
    pub fn chunk_files(&self) -> BTreeSet<String> {
        self.preloads.values().flatten().map(|chunk| format!("{chunk}.wasm")).collect()
    }
}
