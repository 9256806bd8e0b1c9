//! The pages of a long range read, read ahead of their consumer and side by side
//! ([`TelemetryRepository::telemetry_range_pages`]: what a time-window analysis reads), on
//! SQLite; PostgreSQL reads a window as one stream instead (`postgres/window.rs`) and shares
//! only how pages are handed over ([`range_pages`]).
//!
//! A database connection produces one page at a time, and producing a page is about half the
//! work of analysing it (the rest is reading its text back, evaluating it and rendering what
//! it finds). Read one after another, each page waiting for the end of the one before, the
//! pages keep one core busy while the other waits. So the ends of the pages are found first,
//! each by a probe of the time index (`OFFSET page - 1 LIMIT 1`, which walks the index only: a
//! small fraction of reading the page), and the rows between two ends are read and read back
//! by a task of its own, on a connection of its own, while the pages before it are consumed.
//! The ends are found as fast as the probes go, so the same walk of the index tells whether
//! the range holds more rows than the reader's cap before the first page is taken. A separate
//! count walked the index a second time: 5 % of SQLite's time in a 100,000-snapshot analysis.
//! On PostgreSQL the walk itself cost a third of the database's CPU (its index-only scans visit
//! the table for every row until it is vacuumed): hence its stream.
//!
//! [`TelemetryRepository::telemetry_range_pages`]: missionops_core::TelemetryRepository::telemetry_range_pages

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::future::{self, BoxFuture};
use futures_util::stream;
use futures_util::{FutureExt, StreamExt};
use missionops_core::{Error, RangePages, Result, TelemetryPage, Timestamp};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

/// A row's place in a range read: its time in epoch milliseconds and its arrival number.
pub(crate) type RowKey = (i64, i64);

/// Pages read ahead of the one the consumer waits for, each a page of memory once read (on
/// both backends). The consumer holds what it finds in them only up to a bound until the
/// range's size is known, and on PostgreSQL the walk that found it lasted as long as reading a
/// third of the pages, so the reads went on meanwhile. The server's peak resident memory
/// analysing 200,000 snapshots stayed at 46 MB with eight against two
/// (`scripts/analyze-memory.sh`).
pub(crate) const PAGES_AHEAD: usize = 8;

/// Pages read at once, each holding a connection while its query runs. With two ahead and two
/// at once, the 100,000-snapshot analysis left a third of both cores idle on PostgreSQL (its
/// backends waiting for the next query while this process read a page back); eight ahead and
/// three at once, the turn given back before the read-back, took 0.92-0.93 of the time there
/// and 0.94 on SQLite (session 22, `scripts/analyze-ab.sh`).
const READS_AT_ONCE: usize = 3;

/// A page read's turn at the database: one of [`READS_AT_ONCE`].
pub(crate) type ReadTurn = OwnedSemaphorePermit;

/// The read of one page, running on a task of its own.
pub(crate) type PageRead = BoxFuture<'static, Result<TelemetryPage>>;

/// The end of the next page (`None`: the next page is the last), or why it is not known.
type PageEnd = Result<Option<RowKey>>;

/// One range of one spacecraft, as a backend finds its page ends and reads its pages.
#[async_trait]
pub(crate) trait PagedRange: Send + Sync + 'static {
    /// The key of the `nth` row after `after` (`nth` >= 1), or `None` when fewer rows are
    /// left.
    async fn row_after(&self, after: RowKey, nth: usize) -> Result<Option<RowKey>>;

    /// Reads the rows after `after` up to `end` (inclusive; to the end of the range when
    /// `None`) and reads them back; run on a task of its own. `turn` is held while the rows
    /// are read from the database, and dropped before a read-back done apart from it.
    fn read_page(&self, after: RowKey, end: Option<RowKey>, turn: ReadTurn) -> PageRead;
}

