//! Importing people from a CSV file: the columns, the limits, each row's verdict and the
//! preview the admin confirms. The file is parsed and judged on the server (the `csv` crate,
//! the permission rule); the verdicts, their words and what an upload refusal says live here
//! so the preview, the report and the API read the same.

use serde::{Deserialize, Serialize};

/// Rows an import holds by default (`BECKON_IMPORT_MAX_ROWS`).
pub const DEFAULT_MAX_ROWS: usize = 10_000;
/// Bytes an uploaded file may have by default (`BECKON_IMPORT_MAX_BYTES`); the one request
/// allowed past the 1 MB limit of every other.
pub const DEFAULT_MAX_BYTES: usize = 5 * 1024 * 1024;
/// Where the upload form posts (multipart: `file`, or `text` pasted).
pub const UPLOAD_PATH: &str = "/users/import";
/// The file an admin starts from.
pub const TEMPLATE_PATH: &str = "/users/import/template.csv";
/// The separator of several roles or places in one cell.
pub const LIST_SEPARATOR: char = ';';
/// The longest name a row may carry.
pub const MAX_NAME_CHARS: usize = 200;
/// A row's personal message is held to the limit of "Invite people".
pub use crate::invitations::MAX_MESSAGE_CHARS;
/// Rows per page of the preview.
pub const PREVIEW_PAGE: usize = 100;

/// The columns, by header (case-insensitive, any order); only `email` is required.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Column {
    Email,
    Name,
    Role,
    Place,
    Message,
}

impl Column {
    pub const ALL: [Column; 5] = [Column::Email, Column::Name, Column::Role, Column::Place, Column::Message];

    pub fn header(self) -> &'static str {
        match self {
            Column::Email => "email",
            Column::Name => "name",
            Column::Role => "role",
            Column::Place => "place",
            Column::Message => "message",
        }
    }

    /// The column a header cell names: `Email`, ` ROLE `, `roles` and `places` too.
    pub fn of_header(cell: &str) -> Option<Column> {
        let cell = cell.trim().to_lowercase();
        let cell = cell.strip_suffix('s').filter(|c| *c == "role" || *c == "place").unwrap_or(&cell);
        Column::ALL.into_iter().find(|c| c.header() == cell)
    }
}

/// The downloadable template: every column, and rows showing several roles in one cell and
/// one row per role.
pub const TEMPLATE: &str = "email,name,role,place,message\r\n\
ada@example.com,Ada Lovelace,Admin,,Welcome aboard\r\n\
grace@example.com,Grace Hopper,Member;Curator,Sales,\r\n\
alan@example.com,Alan Turing,Member,Sales;Research,\r\n";

/// The separators a file may use, detected from its header line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delimiter {
    Comma,
    Semicolon,
    Tab,
}

impl Delimiter {
    pub fn byte(self) -> u8 {
        match self {
            Delimiter::Comma => b',',
            Delimiter::Semicolon => b';',
            Delimiter::Tab => b'\t',
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Delimiter::Comma => "comma",
            Delimiter::Semicolon => "semicolon",
            Delimiter::Tab => "tab",
        }
    }

    pub fn parse(text: &str) -> Option<Delimiter> {
        [Delimiter::Comma, Delimiter::Semicolon, Delimiter::Tab].into_iter().find(|d| d.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            Delimiter::Comma => "Comma-separated",
            Delimiter::Semicolon => "Semicolon-separated",
            Delimiter::Tab => "Tab-separated",
        }
    }

    /// The separator of a header line: the one it holds most of, outside quotes (a header
    /// naming one column has none: comma). Spreadsheets in much of Europe write semicolons.
    pub fn detect(header_line: &str) -> Delimiter {
        let (mut quoted, mut counts) = (false, [0usize; 3]);
        for c in header_line.chars() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => counts[0] += 1,
                ';' if !quoted => counts[1] += 1,
                '\t' if !quoted => counts[2] += 1,
                _ => {}
            }
        }
        let best = [Delimiter::Comma, Delimiter::Semicolon, Delimiter::Tab].into_iter().zip(counts).max_by_key(|(d, n)| (*n, *d == Delimiter::Comma));
        best.map(|(d, _)| d).unwrap_or(Delimiter::Comma)
    }
}

/// Why an upload was refused before anything was written; carried in the address the form
/// comes back to (`?error=…&line=…`), so the page says it in its own words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UploadError {
    Empty,
    TooLarge { max_bytes: u64 },
    TooManyRows { max_rows: u64 },
    Binary,
    NotUtf8 { line: u64 },
    NoEmailColumn,
    Malformed { line: u64 },
    NoFile,
}

