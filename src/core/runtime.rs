//! The tokio runtime pglane's work runs on. Every Playwright worker is its own process, and the
//! work is waiting on Postgres, not computing: one worker thread is plenty. The binding hands
//! the runtime built here to napi; core keeps its handle so that synchronous calls (tracking a
//! row from JS) can start background work and wait for a first catalog read.
//!
//! ## Calls start on the caller's thread
//!
//! Handing a call to the runtime's thread costs a wake-up of that thread, and on a machine
//! whose cores idle between tests that wake-up is the slowest step of a small call (more than
//! Postgres' own work on a two-row insert). So a call from JS starts where it is made:
//! [`start`] polls its future on the JS thread until it waits for Postgres. The statement it
//! sends is written to the socket there too: each connection's driver ([`drive`]) can be
//! polled by whichever thread has work for it, and a wake-up of a driver made while a call is
//! being started on the JS thread does not wake the runtime's thread but polls the driver on
//! the spot. The answer arrives on the runtime's thread (it waits on the sockets), which polls
//! the call from then on.

use futures_util::task::AtomicWaker;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;

static HANDLE: OnceLock<Handle> = OnceLock::new();

/// How often the runtime's timer wakes with nothing to do. A timer set from the JS thread that
/// is due before the runtime's next wake-up would wake its thread; with this tick pending, a
/// statement timeout (seconds) never is.
const TICK: Duration = Duration::from_secs(1);

/// Builds the process's runtime (one worker thread) and remembers its handle.
pub fn build() -> std::io::Result<Runtime> {
    let rt = runtime("pglane")?;
    let _ = HANDLE.set(rt.handle().clone());
    Ok(rt)
}

/// A runtime of one worker thread named `name`, with the timer tick.
fn runtime(name: &str) -> std::io::Result<Runtime> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name(name)
        .on_thread_start(|| ON_RUNTIME.with(|on| on.set(true)))
        .build()?;
    rt.spawn(async {
        loop {
            tokio::time::sleep(TICK).await;
        }
    });
    Ok(rt)
}

/// The runtime built by [`build`], or the one the caller runs in (Rust tests).
fn handle() -> Handle {
    HANDLE.get().cloned().unwrap_or_else(Handle::current)
}

/// Runs `fut` in the background.
pub fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    handle().spawn(fut)
}

/// Runs `fut` to completion from a thread outside the runtime (the JS thread).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    handle().block_on(fut)
}

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

thread_local! {
    /// Is this one of the runtime's own threads?
    static ON_RUNTIME: Cell<bool> = const { Cell::new(false) };
    /// Is this thread starting a call ([`start`])?
    static STARTING: Cell<bool> = const { Cell::new(false) };
    /// Connection drivers woken while starting a call: polled before [`start`] returns.
    static WOKEN_DRIVERS: RefCell<Vec<Arc<Driver>>> = const { RefCell::new(Vec::new()) };
}

/// How many times [`start`] polls a call that wakes itself before handing it over.
const START_POLLS: usize = 8;

/// Runs `fut` to completion: polled here (the calling thread, normally JS's) until it waits on
/// something that is not ready, then by the runtime once that is ready. Its statements are
/// sent before this returns. From inside the runtime it is an ordinary spawn.
pub fn start<F>(fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    match HANDLE.get() {
        Some(handle) => start_on(handle, fut),
        // Rust tests: their own runtime.
        None => drop(Handle::current().spawn(fut)),
    }
}

/// [`start`] with the runtime `handle`.
fn start_on<F>(handle: &Handle, fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    if ON_RUNTIME.with(Cell::get) || STARTING.with(Cell::get) {
        handle.spawn(fut);
        return;
    }
    let _entered = handle.enter();
    let parked = Arc::new(Parked {
        state: Mutex::new(State::Polling),
        handle: handle.clone(),
    });
    let waker = Waker::from(parked.clone());
    let mut cx = Context::from_waker(&waker);
    let mut task: Task = Box::pin(fut);
    let starting = Starting::begin();
    let mut done = false;
    for polls in 1..=START_POLLS {
        done = task.as_mut().poll(&mut cx).is_ready();
        poll_woken_drivers();
        // A wake-up is taken (`rewind`) only for a poll that follows it. When the polls have
        // run out it stays, and the hand-over passes it on: taken then, it was lost and the
        // call waited forever (a cleanup's fallback, whose statements the runtime's thread
        // answers one after another while this thread is still starting it, did that).
        if done || polls == START_POLLS || !parked.rewind() {
            break;
        }
    }
    drop(starting);
    if !done {
        parked.hand_over(task);
    }
}

/// This thread is starting a call while this lives. Dropped, also when the call's first poll
/// panics, it hands the drivers still listed to their tasks: no wake-up is lost, and wake-ups
/// on this thread afterwards go to the tasks again.
struct Starting;