/// The pages of `page` rows of the range `from..=to` that `open` finds (`None`: a range with
/// no rows, such as an unknown spacecraft's), read ahead as the module says, and whether the
/// range holds more than `cap` rows; no pages and not over the cap when `from` is after `to`
/// (`open` is then not run).
///
/// The ends of the pages are found as fast as the probes go, not as the pages are read, so
/// that whether the range holds more than `cap` is known after one walk of at most `cap` index
/// entries, while the first pages are being read: the walk that finds the ends is the count.
pub(crate) fn read_ahead<R, Open>(
    open: Open,
    from: Timestamp,
    to: Timestamp,
    page: usize,
    cap: usize,
) -> RangePages
where
    R: PagedRange,
    Open: Future<Output = Result<Option<R>>> + Send + 'static,
{
    if from > to {
        return RangePages {
            more_than_cap: future::ready(Ok(false)).boxed(),
            pages: stream::empty().boxed(),
        };
    }
    // Arrival numbers start at 1, so (from, 0) is just before the first row at `from`.
    let start = (from.as_millis(), 0);
    let (reads, receiver) = mpsc::channel::<PageRead>(PAGES_AHEAD);
    let (verdict, more_than_cap) = oneshot::channel::<Result<bool>>();
    tokio::spawn(async move {
        match open.await {
            Ok(Some(range)) => {
                let (ends, found) = mpsc::unbounded_channel();
                let walk = find_ends(&range, start, page.max(1), cap, ends, verdict);
                future::join(walk, start_reads(&range, start, found, &reads)).await;
            }
            Ok(None) => {
                let _ = verdict.send(Ok(false));
            }
            Err(e) => {
                let for_pages = report(e, verdict);
                let _ = reads.send(future::ready(Err(for_pages)).boxed()).await;
            }
        }
    });
    range_pages(receiver, more_than_cap)
}

/// The pages whose reads come through `receiver`, in order, and the answer to whether the
/// range is over the cap that comes through `more_than_cap`: what a backend's reading task
/// hands the analysis.
pub(crate) fn range_pages(
    receiver: mpsc::Receiver<PageRead>,
    more_than_cap: oneshot::Receiver<Result<bool>>,
) -> RangePages {
    let pages = stream::unfold(receiver, |mut receiver| async move {
        let read = receiver.recv().await?;
        Some((read.await, receiver))
    })
    .boxed();
    RangePages {
        more_than_cap: async move {
            more_than_cap.await.map_err(|_| {
                Error::backend("the range read stopped before its size was known".to_owned())
            })?
        }
        .boxed(),
        pages,
    }
}

/// Hands a failure that came before the range's size was known to whoever waits for the size,
/// and returns the failure the pages end in: the same one when nobody waits, else one saying
/// so, so that pages read alone never look complete.
pub(crate) fn report(e: Error, verdict: oneshot::Sender<Result<bool>>) -> Error {
    match verdict.send(Err(e)) {
        Ok(()) => Error::backend("the range read failed before its size was known".to_owned()),
        Err(Err(e)) => e,
        Err(Ok(_)) => Error::backend("the range read failed".to_owned()),
    }
}

/// Finds the end of each page of `page` rows after `start` and sends it to `ends`, in order,
/// until the last page (`None`), a failure, or more than `cap` rows; tells `verdict` whether
/// there are more than `cap`. When the next end would lie past the cap, the row just past the
/// cap is looked for instead, so the walk never goes further into the range than the cap.
/// Stops early when nobody takes the ends any more.
async fn find_ends<R: PagedRange>(
    range: &R,
    mut after: RowKey,
    page: usize,
    cap: usize,
    ends: mpsc::UnboundedSender<PageEnd>,
    verdict: oneshot::Sender<Result<bool>>,
) {
    // Rows up to and including `after`: never more than `cap`.
    let mut rows = 0usize;
    loop {
        if ends.is_closed() {
            return;
        }
        let next_end = rows.saturating_add(page);
        let end = if next_end > cap {
            match range.row_after(after, cap - rows + 1).await {
                Ok(Some(_)) => {
                    let _ = verdict.send(Ok(true));
                    let _ = ends.send(Err(Error::backend(format!(
                        "the range holds more than {cap} snapshots"
                    ))));
                    return;
                }
                // Fewer rows left than the page holds: the next page is the last.
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            }
        } else {
            range.row_after(after, page).await
        };
        match end {
            Ok(Some(end)) => {
                if ends.send(Ok(Some(end))).is_err() {
                    return;
                }
                after = end;
                rows = next_end;
            }
            Ok(None) => {
                let _ = verdict.send(Ok(false));
                let _ = ends.send(Ok(None));
                return;
            }
            Err(e) => {
                let _ = ends.send(Err(report(e, verdict)));
                return;
            }
        }
    }
}