impl UploadError {
    pub fn message(self) -> String {
        match self {
            UploadError::Empty => "The file is empty: it needs a header line naming an email column, and a row per person.".into(),
            UploadError::TooLarge { max_bytes } => {
                format!("The file is larger than {} MB, the most an import takes. Split it into smaller files.", max_bytes.div_ceil(1024 * 1024))
            }
            UploadError::TooManyRows { max_rows } => {
                format!("The file has more than {} rows, the most an import takes. Split it into smaller files.", crate::bulk::thousands(max_rows))
            }
            UploadError::Binary => "This is not a CSV file (it holds binary data). Save the sheet as CSV (UTF-8) and upload that.".into(),
            UploadError::NotUtf8 { line } => {
                format!("Line {line} is not UTF-8 text. Save the file as \u{201c}CSV UTF-8\u{201d} and upload it again.")
            }
            UploadError::NoEmailColumn => {
                "The header line has no email column. Name the columns email, name, role, place and message (only email is required).".into()
            }
            UploadError::Malformed { line } => format!("Line {line} cannot be read as CSV (a quote opened and never closed?)."),
            UploadError::NoFile => "Choose a file, or paste the rows.".into(),
        }
    }

    pub fn to_query(self) -> String {
        match self {
            UploadError::Empty => "error=empty".into(),
            UploadError::TooLarge { max_bytes } => format!("error=too_large&n={max_bytes}"),
            UploadError::TooManyRows { max_rows } => format!("error=too_many_rows&n={max_rows}"),
            UploadError::Binary => "error=binary".into(),
            UploadError::NotUtf8 { line } => format!("error=not_utf8&n={line}"),
            UploadError::NoEmailColumn => "error=no_email_column".into(),
            UploadError::Malformed { line } => format!("error=malformed&n={line}"),
            UploadError::NoFile => "error=no_file".into(),
        }
    }

    pub fn from_query(error: &str, n: Option<u64>) -> Option<UploadError> {
        let n = n.unwrap_or(0);
        Some(match error {
            "empty" => UploadError::Empty,
            "too_large" => UploadError::TooLarge { max_bytes: n },
            "too_many_rows" => UploadError::TooManyRows { max_rows: n },
            "binary" => UploadError::Binary,
            "not_utf8" => UploadError::NotUtf8 { line: n },
            "no_email_column" => UploadError::NoEmailColumn,
            "malformed" => UploadError::Malformed { line: n },
            "no_file" => UploadError::NoFile,
            _ => return None,
        })
    }
}

/// What becomes of a row. The first two import; the rest say why not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Verdict {
    /// A new person, invited (or created Profile only).
    Invite,
    /// A person of the account invited into the roles they lack, as "Invite people" does.
    InviteExisting,
    /// Already invited, or already holding these roles: nothing changes.
    Unchanged,
    InvalidAddress,
    /// The domain looks like a typo of a common one (the detail is the suggestion): held until
    /// the admin accepts the suggestion or keeps the address as typed.
    LikelyTypo,
    NoRole,
    UnknownRole,
    /// No live place by that name (or it is archived, or several share it).
    UnknownPlace,
    /// A role the importer may not give, or that cannot be given there.
    RoleAboveYours,
    PlaceOutsideYours,
    /// The same address as an earlier row (the detail is its number); a row adding roles to
    /// it is [`Verdict::JoinsRow`].
    Duplicate,
    /// The same address as an earlier row, its roles added to that row's.
    JoinsRow,
    /// Past what the account may still send today.
    OverBudget,
    Deactivated,
    /// A name or message too long.
    TooLong,
    /// Dropped by the admin from the preview.
    Dropped,
}

