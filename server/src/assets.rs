//! The site's hashed assets, compressed once when they are built rather than on every request.

use std::io::Write;
use std::path::{Path, PathBuf};

/// What [`precompress`] wrote for one file: its path and the sizes before and after.
pub struct Compressed {
    pub path: PathBuf,
    pub bytes: u64,
    pub brotli_bytes: u64,
}

/// Brotli's best quality: slow, which is why it runs at build time.
const QUALITY: u32 = 11;
const WINDOW_LOG: u32 = 22;

/// Writes `name.br` beside every script, stylesheet and wasm module in `dir`, the way the
/// asset service serves them to browsers that accept Brotli (the `.gz` beside them comes
/// from the site build, for the others).
pub fn precompress(dir: &Path) -> std::io::Result<Vec<Compressed>> {
    let mut written = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        let compressible = matches!(path.extension().and_then(|e| e.to_str()), Some("wasm" | "js" | "css"));
        if !compressible || !path.is_file() {
            continue;
        }
        let original = std::fs::read(&path)?;
        let target = PathBuf::from(format!("{}.br", path.display()));
        let partial = PathBuf::from(format!("{}.br.partial", path.display()));
        {
            let mut encoder = brotli::CompressorWriter::new(std::fs::File::create(&partial)?, 64 * 1024, QUALITY, WINDOW_LOG);
            encoder.write_all(&original)?;
            encoder.flush()?;
        }
        std::fs::rename(&partial, &target)?;
        written.push(Compressed { brotli_bytes: std::fs::metadata(&target)?.len(), bytes: original.len() as u64, path });
    }
    Ok(written)
}
