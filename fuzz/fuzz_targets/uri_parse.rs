//! Classifies arbitrary scanned text; accounts must survive `to_uri` -> `parse` unchanged and
//! migration batches must survive re-encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::uri::{OtpUri, Payload, classify};

#[path = "shared/migration.rs"]
mod migration;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match classify(&text) {
        Ok(Payload::Account(account)) => {
            // Error messages must stay short whatever the input (no echo of huge values).
            let built = account.to_uri();
            let back = OtpUri::parse(&built).expect("a built URI parses");
            check_same(&account, &back);
        }
        Ok(Payload::Migration(batch)) => migration::check_round_trip(&batch),
        Ok(Payload::PushEnrolment(push)) => {
            let _ = format!("{push:?}");
        }
        Err(e) => assert!(e.to_string().len() < 400, "error message too long: {e}"),
    }
});

/// A literal `%XX` in a name is read as double encoding on the way back (documented rule), so
/// names are compared only when they contain no `%`.
fn check_same(a: &OtpUri, b: &OtpUri) {
    if !a.issuer.contains('%') && !a.account.contains('%') {
        assert_eq!(a.issuer, b.issuer);
        assert_eq!(a.account, b.account);
    }
    assert!(a.otp.secret.ct_eq(&b.otp.secret));
    assert_eq!(a.otp.kind, b.otp.kind);
    assert_eq!(a.otp.algorithm, b.otp.algorithm);
    assert_eq!(a.otp.digits, b.otp.digits);
    assert_eq!(a.otp.period, b.otp.period);
    assert_eq!(a.otp.counter, b.otp.counter);
    let kept = |u: &OtpUri| {
        u.extra
            .iter()
            .filter(|(n, v)| !n.is_empty() && !n.contains('%') && !v.contains('%'))
            .cloned()
            .collect::<Vec<_>>()
    };
    if a.extra.iter().all(|(n, v)| !n.contains('%') && !v.contains('%')) {
        assert_eq!(kept(a), kept(b));
    }
}

