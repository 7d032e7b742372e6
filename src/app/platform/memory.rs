//! Giving memory back while Tessera waits in the tray (issue 12: at most 30 MB resident with
//! the window hidden).
//!
//! Measured with `scripts/measure-tray.py` (`TRAY_MAPPINGS=1` lists the mappings): most of
//! the hidden app's resident memory is not its data but pages of its own executable that the
//! start-up, the window and the first frames touched (the release `tessera-gui` is tens of
//! megabytes of code and read-only data: Slint, the renderer, fonts' parsers, the bundled
//! icons). The heap and other anonymous memory are a few megabytes. So once the window has
//! been hidden for [`DELAY`], [`trim`] does what Android does for cached background apps
//! ("app compaction", `process_madvise` with `MADV_PAGEOUT`) and Windows' `EmptyWorkingSet`:
//!
//! - `madvise(MADV_PAGEOUT)` on the read-only, file-backed mappings of the process (its
//!   executable and the libraries only it maps): the kernel unmaps those clean pages and may
//!   drop them from the page cache; whatever the tray, the push poll and the timers run again
//!   is faulted back in (from the page cache, usually, so in microseconds), and what they do
//!   not run stays out. Pages shared with other processes (libc ...) are left as they are by
//!   the kernel. Writable and anonymous memory is not touched (without swap it could not be
//!   paged out, and it holds secrets, which must never reach a swap device).
//! - `malloc_trim(0)` (glibc): returns the heap's free pages to the system.
//!
//! Nothing here changes what the app does; opening the window again faults the renderer's
//! pages back in. Written by hand because no maintained crate wraps `MADV_PAGEOUT` over the
//! process's own mappings; the two calls are the kernel's and glibc's documented interfaces.
//! On other systems [`trim`] does nothing (Windows' `EmptyWorkingSet` would be the
//! counterpart; untested here, so not built).

use std::cell::Cell;
use std::time::Duration;

/// How long the window stays hidden before [`trim`] runs: long enough that closing and
/// reopening the window at once does not pay for faulting the renderer back in.
pub const DELAY: Duration = Duration::from_secs(5);

thread_local! {
    /// How many times [`trim`] ran on this thread (the app's UI thread; tests run one app per
    /// thread).
    static TRIMS: Cell<usize> = const { Cell::new(0) };
}

/// How many times [`trim`] ran on the calling thread.
pub fn trims() -> usize {
    TRIMS.with(Cell::get)
}

/// What [`trim`] asked the kernel to page out.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Trimmed {
    /// Read-only file-backed mappings advised.
    pub mappings: usize,
    /// Their total size, in bytes (what was resident of it is not known in advance).
    pub bytes: usize,
}

/// Pages out this process's clean, read-only, file-backed memory and returns the heap's free
/// pages (see the module docs). Cheap (one read of `/proc/self/maps` and a system call per
/// mapping); failures are ignored, as the app works the same without.
#[cfg(target_os = "linux")]
pub fn trim() -> Trimmed {
    TRIMS.with(|n| n.set(n.get() + 1));
    let mut trimmed = Trimmed::default();
    if let Ok(maps) = std::fs::read_to_string("/proc/self/maps") {
        for (start, end) in read_only_file_mappings(&maps) {
            if page_out(start, end - start) {
                trimmed.mappings += 1;
                trimmed.bytes += end - start;
            }
        }
    }
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free memory of glibc's allocator; it takes no pointer.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
    trimmed
}

/// Does nothing outside Linux (see the module docs).
#[cfg(not(target_os = "linux"))]
pub fn trim() -> Trimmed {
    TRIMS.with(|n| n.set(n.get() + 1));
    Trimmed::default()
}

/// `madvise(start, len, MADV_PAGEOUT)`; whether the kernel took it.
#[cfg(target_os = "linux")]
fn page_out(start: usize, len: usize) -> bool {
    // SAFETY: the range is a whole mapping of this process as /proc/self/maps listed it,
    // mapped without write permission and backed by a file: MADV_PAGEOUT on such pages only
    // unmaps clean copies that the next access reads back from the file, so no memory the
    // program relies on changes. A mapping that went away since the listing makes the call
    // fail with ENOMEM, which is ignored.
    #[allow(unsafe_code)]
    let status = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_PAGEOUT) };
    status == 0
}

/// The `(start, end)` addresses of the mappings in `maps` (the text of `/proc/PID/maps`)
/// that are backed by a file, private and not writable (shared mappings are left alone: the
/// X server's image buffers, other processes' memory).
fn read_only_file_mappings(maps: &str) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?;
            let path = fields.nth(3)?;
            let perms = perms.as_bytes();
            if !path.starts_with('/') || perms.get(1) != Some(&b'-') || perms.get(3) != Some(&b'p')
            {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let start = usize::from_str_radix(start, 16).ok()?;
            let end = usize::from_str_radix(end, 16).ok()?;
            (end > start).then_some((start, end))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_read_only_file_backed_mappings_are_picked() {
        let maps = "\
5581e000-5582a000 r--p 00000000 fd:01 123 /usr/bin/tessera-gui
5582a000-55a00000 r-xp 0000c000 fd:01 123 /usr/bin/tessera-gui
55a00000-55a10000 rw-p 001e2000 fd:01 123 /usr/bin/tessera-gui
55b00000-55c00000 rw-p 00000000 00:00 0 [heap]
7f0000000000-7f0000100000 r--s 00000000 00:19 77 /dev/shm/softbuffer-x11-abc
7f0000200000-7f0000210000 rw-s 00000000 00:19 78 /dev/shm/other
7f0000300000-7f0000301000 ---p 00000000 00:00 0
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]
7f0000400000-7f0000410000 r--p 00000000 fd:01 9 /usr/share/fonts/My Font.ttf
";
        assert_eq!(
            read_only_file_mappings(maps),
            [(0x5581e000, 0x5582a000), (0x5582a000, 0x55a00000), (0x7f0000400000, 0x7f0000410000),]
        );
    }

    /// Resident pages of this process backed by files (not anonymous, not shared memory), KiB.
    #[cfg(target_os = "linux")]
    fn file_backed_kib() -> u64 {
        let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap();
        let field = |name: &str| -> u64 {
            rollup
                .lines()
                .find_map(|l| l.strip_prefix(name)?.trim().strip_suffix("kB")?.trim().parse().ok())
                .unwrap_or(0)
        };
        field("Rss:") - field("Anonymous:") - field("Shmem:")
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn trimming_gives_back_pages_of_the_executable() {
        let before = file_backed_kib();
        let trimmed = trim();
        let after = file_backed_kib();
        assert!(trimmed.mappings > 0 && trimmed.bytes > 0, "{trimmed:?}");
        // The test binary had megabytes of code resident; the reading after the trim
        // faults back in only what the few calls since need.
        assert!(after + 1024 < before, "file-backed resident {before} KiB -> {after} KiB");
    }
}
