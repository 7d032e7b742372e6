//! The one way back to the UI thread.
//!
//! Slow work (key derivation, file reads, network round trips, camera frames, push polling)
//! runs on worker threads; what it produces is handed to the UI thread through Slint's event
//! loop (`slint::spawn_local` awaiting a channel), never through thread-locals or a second
//! mechanism. Tests run with [`Background::Inline`]: the same work, on the calling thread,
//! so a fake clock and `mock_elapsed_time` decide everything.

/// Where slow work runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Background {
    /// On a worker thread; the result comes back through Slint's event loop.
    Thread,
    /// On the calling thread, for tests with no event loop. The work itself is the same.
    Inline,
}

/// Runs `job` off the UI thread (or inline) and hands its result to `done` on the UI thread.
pub fn run<T: Send + 'static>(
    mode: Background,
    job: impl FnOnce() -> T + Send + 'static,
    done: impl FnOnce(T) + 'static,
) {
    if mode == Background::Inline {
        done(job());
        return;
    }
    let (tx, rx) = futures_channel::oneshot::channel::<T>();
    let waiter = slint::spawn_local(async move {
        if let Ok(value) = rx.await {
            done(value);
        }
    });
    match waiter {
        Ok(_) => {
            std::thread::spawn(move || {
                // The receiver is gone only if the window closed meanwhile.
                let _ = tx.send(job());
            });
        }
        // No event loop to come back to (cannot happen once the window runs).
        Err(error) => eprintln!("tessera: cannot run background work: {error}"),
    }
}

/// The sending end of a [`stream`]: cheap to clone, usable from any thread. `send` returns
/// false once the UI side stopped listening.
pub struct Sender<T>(futures_channel::mpsc::UnboundedSender<T>);

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Sender<T> {
    /// Hands `message` to the UI thread; false once the receiver is gone.
    pub fn send(&self, message: T) -> bool {
        self.0.unbounded_send(message).is_ok()
    }
}

/// Opens a stream of messages from worker threads to the UI thread: `handle` runs on the UI
/// thread for each message, in order, until it returns false or every sender is dropped.
pub fn stream<T: 'static>(
    mut handle: impl FnMut(T) -> bool + 'static,
) -> Result<Sender<T>, slint::EventLoopError> {
    use futures_core::Stream;
    let (tx, mut rx) = futures_channel::mpsc::unbounded::<T>();
    slint::spawn_local(async move {
        while let Some(message) =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut rx).poll_next(cx)).await
        {
            if !handle(message) {
                break;
            }
        }
    })?;
    Ok(Sender(tx))
}
