//! App databases (SQLite) copied from a phone: Google Authenticator's `databases`, Microsoft
//! Authenticator's `PhoneFactor`, and the way into Stratum's `authenticator.db3` (import only).
//!
//! Read with `rusqlite` and its bundled SQLite, from memory (`sqlite3_deserialize`, read-only):
//! the file is never written to disk again and no journal or WAL file is created or read. A
//! database copied in WAL mode has header bytes 18-19 set to 2; the copy we hand SQLite says 1
//! (rollback journal), which SQLite documents as the same page format. Changes still in a
//! `-wal` file beside the copy are not seen: the hint tells users to close the app first.
//!
//! Sources: the SQLite file format (<https://www.sqlite.org/fileformat.html>). Google
//! Authenticator (Android, before 2020 the open-source `google/google-authenticator-android`
//! `AccountDb.java`): table `accounts` (`email`, `secret` base32, `counter`, `type` 0 TOTP |
//! 1 HOTP, `issuer`, `original_name`); codes are SHA-1, 6 digits, 30 s. Microsoft Authenticator
//! (`com.azure.authenticator`, as read by Aegis' `MicrosoftAuthImporter.java`): table `accounts`
//! (`name` = issuer, `username`, `oath_secret_key`, `account_type` 0 = TOTP with a base32 secret,
//! 1 = Microsoft personal account with a base64 secret and 8 digits; other types are push-only).
//!
//! Lost on import: Google's and Microsoft's ordering and icons; Microsoft push-only (work or
//! school) accounts, which have no code, are reported, not imported.

use rusqlite::{Connection, MAIN_DB, OpenFlags};

use super::{
    Collector, Format, ImportReport, ImportedAccount, TransferError, entry_location, otp_params,
    secret_base32,
};
use crate::otp::{OtpKind, Secret};

/// The first 16 bytes of every SQLite database file.
pub(crate) const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