impl Starting {
    fn begin() -> Starting {
        STARTING.with(|s| s.set(true));
        Starting
    }
}

impl Drop for Starting {
    fn drop(&mut self) {
        STARTING.with(|s| s.set(false));
        for driver in WOKEN_DRIVERS.with(|w| std::mem::take(&mut *w.borrow_mut())) {
            driver.task.wake();
        }
    }
}

/// Polls the connection drivers woken on this thread while starting a call (which writes what
/// the call queued on their connections to the sockets).
fn poll_woken_drivers() {
    while let Some(driver) = WOKEN_DRIVERS.with(|w| w.borrow_mut().pop()) {
        if driver.poll_connection().is_ready() {
            // Its task ends too.
            driver.task.wake();
        }
    }
}

/// Where a call started by [`start`] is while it waits.
enum State {
    /// Being polled by [`start`].
    Polling,
    /// Woken while [`start`] polled it.
    Woken,
    /// Waiting, not yet woken: the first wake-up spawns it on the runtime.
    Waiting(Task),
    /// On the runtime, which polls it from now on.
    HandedOver,
}

struct Parked {
    state: Mutex<State>,
    handle: Handle,
}

impl Parked {
    /// Was the call woken while it was polled? Then it is polled again.
    fn rewind(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(*state, State::Woken) {
            *state = State::Polling;
            return true;
        }
        false
    }

    /// The call waits: the runtime takes it now if it was woken meanwhile, else at its wake-up.
    fn hand_over(&self, task: Task) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(*state, State::Woken) {
            *state = State::HandedOver;
            drop(state);
            self.handle.spawn(task);
        } else {
            *state = State::Waiting(task);
        }
    }
}

impl Wake for Parked {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match std::mem::replace(&mut *state, State::HandedOver) {
            State::Polling | State::Woken => *state = State::Woken,
            State::Waiting(task) => {
                drop(state);
                // On the runtime's thread (an answer arrived) this queues it locally.
                self.handle.spawn(task);
            }
            State::HandedOver => {}
        }
    }
}

/// A connection's future (tokio-postgres' `Connection`, which does its socket I/O), polled by
/// a task on the runtime and, while a call is being started, by the caller's thread.
pub struct Driver {
    connection: Mutex<Option<Task>>,
    task: AtomicWaker,
}

