//! The process-wide tokio runtimes, and the two ways Python waits on them.
//!
//! Two runtimes, each owning its own connection pools:
//! * `blocking`: a current-thread runtime driven by whichever Python thread is blocked in a sync
//!   call. The caller's own thread polls the socket, so a sync call costs no cross-thread wakeups.
//! * `background`: a multi-thread runtime whose workers drive asyncio calls and long-running work.
//!
//! Both are rebuilt in a child after `fork()` (tokio's threads do not survive it) and shut down
//! without waiting at interpreter exit, so a task that would need the GIL cannot hang `exit()`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::ThreadId;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3_async_runtimes::generic::{ContextExt, JoinError as GenericJoinError, Runtime as GenericRuntime};
use pyo3_async_runtimes::TaskLocals;
use tokio::runtime::{Builder, Handle, Runtime};

/// How often a blocked sync call wakes up to let Python run its signal handlers (Ctrl-C).
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// Set at interpreter exit: from then on no task may touch Python, whose state is being torn down.
static EXITING: AtomicBool = AtomicBool::new(false);

/// The thread running interpreter exit (the one that called our `atexit` hook).
static EXIT_THREAD: OnceLock<ThreadId> = OnceLock::new();

/// Worker-thread closures currently handing results to Python. Exit waits for them: a worker that
/// lost the GIL inside such a closure (asyncio's wake-up write releases it) and wants it back after
/// finalization has begun is killed by CPython mid-Rust-frame, which crashes the process.
static IN_PYTHON: AtomicUsize = AtomicUsize::new(0);

/// How long exit waits for in-flight Python callbacks before giving up on them.
const EXIT_WAIT: Duration = Duration::from_secs(5);

struct InPythonGuard;

impl InPythonGuard {
    /// Enter unless the interpreter is exiting. SeqCst on both sides: either exit sees our count,
    /// or we see its flag.
    fn enter() -> Option<InPythonGuard> {
        IN_PYTHON.fetch_add(1, Ordering::SeqCst);
        if EXITING.load(Ordering::SeqCst) {
            IN_PYTHON.fetch_sub(1, Ordering::SeqCst);
            None
        } else {
            Some(InPythonGuard)
        }
    }
}

impl Drop for InPythonGuard {
    fn drop(&mut self) {
        IN_PYTHON.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Runtimes {
    pid: u32,
    /// Leaked on purpose: a current-thread runtime owns no threads, so there is nothing to stop,
    /// and a `'static` reference can never be the last owner dropped inside a task.
    blocking: &'static Runtime,
    /// Owned here only; everyone else holds a `Handle`, so it is shut down exactly once, at exit,
    /// on the thread that runs `atexit`, never dropped by a worker.
    background: Option<Runtime>,
    background_handle: Handle,
}

static RUNTIMES: Mutex<Option<Runtimes>> = Mutex::new(None);

fn lock_runtimes() -> MutexGuard<'static, Option<Runtimes>> {
    // A panic while holding this lock cannot leave the Option half-written, so poison is harmless.
    RUNTIMES.lock().unwrap_or_else(PoisonError::into_inner)
}

fn build_runtimes() -> std::io::Result<Runtimes> {
    let blocking = Box::leak(Box::new(Builder::new_current_thread().enable_all().build()?));
    let background = Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .thread_name("kinesis-worker")
        .enable_all()
        .build()?;
    let background_handle = background.handle().clone();
    Ok(Runtimes { pid: std::process::id(), blocking, background: Some(background), background_handle })
}

fn with_runtimes<T>(pick: impl FnOnce(&Runtimes) -> T) -> PyResult<T> {
    let mut slot = lock_runtimes();
    let current_pid = std::process::id();
    if slot.as_ref().is_some_and(|rts| rts.pid != current_pid) {
        // Forked: the parent's runtimes have no threads here. Leak them; dropping would try to
        // join threads that do not exist in this process.
        if let Some(stale) = slot.take() {
            std::mem::forget(stale);
        }
    }
    if slot.is_none() {
        let built = build_runtimes()
            .map_err(|err| pyo3::exceptions::PyRuntimeError::new_err(format!("cannot start the I/O runtime: {err}")))?;
        *slot = Some(built);
    }
    // The branch above guarantees Some; map the impossible None to an error rather than panic.
    let rts = slot.as_ref().ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("I/O runtime unavailable"))?;
    Ok(pick(rts))
}

/// The runtime that sync calls drive on their own thread.
pub fn blocking_runtime() -> PyResult<&'static Runtime> {
    with_runtimes(|rts| rts.blocking)
}

/// A handle on the multi-thread runtime that drives asyncio calls and background work.
pub fn background_handle() -> PyResult<Handle> {
    with_runtimes(|rts| rts.background_handle.clone())
}

/// Which runtime a piece of work belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavor {
    Blocking,
    Background,
}

/// True once the interpreter has started to exit: no task may touch Python any more.
pub fn exiting() -> bool {
    EXITING.load(Ordering::SeqCst)
}