/// Opens `bytes` as a read-only in-memory database.
pub(crate) fn open(bytes: &[u8], format: Format) -> Result<Connection, TransferError> {
    if !bytes.starts_with(SQLITE_MAGIC) || bytes.len() < 100 {
        return Err(TransferError::corrupt(format, "not an SQLite database"));
    }
    let mut copy = bytes.to_vec();
    // Bytes 18 and 19: file format write/read version, 2 = WAL. See the module docs.
    copy[18] = 1;
    copy[19] = 1;
    let fail =
        |e: rusqlite::Error| TransferError::corrupt(format, format!("unreadable database: {e}"));
    let mut conn = Connection::open_with_flags(
        ":memory:",
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(fail)?;
    conn.deserialize_read_exact(MAIN_DB, copy.as_slice(), copy.len(), true).map_err(fail)?;
    // A damaged page shows here rather than half-way through reading the rows.
    let check: String =
        conn.query_row("PRAGMA quick_check(1)", [], |row| row.get(0)).map_err(fail)?;
    if check != "ok" {
        return Err(TransferError::corrupt(format, format!("damaged database: {check}")));
    }
    Ok(conn)
}

/// Returns the column names of `table` (empty if there is no such table).
pub(crate) fn columns(conn: &Connection, table: &str) -> Vec<String> {
    let Ok(mut statement) = conn.prepare("SELECT name FROM pragma_table_info(?1)") else {
        return Vec::new();
    };
    statement
        .query_map([table], |row| row.get::<_, String>(0))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

/// Returns which app's database `bytes` is, by its tables and columns.
pub(crate) fn detect(bytes: &[u8]) -> Option<Format> {
    let conn = open(bytes, Format::GoogleDb).ok()?;
    let accounts = columns(&conn, "accounts");
    let has = |c: &str| accounts.iter().any(|a| a == c);
    if has("oath_secret_key") {
        Some(Format::Microsoft)
    } else if has("email") && has("secret") {
        Some(Format::GoogleDb)
    } else if columns(&conn, "authenticator").iter().any(|c| c == "secret") {
        Some(Format::Stratum)
    } else {
        None
    }
}

/// Checks that `table` has every column in `needed`, naming the first missing one.
pub(crate) fn require(
    conn: &Connection,
    table: &str,
    needed: &[&str],
    format: Format,
) -> Result<(), TransferError> {
    let have = columns(conn, table);
    if have.is_empty() {
        return Err(TransferError::corrupt(format, format!("no table {table:?}")));
    }
    match needed.iter().find(|n| !have.iter().any(|h| h == *n)) {
        Some(missing) => {
            Err(TransferError::corrupt(format, format!("table {table} has no column {missing}")))
        }
        None => Ok(()),
    }
}

fn sql_error(format: Format) -> impl Fn(rusqlite::Error) -> TransferError {
    move |e| TransferError::corrupt(format, format!("unreadable rows: {e}"))
}

pub(crate) fn import_google(bytes: &[u8]) -> Result<ImportReport, TransferError> {
    const FORMAT: Format = Format::GoogleDb;
    let conn = open(bytes, FORMAT)?;
    require(&conn, "accounts", &["email", "secret", "type"], FORMAT)?;
    let cols = columns(&conn, "accounts");
    let pick = |c: &str| if cols.iter().any(|h| h == c) { c.to_owned() } else { "NULL".into() };
    let sql = format!(
        "SELECT email, secret, type, {}, {}, {} FROM accounts ORDER BY rowid",
        pick("counter"),
        pick("issuer"),
        pick("isencrypted")
    );
    let mut statement = conn.prepare(&sql).map_err(sql_error(FORMAT))?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, Option<String>>(0)?.unwrap_or_default(),
                zeroize::Zeroizing::new(row.get::<_, Option<String>>(1)?.unwrap_or_default()),
                row.get::<_, Option<i64>>(2)?.unwrap_or(0),
                row.get::<_, Option<i64>>(3)?.unwrap_or(0),
                row.get::<_, Option<String>>(4)?.unwrap_or_default(),
                row.get::<_, Option<i64>>(5)?.unwrap_or(0),
            ))
        })
        .map_err(sql_error(FORMAT))?;
    let mut out = Collector::new(FORMAT);
    for (index, row) in rows.enumerate() {
        let (email, secret, kind, counter, issuer, encrypted) = row.map_err(sql_error(FORMAT))?;
        let (issuer, account) = match email.split_once(':') {
            Some((prefix, rest)) if issuer.is_empty() || prefix == issuer => {
                (prefix.trim().to_owned(), rest.trim().to_owned())
            }
            _ => (issuer, email),
        };
        let result = (|| {
            if encrypted > 0 {
                return Err("the app encrypted this secret with a device key; export it from \
                            Google Authenticator with Transfer accounts instead"
                    .to_owned());
            }
            let kind = match kind {
                0 => OtpKind::Totp,
                1 => OtpKind::Hotp,
                other => return Err(format!("unsupported account type {other}")),
            };
            let counter = u64::try_from(counter).map_err(|_| "negative counter".to_owned())?;
            let otp = otp_params(kind, secret_base32(&secret)?, None, None, None, Some(counter))?;
            Ok(ImportedAccount::new(issuer.clone(), account, otp))
        })();
        out.push(entry_location(index), Some(&issuer), result);
    }
    Ok(out.finish())
}

