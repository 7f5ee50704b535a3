//! The one CSV writer of the product (the audit export; the bulk actions' skipped rows and
//! the import's report write through it too): UTF-8 with a byte-order mark so spreadsheets
//! read accents, CRLF lines, quoting by the `csv` crate, and every cell a spreadsheet would
//! take for a formula neutralised.

use shared::AppError;

/// Writes rows into chunks of bytes, a streamed response's pieces.
pub struct CsvOut {
    writer: csv::Writer<Vec<u8>>,
}

impl CsvOut {
    /// A file starting with the byte-order mark and `header`.
    pub fn with_header(header: &[&str]) -> Result<CsvOut, AppError> {
        let mut out = CsvOut { writer: csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(b"\xEF\xBB\xBF".to_vec()) };
        out.row(header)?;
        Ok(out)
    }

    /// Continues a file whose header went out in an earlier chunk.
    pub fn continuing() -> CsvOut {
        CsvOut { writer: csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new()) }
    }

    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) -> Result<(), AppError> {
        let cells = cells.iter().map(|cell| neutralise(cell.as_ref()).into_owned());
        self.writer.write_record(cells).map_err(|error| super::error::internal("csv write", error))
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Result<Vec<u8>, AppError> {
        self.writer.into_inner().map_err(|error| super::error::internal("csv flush", error.into_error()))
    }
}

/// A cell a spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return: OWASP's CSV injection list) gets a leading apostrophe, which spreadsheets
/// show as text and do not evaluate. Text from invitees (names) and admins reaches these files.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_quoting_is_the_crates() {
        let mut out = CsvOut::with_header(&["name", "note"]).unwrap();
        out.row(&["=HYPERLINK(\"http://evil.example\")", "+1"]).unwrap();
        out.row(&["-2", "@SUM(A1)"]).unwrap();
        out.row(&["\tx", "\rx"]).unwrap();
        out.row(&["Zoë, \"Z\"", "a\nb"]).unwrap();
        let text = String::from_utf8(out.into_bytes().unwrap()).unwrap();
        assert_eq!(
            text,
            "\u{feff}name,note\r\n\"'=HYPERLINK(\"\"http://evil.example\"\")\",'+1\r\n'-2,'@SUM(A1)\r\n'\tx,\"'\rx\"\r\n\"Zoë, \"\"Z\"\"\",\"a\nb\"\r\n"
        );
    }

    #[test]
    fn a_continuing_chunk_has_no_mark() {
        let mut out = CsvOut::continuing();
        out.row(&["a"]).unwrap();
        assert_eq!(out.into_bytes().unwrap(), b"a\r\n");
    }
}