impl Driver {
    /// Polls the connection with this driver as its waker; `Ready` once it ended.
    fn poll_connection(self: &Arc<Self>) -> Poll<()> {
        let waker = Waker::from(self.clone());
        let mut cx = Context::from_waker(&waker);
        let mut slot = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        let Some(connection) = slot.as_mut() else {
            return Poll::Ready(());
        };
        if connection.as_mut().poll(&mut cx).is_ready() {
            *slot = None;
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Wake for Driver {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if STARTING.with(Cell::get) {
            WOKEN_DRIVERS.with(|w| w.borrow_mut().push(self.clone()));
        } else {
            self.task.wake();
        }
    }
}

/// Drops the connection when its task ends or is aborted (the pool aborts it when it drops a
/// client): the wakers the connection registered hold its driver, so it would not go alone.
struct DriverTask(Arc<Driver>);

impl Drop for DriverTask {
    fn drop(&mut self) {
        let connection = self
            .0
            .connection
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(connection);
    }
}

/// Drives a connection's future on the runtime (and on the JS thread while a call starts, see
/// [`start`]). The handle ends the connection when aborted.
pub fn drive<F>(connection: F) -> JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    drive_on(&handle(), connection)
}

/// [`drive`] on the runtime `handle`.
fn drive_on<F>(handle: &Handle, connection: F) -> JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let driver = Arc::new(Driver {
        connection: Mutex::new(Some(Box::pin(connection))),
        task: AtomicWaker::new(),
    });
    let task = DriverTask(driver);
    handle.spawn(std::future::poll_fn(move |cx| {
        task.0.task.register(cx.waker());
        task.0.poll_connection()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread::{self, ThreadId};

    fn on_thread(name: &str) -> bool {
        thread::current().name() == Some(name)
    }

    #[test]
    fn a_started_call_runs_here_until_it_waits_then_on_the_runtime() {
        let rt = runtime("rt-start").unwrap();
        let here = thread::current().id();
        let first_poll: Arc<Mutex<Option<ThreadId>>> = Arc::default();
        let (answer_tx, answer_rx) = tokio::sync::oneshot::channel::<u32>();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let seen = first_poll.clone();
        start_on(rt.handle(), async move {
            *seen.lock().unwrap() = Some(thread::current().id());
            let answer = answer_rx.await.unwrap();
            done_tx.send((answer, on_thread("rt-start"))).unwrap();
        });
        assert_eq!(
            *first_poll.lock().unwrap(),
            Some(here),
            "first poll on the caller's thread"
        );
        // The answer comes from the runtime, which polls the call from then on.
        rt.spawn(async move { answer_tx.send(42).unwrap() });
        let (answer, on_runtime) = done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(answer, 42);
        assert!(
            on_runtime,
            "after its wake-up the call runs on the runtime's thread"
        );
    }

    #[test]
    fn a_call_that_wakes_itself_while_starting_finishes_here() {
        let rt = runtime("rt-yield").unwrap();
        let here = thread::current().id();
        let finished: Arc<Mutex<Option<ThreadId>>> = Arc::default();
        let seen = finished.clone();
        start_on(rt.handle(), async move {
            tokio::task::yield_now().await;
            *seen.lock().unwrap() = Some(thread::current().id());
        });
        assert_eq!(*finished.lock().unwrap(), Some(here));
    }

    /// Pending `n` times, waking itself each time, then ready.
    struct WakesItself(usize);

    impl Future for WakesItself {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 == 0 {
                return Poll::Ready(());
            }
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    #[test]
    fn a_call_still_woken_when_the_start_stops_polling_it_finishes_on_the_runtime() {
        let rt = runtime("rt-woken").unwrap();
        // Woken on every poll, more often than the start polls: the last wake-up goes with it.
        for n in [
            START_POLLS - 1,
            START_POLLS,
            START_POLLS + 1,
            3 * START_POLLS,
        ] {
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            start_on(rt.handle(), async move {
                WakesItself(n).await;
                done_tx.send(()).unwrap();
            });
            done_rx
                .recv_timeout(Duration::from_secs(5))
                .unwrap_or_else(|_| panic!("a call woken {n} times never finished"));
        }
    }

    #[test]
    fn what_a_starting_call_queues_on_a_connection_is_written_before_start_returns() {
        let rt = runtime("rt-driver").unwrap();
        let here = thread::current().id();
        // A stand-in for tokio-postgres' connection: it takes requests from a channel.
        let (requests, mut queue) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let taken: Arc<Mutex<Vec<(u32, ThreadId)>>> = Arc::default();
        let log = taken.clone();
        let _driver = drive_on(rt.handle(), async move {
            while let Some(request) = queue.recv().await {
                log.lock().unwrap().push((request, thread::current().id()));
            }
        });
        // Let the driver's task poll once (it waits on the channel from then on).
        thread::sleep(Duration::from_millis(50));
        let (_keep, never) = tokio::sync::oneshot::channel::<()>();
        let sender = requests.clone();
        start_on(rt.handle(), async move {
            sender.send(7).unwrap();
            let _ = never.await;
        });
        assert_eq!(
            *taken.lock().unwrap(),
            vec![(7, here)],
            "the driver took the request on the caller's thread, before start returned"
        );
        // From the runtime's side it is an ordinary task.
        let sender = requests.clone();
        rt.spawn(async move { sender.send(8).unwrap() });
        thread::sleep(Duration::from_millis(100));
        let taken = taken.lock().unwrap();
        assert_eq!(taken.len(), 2);
        assert_eq!(taken[1].0, 8);
        assert_ne!(taken[1].1, here, "woken on the runtime, polled there");
    }

    #[test]
    fn a_call_that_panics_while_starting_leaves_the_thread_as_it_was() {
        let rt = runtime("rt-panic").unwrap();
        let caught = std::panic::catch_unwind(|| {
            start_on(rt.handle(), async {
                panic!("in the first poll");
            })
        });
        assert!(caught.is_err());
        assert!(!STARTING.with(Cell::get), "no longer starting");
        // A later call starts here again.
        let here = thread::current().id();
        let polled: Arc<Mutex<Option<ThreadId>>> = Arc::default();
        let seen = polled.clone();
        start_on(rt.handle(), async move {
            *seen.lock().unwrap() = Some(thread::current().id());
        });
        assert_eq!(*polled.lock().unwrap(), Some(here));
    }

    #[test]
    fn an_aborted_driver_drops_its_connection() {
        let rt = runtime("rt-abort").unwrap();
        let held = Arc::new(());
        let inside = held.clone();
        let (_requests, mut queue) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let dropped = Arc::new(AtomicBool::new(false));
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let flag = Flag(dropped.clone());
        let task = drive_on(rt.handle(), async move {
            let _inside = inside;
            let _flag = flag;
            while queue.recv().await.is_some() {}
        });
        thread::sleep(Duration::from_millis(50));
        assert_eq!(Arc::strong_count(&held), 2);
        task.abort();
        thread::sleep(Duration::from_millis(100));
        assert!(
            dropped.load(Ordering::SeqCst),
            "the connection's future was dropped"
        );
        assert_eq!(Arc::strong_count(&held), 1);
    }
}