impl Verdict {
    pub const ALL: [Verdict; 16] = [
        Verdict::Invite,
        Verdict::InviteExisting,
        Verdict::Unchanged,
        Verdict::InvalidAddress,
        Verdict::LikelyTypo,
        Verdict::NoRole,
        Verdict::UnknownRole,
        Verdict::UnknownPlace,
        Verdict::RoleAboveYours,
        Verdict::PlaceOutsideYours,
        Verdict::Duplicate,
        Verdict::JoinsRow,
        Verdict::OverBudget,
        Verdict::Deactivated,
        Verdict::TooLong,
        Verdict::Dropped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Invite => "invite",
            Verdict::InviteExisting => "invite_existing",
            Verdict::Unchanged => "unchanged",
            Verdict::InvalidAddress => "invalid_address",
            Verdict::LikelyTypo => "likely_typo",
            Verdict::NoRole => "no_role",
            Verdict::UnknownRole => "unknown_role",
            Verdict::UnknownPlace => "unknown_place",
            Verdict::RoleAboveYours => "role_above_yours",
            Verdict::PlaceOutsideYours => "place_outside_yours",
            Verdict::Duplicate => "duplicate",
            Verdict::JoinsRow => "joins_row",
            Verdict::OverBudget => "over_budget",
            Verdict::Deactivated => "deactivated",
            Verdict::TooLong => "too_long",
            Verdict::Dropped => "dropped",
        }
    }

    pub fn parse(text: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.as_str() == text)
    }

    /// Whether the row is imported.
    pub fn imports(self) -> bool {
        matches!(self, Verdict::Invite | Verdict::InviteExisting)
    }

    /// The filter's and the counts' words.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Invite => "Will invite",
            Verdict::InviteExisting => "Will invite into the roles they lack",
            Verdict::Unchanged => "Already invited (unchanged)",
            Verdict::InvalidAddress => "Invalid address",
            Verdict::LikelyTypo => "Likely typo",
            Verdict::NoRole => "No role",
            Verdict::UnknownRole => "Unknown role",
            Verdict::UnknownPlace => "Unknown or archived place",
            Verdict::RoleAboveYours => "Role above your rank",
            Verdict::PlaceOutsideYours => "Place outside yours",
            Verdict::Duplicate => "Duplicate",
            Verdict::JoinsRow => "Roles joined to an earlier row",
            Verdict::OverBudget => "Over the account's email budget",
            Verdict::Deactivated => "Deactivated",
            Verdict::TooLong => "Too long",
            Verdict::Dropped => "Dropped",
        }
    }

    /// The row's own sentence, with its detail: "Did you mean ada@gmail.com?".
    pub fn explain(self, detail: &str) -> String {
        match self {
            Verdict::Invite => "Will be invited.".into(),
            Verdict::InviteExisting => format!("Already in the account: will be invited into {detail}."),
            Verdict::Unchanged => format!("Nothing to do: {detail}."),
            Verdict::InvalidAddress => format!("Not a valid email address{}.", if detail.is_empty() { String::new() } else { format!(" ({detail})") }),
            Verdict::LikelyTypo => format!("Did you mean {detail}?"),
            Verdict::NoRole => "Give a role in the role column.".into(),
            Verdict::UnknownRole => format!("The account has no role called \u{201c}{detail}\u{201d}."),
            Verdict::UnknownPlace => format!("No place called \u{201c}{detail}\u{201d} (or it is archived, or several places share the name)."),
            Verdict::RoleAboveYours => format!("You cannot give this role: {detail}."),
            Verdict::PlaceOutsideYours => format!("Outside the places you administer: {detail}."),
            Verdict::Duplicate => format!("Duplicate of row {detail}."),
            Verdict::JoinsRow => format!("Same address as row {detail}: its roles are added to that row's."),
            Verdict::OverBudget => format!("The account may send {detail} more emails today; this row is past them."),
            Verdict::Deactivated => "This person is deactivated; reactivate them first.".into(),
            Verdict::TooLong => format!("Too long: {detail}."),
            Verdict::Dropped => "Dropped from the import.".into(),
        }
    }
}

/// What the import creates: people invited now, or people Profile only (invited later with
/// "Invite user to activate account", into the roles of their row).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportMode {
    SendInvites,
    ProfileOnly,
}

impl ImportMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportMode::SendInvites => "send_invites",
            ImportMode::ProfileOnly => "profile_only",
        }
    }

    pub fn parse(text: &str) -> Option<ImportMode> {
        [ImportMode::SendInvites, ImportMode::ProfileOnly].into_iter().find(|m| m.as_str() == text)
    }
}

/// Where an import is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportState {
    /// Read and judged; nothing written yet but the preview.
    Preview,
    /// Confirmed: the job stages the rows and makes them live at its end.
    Importing,
    Done,
    Failed,
}

impl ImportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportState::Preview => "preview",
            ImportState::Importing => "importing",
            ImportState::Done => "done",
            ImportState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<ImportState> {
        [ImportState::Preview, ImportState::Importing, ImportState::Done, ImportState::Failed].into_iter().find(|s| s.as_str() == text)
    }
}