/// The process id the current runtimes belong to; clients cache it to notice a fork.
pub fn current_pid() -> u32 {
    std::process::id()
}

/// Stop the background runtime without waiting for its tasks; registered with `atexit`.
#[pyfunction]
pub fn _shutdown_runtimes(py: Python<'_>) {
    let _first_exit = EXIT_THREAD.set(std::thread::current().id());
    EXITING.store(true, Ordering::SeqCst);
    let background = {
        let mut slot = lock_runtimes();
        match slot.as_mut() {
            Some(rts) if rts.pid == std::process::id() => rts.background.take(),
            _ => None,
        }
    };
    // Without the GIL, so that workers inside a Python callback can finish it.
    py.detach(move || {
        let deadline = std::time::Instant::now() + EXIT_WAIT;
        while IN_PYTHON.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        if let Some(runtime) = background {
            runtime.shutdown_background();
        }
    });
}

/// Whether this thread must keep away from Python for good: the interpreter is exiting and this
/// is not the thread running the exit (a daemon thread blocked in a call). CPython ends such a
/// thread with `pthread_exit` as soon as it asks for the GIL, and that unwinds through our Rust
/// frames: a crash (seen as SIGSEGV on Python 3.9).
fn shut_out_of_python() -> bool {
    exiting() && EXIT_THREAD.get() != Some(&std::thread::current().id())
}

/// How a blocked call ended.
enum Waited<T> {
    Done(T),
    Interrupted(PyErr),
    /// The interpreter began to exit under a thread other than the exiting one.
    ShutOut,
}

/// Run `fut` to completion on the blocking runtime with the GIL released, waking regularly to
/// run Python's signal handlers so that Ctrl-C interrupts the call (the future is then dropped,
/// which cancels the request).
pub fn block_on<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = T> + Send,
    T: Send,
{
    let rt = blocking_runtime()?;
    // On the heap at once: an SDK operation's future is many kilobytes, and would otherwise be
    // copied by value at each hand-over below (into the closure, the async block, the runtime).
    let mut fut = Box::pin(fut);
    py.detach(|| {
        let waited = rt.block_on(async move {
            loop {
                tokio::select! {
                    biased;
                    out = &mut fut => return Waited::Done(out),
                    () = tokio::time::sleep(SIGNAL_CHECK_INTERVAL) => {
                        if shut_out_of_python() {
                            return Waited::ShutOut;
                        }
                        if let Err(err) = Python::attach(|py| py.check_signals()) {
                            return Waited::Interrupted(err);
                        }
                    }
                }
            }
        });
        match waited {
            Waited::Done(out) if !shut_out_of_python() => Ok(out),
            Waited::Done(_) | Waited::ShutOut => park_until_the_process_ends(),
            Waited::Interrupted(err) => Err(err),
        }
    })
}

/// Never return to Python (see `shut_out_of_python`); the process is about to end. Called outside
/// the runtime, so that the exiting thread can still drive it (an `atexit` hook making a call).
fn park_until_the_process_ends() -> ! {
    loop {
        std::thread::park();
    }
}

/// The runtime handed to pyo3-async-runtimes: asyncio awaitables are driven by `background`.
pub struct AsyncioBridge;

pub struct BridgeJoinError(tokio::task::JoinError);

impl GenericJoinError for BridgeJoinError {
    fn is_panic(&self) -> bool {
        self.0.is_panic()
    }
    fn into_panic(self) -> Box<dyn std::any::Any + Send + 'static> {
        self.0.into_panic()
    }
}

pub struct BridgeJoinHandle(Option<tokio::task::JoinHandle<()>>);

impl Future for BridgeJoinHandle {
    type Output = Result<(), BridgeJoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        match self.0.as_mut() {
            // No runtime could be had: behave as a task that finished at once.
            None => std::task::Poll::Ready(Ok(())),
            Some(handle) => Pin::new(handle).poll(cx).map(|res| res.map_err(BridgeJoinError)),
        }
    }
}

impl GenericRuntime for AsyncioBridge {
    type JoinError = BridgeJoinError;
    type JoinHandle = BridgeJoinHandle;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        BridgeJoinHandle(background_handle().ok().map(|handle| handle.spawn(fut)))
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        // These closures hand results to asyncio under the GIL; past exit, Python cannot take them.
        let guarded = move || {
            if let Some(_in_python) = InPythonGuard::enter() {
                f()
            }
        };
        BridgeJoinHandle(background_handle().ok().map(|handle| handle.spawn_blocking(guarded)))
    }
}

tokio::task_local! {
    static TASK_LOCALS: TaskLocals;
}

impl ContextExt for AsyncioBridge {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        Box::pin(TASK_LOCALS.scope(locals, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS.try_with(|locals| locals.clone()).ok()
    }
}

/// Wrap `fut` in an asyncio awaitable driven by the background runtime.
pub fn into_awaitable<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    // Make sure the runtime exists (and is this process's) before the bridge spawns onto it.
    background_handle()?;
    pyo3_async_runtimes::generic::future_into_py::<AsyncioBridge, F, T>(py, fut)
}
