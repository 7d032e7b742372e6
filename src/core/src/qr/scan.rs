//! Scanning sessions: pull frames from a source (camera, screen, replay) until a code decodes.

use super::{DecodeOptions, LumaFrame, QrError, decode};

/// Supplies grayscale frames: a camera, a screen grabber, an image file, or a test's replay.
/// Living in the core lets the whole scan pipeline be tested without hardware.
pub trait FrameSource {
    /// Returns the next frame, `Ok(None)` when the source has ended (file read, camera
    /// closed), or an error the user should see (permission denied, device unplugged).
    fn next_frame(&mut self) -> Result<Option<LumaFrame>, QrError>;
}

impl<S: FrameSource + ?Sized> FrameSource for &mut S {
    fn next_frame(&mut self) -> Result<Option<LumaFrame>, QrError> {
        (**self).next_frame()
    }
}

impl<S: FrameSource + ?Sized> FrameSource for Box<S> {
    fn next_frame(&mut self) -> Result<Option<LumaFrame>, QrError> {
        (**self).next_frame()
    }
}

/// The result of one [`ScanSession::step`].
#[derive(Clone, PartialEq, Eq)]
pub enum ScanStep {
    /// The frame held payloads not seen before in this session (only the new ones).
    Found(Vec<String>),
    /// The frame held nothing new.
    Nothing,
    /// The source has no more frames.
    Ended,
}

impl std::fmt::Debug for ScanStep {
    // Payloads may carry secrets: print only how many.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Found(p) => write!(f, "Found({} payloads)", p.len()),
            Self::Nothing => f.write_str("Nothing"),
            Self::Ended => f.write_str("Ended"),
        }
    }
}

/// What a finished [`ScanSession::run`] produced.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ScanOutcome {
    /// Every distinct payload found, in order; empty when the source ended first.
    pub payloads: Vec<String>,
    /// Number of frames decoded.
    pub frames: usize,
}

impl std::fmt::Debug for ScanOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanOutcome")
            .field("payloads", &self.payloads.len())
            .field("frames", &self.frames)
            .finish()
    }
}

/// Pulls frames from a [`FrameSource`], decodes each within the options' budget and
/// de-duplicates payloads across frames.
pub struct ScanSession<S> {
    source: S,
    options: DecodeOptions,
    found: Vec<String>,
    frames: usize,
    ended: bool,
}

impl<S: FrameSource> ScanSession<S> {
    /// Starts a session over `source`; use [`DecodeOptions::LIVE`] for a camera preview.
    pub fn new(source: S, options: DecodeOptions) -> Self {
        Self { source, options, found: Vec::new(), frames: 0, ended: false }
    }

    /// Decodes the next frame: what a live preview calls once per frame.
    pub fn step(&mut self) -> Result<ScanStep, QrError> {
        if self.ended {
            return Ok(ScanStep::Ended);
        }
        let Some(frame) = self.source.next_frame()? else {
            self.ended = true;
            return Ok(ScanStep::Ended);
        };
        self.frames += 1;
        let mut new = Vec::new();
        for payload in decode(&frame, &self.options).payloads {
            if !self.found.contains(&payload) {
                self.found.push(payload.clone());
                new.push(payload);
            }
        }
        Ok(if new.is_empty() { ScanStep::Nothing } else { ScanStep::Found(new) })
    }

    /// Steps until a frame yields payloads or the source ends, and returns everything found.
    pub fn run(&mut self) -> Result<ScanOutcome, QrError> {
        loop {
            match self.step()? {
                ScanStep::Found(_) | ScanStep::Ended => return Ok(self.outcome()),
                ScanStep::Nothing => {}
            }
        }
    }

    /// Returns the payloads found so far and the frames decoded.
    pub fn outcome(&self) -> ScanOutcome {
        ScanOutcome { payloads: self.found.clone(), frames: self.frames }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qr::encode;

    /// Replays prepared frames, then ends; optionally fails at a given frame.
    struct Replay {
        frames: std::vec::IntoIter<LumaFrame>,
        fail_at: Option<usize>,
        served: usize,
    }

    impl Replay {
        fn new(frames: Vec<LumaFrame>) -> Self {
            Self { frames: frames.into_iter(), fail_at: None, served: 0 }
        }
    }

    impl FrameSource for Replay {
        fn next_frame(&mut self) -> Result<Option<LumaFrame>, QrError> {
            if self.fail_at == Some(self.served) {
                return Err(QrError::Source("camera unplugged".into()));
            }
            self.served += 1;
            Ok(self.frames.next())
        }
    }

    fn blank() -> LumaFrame {
        LumaFrame::new(120, 90, vec![128; 120 * 90]).unwrap()
    }

    fn code(text: &str) -> LumaFrame {
        encode(text).unwrap().to_luma(3, 4)
    }

    #[test]
    fn session_stops_at_the_first_frame_with_a_code() {
        let mut session = ScanSession::new(
            Replay::new(vec![blank(), blank(), code("first"), code("second")]),
            DecodeOptions::THOROUGH,
        );
        let outcome = session.run().unwrap();
        assert_eq!(outcome.payloads, ["first"]);
        assert_eq!(outcome.frames, 3);
    }

    #[test]
    fn session_ends_empty_when_source_runs_out() {
        let mut session =
            ScanSession::new(Replay::new(vec![blank(), blank()]), DecodeOptions::LIVE);
        let outcome = session.run().unwrap();
        assert!(outcome.payloads.is_empty());
        assert_eq!(outcome.frames, 2);
        assert_eq!(session.step().unwrap(), ScanStep::Ended);
    }

    #[test]
    fn steps_report_only_new_payloads() {
        let mut session = ScanSession::new(
            Replay::new(vec![code("a"), code("a"), code("b")]),
            DecodeOptions::THOROUGH,
        );
        assert_eq!(session.step().unwrap(), ScanStep::Found(vec!["a".into()]));
        assert_eq!(session.step().unwrap(), ScanStep::Nothing);
        assert_eq!(session.step().unwrap(), ScanStep::Found(vec!["b".into()]));
        assert_eq!(session.step().unwrap(), ScanStep::Ended);
        assert_eq!(session.outcome().payloads, ["a", "b"]);
    }

    #[test]
    fn source_errors_reach_the_caller() {
        let mut replay = Replay::new(vec![blank(), code("x")]);
        replay.fail_at = Some(1);
        let mut session = ScanSession::new(replay, DecodeOptions::LIVE);
        assert!(matches!(session.run(), Err(QrError::Source(_))));
    }
}