impl TryFrom<String> for ImportState {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        ImportState::parse(&text).ok_or(text)
    }
}

/// What the admin may do with a row of the preview.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RowChange {
    Drop,
    Restore,
    /// Use the suggested address instead of the typed one.
    AcceptSuggestion,
    /// The typed address is right.
    KeepAsTyped,
}

impl RowChange {
    pub fn as_str(self) -> &'static str {
        match self {
            RowChange::Drop => "drop",
            RowChange::Restore => "restore",
            RowChange::AcceptSuggestion => "accept",
            RowChange::KeepAsTyped => "keep",
        }
    }

    pub fn parse(text: &str) -> Option<RowChange> {
        [RowChange::Drop, RowChange::Restore, RowChange::AcceptSuggestion, RowChange::KeepAsTyped].into_iter().find(|c| c.as_str() == text)
    }
}

/// A row of the preview.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRowView {
    /// The file's line number of the row's first line (the header is line 1).
    pub line: u64,
    pub email: String,
    pub name: String,
    pub roles: String,
    pub places: String,
    pub verdict: Verdict,
    pub detail: String,
    pub dropped: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictCount {
    pub verdict: Verdict,
    pub count: u64,
}

/// An import as its page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportView {
    pub id: String,
    pub file_name: String,
    pub delimiter: Delimiter,
    pub state: ImportState,
    pub total: u64,
    /// Per verdict, in [`Verdict::ALL`]'s order, those with rows only.
    pub counts: Vec<VerdictCount>,
    /// The rows of the page asked for (of one verdict, when filtered).
    pub rows: Vec<ImportRowView>,
    /// Rows of the filter past this page.
    pub more: bool,
    pub job_id: Option<String>,
    pub failed_because: Option<String>,
    pub mode: Option<ImportMode>,
}

impl ImportView {
    pub fn importable(&self) -> u64 {
        self.counts.iter().filter(|c| c.verdict.imports()).map(|c| c.count).sum()
    }

    pub fn href(&self) -> String {
        import_href(&self.id)
    }

    pub fn report_href(&self) -> String {
        REPORT_PATH.replace("{id}", &self.id)
    }
}

/// The rows of an import not imported, with why, as CSV (`{id}`: the import's).
pub const REPORT_PATH: &str = "/imports/{id}/report.csv";

pub fn import_href(id: &str) -> String {
    format!("/users/import/{id}")
}

/// The roles or places of a cell: `Admin; Member` as two, blanks dropped.
pub fn split_list(cell: &str) -> Vec<String> {
    cell.split(LIST_SEPARATOR).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delimiter_is_the_one_the_header_holds_most_of_outside_quotes() {
        assert_eq!(Delimiter::detect("email,name,role"), Delimiter::Comma);
        assert_eq!(Delimiter::detect("email;name;role"), Delimiter::Semicolon);
        assert_eq!(Delimiter::detect("email\tname\trole"), Delimiter::Tab);
        assert_eq!(Delimiter::detect("\"e;m;a;i;l\",name"), Delimiter::Comma);
        assert_eq!(Delimiter::detect("email"), Delimiter::Comma);
    }

    #[test]
    fn headers_are_read_case_insensitively_with_plurals() {
        assert_eq!(Column::of_header(" EMAIL "), Some(Column::Email));
        assert_eq!(Column::of_header("Roles"), Some(Column::Role));
        assert_eq!(Column::of_header("places"), Some(Column::Place));
        assert_eq!(Column::of_header("emails"), None);
        assert_eq!(Column::of_header("phone"), None);
    }

    #[test]
    fn names_round_trip() {
        for v in Verdict::ALL {
            assert_eq!(Verdict::parse(v.as_str()), Some(v));
        }
        for e in [UploadError::Empty, UploadError::NotUtf8 { line: 7 }, UploadError::TooLarge { max_bytes: 5 << 20 }, UploadError::NoEmailColumn] {
            let query = e.to_query();
            let (error, n) = match query.split_once("&n=") {
                Some((e, n)) => (e.trim_start_matches("error="), n.parse().ok()),
                None => (query.trim_start_matches("error="), None),
            };
            assert_eq!(UploadError::from_query(error, n), Some(e));
        }
        assert!(UploadError::NotUtf8 { line: 7 }.message().contains("Line 7"));
    }

    #[test]
    fn lists_split_on_semicolons() {
        assert_eq!(split_list(" Admin ; Member;;"), vec!["Admin", "Member"]);
        assert!(split_list("  ").is_empty());
    }
}