pub(crate) fn import_microsoft(bytes: &[u8]) -> Result<ImportReport, TransferError> {
    const FORMAT: Format = Format::Microsoft;
    let conn = open(bytes, FORMAT)?;
    require(&conn, "accounts", &["name", "username", "oath_secret_key", "account_type"], FORMAT)?;
    let mut statement = conn
        .prepare(
            "SELECT name, username, oath_secret_key, account_type FROM accounts ORDER BY rowid",
        )
        .map_err(sql_error(FORMAT))?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, Option<String>>(0)?.unwrap_or_default(),
                row.get::<_, Option<String>>(1)?.unwrap_or_default(),
                zeroize::Zeroizing::new(row.get::<_, Option<String>>(2)?.unwrap_or_default()),
                row.get::<_, Option<i64>>(3)?.unwrap_or(-1),
            ))
        })
        .map_err(sql_error(FORMAT))?;
    let mut out = Collector::new(FORMAT);
    for (index, row) in rows.enumerate() {
        let (issuer, account, secret, kind) = row.map_err(sql_error(FORMAT))?;
        let result = match kind {
            0 => secret_base32(&secret)
                .and_then(|s| otp_params(OtpKind::Totp, s, None, None, None, None)),
            1 => data_encoding::BASE64
                .decode(secret.trim().as_bytes())
                .map_err(|_| "unreadable secret (not base64)".to_owned())
                .and_then(|raw| Secret::from_bytes(raw).map_err(|e| e.to_string()))
                .and_then(|s| otp_params(OtpKind::Totp, s, None, Some(8), None, None)),
            other => Err(format!(
                "account type {other} has no code (push sign-in only); nothing to import"
            )),
        };
        let result = result.map(|otp| ImportedAccount::new(issuer.clone(), account, otp));
        out.push(entry_location(index), Some(&issuer), result);
    }
    Ok(out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::Algorithm;
    use crate::transfer::vectors::{self, Holds};
    use crate::transfer::{detect as detect_any, import as import_any};

    fn google_holdable() -> Vec<ImportedAccount> {
        vectors::canonical()
            .into_iter()
            .filter(|a| {
                a.otp.kind != OtpKind::Steam
                    && a.otp.algorithm == Algorithm::Sha1
                    && a.otp.digits == 6
                    && (a.otp.kind == OtpKind::Hotp || a.otp.period == 30)
            })
            .collect()
    }

    #[test]
    fn google_database_fixture_holds_the_canonical_accounts() {
        let bytes = vectors::fixture("google-authenticator.db");
        assert_eq!(detect_any(&bytes), Some(Format::GoogleDb));
        let report = import_any(&bytes, None, None).unwrap();
        // The fixture adds one device-encrypted row, which is reported.
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(report.problems[0].reason.contains("Transfer accounts"), "{:?}", report.problems);
        vectors::assert_same(&report.accounts, &google_holdable(), Holds::OTP_ONLY);
    }

    #[test]
    fn microsoft_database_fixture_holds_the_canonical_accounts() {
        let bytes = vectors::fixture("microsoft-authenticator.db");
        assert_eq!(detect_any(&bytes), Some(Format::Microsoft));
        let report = import_any(&bytes, None, None).unwrap();
        // The fixture adds one push-only work account, which is reported.
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(report.problems[0].reason.contains("push"), "{:?}", report.problems);
        let want: Vec<ImportedAccount> = vectors::canonical()
            .into_iter()
            .filter(|a| {
                a.otp.kind == OtpKind::Totp
                    && a.otp.algorithm == Algorithm::Sha1
                    && a.otp.period == 30
                    && matches!(a.otp.digits, 6 | 8)
            })
            .collect();
        vectors::assert_same(&report.accounts, &want, Holds::OTP_ONLY);
    }

    /// Builds a database in memory with `sql` and returns its file bytes.
    pub(crate) fn database(sql: &str) -> Vec<u8> {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(sql).unwrap();
        conn.serialize(MAIN_DB).unwrap().to_vec()
    }

    #[test]
    fn microsoft_personal_accounts_are_base64_with_eight_digits() {
        let bytes = database(
            "CREATE TABLE accounts (name TEXT, username TEXT, oath_secret_key TEXT, account_type INTEGER);
             INSERT INTO accounts VALUES ('Microsoft', 'me@outlook.com', 'MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=', 1);",
        );
        let report = import_microsoft(&bytes).unwrap();
        let a = &report.accounts[0];
        assert_eq!(
            (a.issuer.as_str(), a.account.as_str(), a.otp.digits),
            ("Microsoft", "me@outlook.com", 8)
        );
        assert_eq!(a.otp.secret.as_bytes(), b"12345678901234567890");
    }

    #[test]
    fn damaged_databases_name_what_is_wrong() {
        let bytes = vectors::fixture("google-authenticator.db");
        let err = import_google(&bytes[..200]).unwrap_err();
        assert!(matches!(err, TransferError::Corrupt { .. }), "{err}");
        let err = import_microsoft(&bytes).unwrap_err();
        assert!(err.to_string().contains("no column name"), "{err}");
        let err = import_google(b"SQLite format 3\0 but nothing else").unwrap_err();
        assert!(err.to_string().contains("not an SQLite database"), "{err}");
        // The accounts table's page (the second) overwritten: SQLite's check names the damage.
        let mut flipped = bytes.clone();
        for b in flipped.iter_mut().skip(4096).take(4096) {
            *b ^= 0x5a;
        }
        let err = import_google(&flipped).unwrap_err();
        assert!(matches!(err, TransferError::Corrupt { .. }), "{err}");
    }
}