/// Starts the read of each page whose end `ends` gives, each on a task of its own, and hands
/// it to the consumer, in order, no more than [`PAGES_AHEAD`] ahead of it and no more than
/// [`READS_AT_ONCE`] at once; stops when the consumer goes away.
async fn start_reads<R: PagedRange>(
    range: &R,
    mut after: RowKey,
    mut ends: mpsc::UnboundedReceiver<PageEnd>,
    reads: &mpsc::Sender<PageRead>,
) {
    let at_once = Arc::new(Semaphore::new(READS_AT_ONCE));
    while let Some(end) = ends.recv().await {
        // Waiting for room bounds the pages read ahead by the channel, not by how fast the
        // ends are found.
        let Ok(room) = reads.reserve().await else {
            return;
        };
        match end {
            Ok(end) => {
                // Taken in page order, so the pages are read in it.
                let Ok(turn) = Arc::clone(&at_once).acquire_owned().await else {
                    return;
                };
                let read = tokio::spawn(range.read_page(after, end, turn));
                room.send(async move { read.await.map_err(Error::backend)? }.boxed());
                match end {
                    Some(end) => after = end,
                    None => return,
                }
            }
            Err(e) => {
                room.send(future::ready(Err(e)).boxed());
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use futures_util::future::{self, BoxFuture};
    use futures_util::{FutureExt, StreamExt};
    use missionops_core::{
        Error, Parameters, RangeCursor, RangePages, Result, SnapshotId, SpacecraftId,
        TelemetryPage, TelemetrySnapshot, Timestamp,
    };

    use super::{PAGES_AHEAD, PagedRange, READS_AT_ONCE, ReadTurn, RowKey, read_ahead};

    /// Rows 1..=`rows`, row `i` at time `i` ms with arrival `i`; the read of the page after
    /// row `fail_read_after` fails, and so does the probe numbered `fail_probe` (counting
    /// from 1). Counts its probes and the page reads started.
    struct Fake {
        rows: i64,
        fail_read_after: Option<i64>,
        fail_probe: Option<usize>,
        probes: Arc<AtomicUsize>,
        reads: Arc<AtomicUsize>,
        /// Reads under way, and the most there were at once.
        reading: Arc<AtomicUsize>,
        most_at_once: Arc<AtomicUsize>,
    }

    fn fake(rows: i64) -> Fake {
        Fake {
            rows,
            fail_read_after: None,
            fail_probe: None,
            probes: Arc::default(),
            reads: Arc::default(),
            reading: Arc::default(),
            most_at_once: Arc::default(),
        }
    }

    fn at(millis: i64) -> Timestamp {
        Timestamp::from_millis(millis).expect("time")
    }

    #[async_trait::async_trait]
    impl PagedRange for Fake {
        async fn row_after(&self, (after, _): RowKey, nth: usize) -> Result<Option<RowKey>> {
            let probe = self.probes.fetch_add(1, Ordering::SeqCst) + 1;
            if self.fail_probe == Some(probe) {
                return Err(Error::backend("probe failed".to_owned()));
            }
            let row = after + i64::try_from(nth).expect("small");
            Ok((row <= self.rows).then_some((row, row)))
        }

        fn read_page(
            &self,
            (after, _): RowKey,
            end: Option<RowKey>,
            turn: ReadTurn,
        ) -> BoxFuture<'static, Result<TelemetryPage>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            if self.fail_read_after == Some(after) {
                return future::ready(Err(Error::backend("read failed".to_owned()))).boxed();
            }
            let last = end.map_or(self.rows, |(ts, _)| ts);
            let snapshots = (after + 1..=last)
                .map(|i| TelemetrySnapshot {
                    id: SnapshotId::parse(format!("s{i}")).expect("id"),
                    spacecraft_id: SpacecraftId::parse("SC-1").expect("id"),
                    timestamp: at(i),
                    parameters: Parameters::new(Vec::new()).expect("no parameters"),
                })
                .collect();
            let next = end.map(|(ts, arrival)| RangeCursor {
                timestamp: at(ts),
                arrival,
            });
            let (reading, most_at_once) =
                (Arc::clone(&self.reading), Arc::clone(&self.most_at_once));
            async move {
                // A read that takes a while, holding its turn.
                let now = reading.fetch_add(1, Ordering::SeqCst) + 1;
                most_at_once.fetch_max(now, Ordering::SeqCst);
                for _ in 0..5 {
                    tokio::task::yield_now().await;
                }
                reading.fetch_sub(1, Ordering::SeqCst);
                drop(turn);
                Ok(TelemetryPage { snapshots, next })
            }
            .boxed()
        }
    }

    fn ids(page: &TelemetryPage) -> Vec<String> {
        page.snapshots
            .iter()
            .map(|s| s.id.as_str().to_owned())
            .collect()
    }

    /// Reads `range` over 0..=`to` ms in pages of `page` with no cap.
    fn read(range: Fake, to: i64, page: usize) -> RangePages {
        read_ahead(
            future::ready(Ok(Some(range))),
            at(0),
            at(to),
            page,
            usize::MAX,
        )
    }

    #[tokio::test]
    async fn pages_come_in_order_each_with_the_cursor_after_it() {
        let pages: Vec<TelemetryPage> = read(fake(7), 9, 3)
            .pages
            .map(|page| page.expect("page"))
            .collect()
            .await;
        let all: Vec<Vec<String>> = pages.iter().map(ids).collect();
        assert_eq!(
            all,
            [vec!["s1", "s2", "s3"], vec!["s4", "s5", "s6"], vec!["s7"]]
        );
        let cursors: Vec<Option<i64>> = pages.iter().map(|p| p.next.map(|c| c.arrival)).collect();
        assert_eq!(cursors, [Some(3), Some(6), None]);
    }

    #[tokio::test]
    async fn an_empty_window_or_range_has_no_pages_and_a_reversed_one_opens_nothing() {
        let none: Option<Fake> = None;
        let empty = read_ahead(future::ready(Ok(none)), at(0), at(9), 2, 5);
        assert!(!empty.more_than_cap.await.expect("size"));
        assert!(empty.pages.collect::<Vec<_>>().await.is_empty());
        let opened = Arc::new(AtomicUsize::new(0));
        let open = {
            let opened = Arc::clone(&opened);
            async move {
                opened.fetch_add(1, Ordering::SeqCst);
                Ok(Some(fake(7)))
            }
        };
        let reversed = read_ahead(open, at(9), at(0), 2, 0);
        assert!(!reversed.more_than_cap.await.expect("size"));
        assert!(reversed.pages.collect::<Vec<_>>().await.is_empty());
        assert_eq!(
            opened.load(Ordering::SeqCst),
            0,
            "a reversed window is not opened"
        );
    }

    #[tokio::test]
    async fn a_failure_to_open_goes_to_the_size_or_else_to_the_pages() {
        let failing = || {
            future::ready(Err::<Option<Fake>, _>(Error::backend(
                "open failed".to_owned(),
            )))
        };
        let waited = read_ahead(failing(), at(0), at(9), 2, 5);
        let size = waited.more_than_cap.await;
        assert!(size.is_err_and(|e| e.to_string().contains("open failed")));
        let pages: Vec<_> = waited.pages.collect().await;
        assert_eq!(pages.len(), 1);
        assert!(pages[0].is_err(), "the pages end in a failure too");

        let RangePages { pages, .. } = read_ahead(failing(), at(0), at(9), 2, 5);
        let pages: Vec<_> = pages.collect().await;
        assert_eq!(pages.len(), 1);
        assert!(
            pages[0]
                .as_ref()
                .is_err_and(|e| e.to_string().contains("open failed")),
            "read alone, the pages carry the failure itself"
        );
    }

    #[tokio::test]
    async fn a_failed_read_or_probe_comes_in_place_of_its_page() {
        let mut failing_read = fake(9);
        failing_read.fail_read_after = Some(3);
        let read_pages: Vec<_> = read(failing_read, 9, 3).pages.collect().await;
        assert_eq!(
            ids(read_pages[0].as_ref().expect("first page")),
            ["s1", "s2", "s3"]
        );
        assert!(read_pages[1].is_err(), "the second page's read failed");

        let mut failing_probe = fake(9);
        failing_probe.fail_probe = Some(2);
        // Nobody waits for the size: the pages carry the failure itself.
        let RangePages { pages, .. } = read(failing_probe, 9, 3);
        let read_pages: Vec<_> = pages.collect().await;
        assert_eq!(
            read_pages.len(),
            2,
            "the first page, then the failure that ends the stream"
        );
        assert!(read_pages[0].is_ok());
        assert!(
            read_pages[1]
                .as_ref()
                .is_err_and(|e| e.to_string().contains("probe failed"))
        );

        let mut failing_probe = fake(9);
        failing_probe.fail_probe = Some(2);
        let capped = read_ahead(future::ready(Ok(Some(failing_probe))), at(0), at(9), 3, 100);
        assert!(
            capped
                .more_than_cap
                .await
                .is_err_and(|e| e.to_string().contains("probe failed")),
            "a probe that fails before the size is known fails the size"
        );
        let read_pages: Vec<_> = capped.pages.collect().await;
        assert!(read_pages.last().is_some_and(Result::is_err));
    }

    /// Whether 1,000 rows in pages of 10 hold more than `cap`, the probes it took, and the
    /// rows of the pages when they do not.
    async fn size(cap: usize) -> (bool, usize, usize) {
        let range = fake(1_000);
        let probes = Arc::clone(&range.probes);
        let RangePages {
            more_than_cap,
            pages,
        } = read_ahead(future::ready(Ok(Some(range))), at(0), at(2_000), 10, cap);
        let more = more_than_cap.await.expect("size");
        let probed = probes.load(Ordering::SeqCst);
        let rows = if more {
            0
        } else {
            pages
                .map(|page| page.expect("page").snapshots.len())
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .sum()
        };
        (more, probed, rows)
    }

    #[tokio::test]
    async fn the_size_is_found_by_the_walk_that_finds_the_ends_and_no_further_than_the_cap() {
        // Ends at rows 10, 20, 30, then the row just past the cap, 36: four probes, not a
        // hundred.
        assert_eq!(size(35).await, (true, 4, 0));
        assert_eq!(size(999).await, (true, 100, 0));
        // At the cap or under it: the hundredth end, then no row 1,001 (or 1,006).
        assert_eq!(size(1_000).await, (false, 101, 1_000));
        assert_eq!(size(1_005).await, (false, 101, 1_000));
        assert_eq!(size(0).await, (true, 1, 0));
        assert_eq!(size(usize::MAX).await, (false, 101, 1_000));
    }

    #[tokio::test]
    async fn the_size_is_known_before_a_page_is_taken_and_reads_stay_a_few_pages_ahead() {
        let range = fake(1_000);
        let reads = Arc::clone(&range.reads);
        let RangePages {
            more_than_cap,
            mut pages,
        } = read_ahead(future::ready(Ok(Some(range))), at(0), at(2_000), 1, 5_000);
        // A thousand pages: their ends are all found while none is taken.
        let more = tokio::time::timeout(Duration::from_secs(10), more_than_cap)
            .await
            .expect("the size is known without taking a page")
            .expect("size");
        assert!(!more);
        let first = pages.next().await.expect("a page").expect("read");
        assert_eq!(ids(&first), ["s1"]);
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        // The page taken, the ones waiting in the channel, and the one whose room is being
        // waited for: no more.
        assert!(
            reads.load(Ordering::SeqCst) <= 1 + PAGES_AHEAD + 1,
            "{} reads started after one page",
            reads.load(Ordering::SeqCst)
        );
    }

    #[tokio::test]
    async fn pages_are_read_side_by_side_but_no_more_than_a_few_at_once() {
        let range = fake(200);
        let most_at_once = Arc::clone(&range.most_at_once);
        let pages: Vec<TelemetryPage> = read(range, 300, 10)
            .pages
            .map(|page| page.expect("page"))
            .collect()
            .await;
        let rows: usize = pages.iter().map(|page| page.snapshots.len()).sum();
        assert_eq!(rows, 200);
        let most = most_at_once.load(Ordering::SeqCst);
        assert!(
            (2..=READS_AT_ONCE).contains(&most),
            "{most} reads at once (at most {READS_AT_ONCE}, and more than one)"
        );
    }
}
