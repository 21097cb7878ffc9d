//! A thread of its own for work that must be done one at a time and is cheaper in groups: the
//! store's writer and the ledger's committer.
//!
//! Callers queue a job and await its answer; the thread takes whatever is queued at once. A
//! queued job wakes the thread only if it is idle, where a blocking-pool hand-off woke a thread
//! for every call (docs/performance.md, profile 9).

use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::ports::{PortError, PortResult};

/// Where a job's answer goes.
pub type Reply<T> = oneshot::Sender<PortResult<T>>;

/// The queue of a running worker thread; dropping it lets the thread finish what it was given
/// and waits for it.
pub struct Worker<J> {
    name: &'static str,
    jobs: Option<mpsc::Sender<J>>,
    thread: Option<JoinHandle<()>>,
}

impl<J: Send + 'static> Worker<J> {
    /// Start a thread called `name` that runs `work` over the queue until every sender is gone.
    pub fn start(
        name: &'static str,
        work: impl FnOnce(mpsc::Receiver<J>) + Send + 'static,
    ) -> PortResult<Self> {
        let (jobs, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || work(queue))
            .map_err(|e| PortError::Other(format!("cannot start {name}: {e}")))?;
        Ok(Worker {
            name,
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Queue the job `job` makes of a reply channel, and wait for its answer.
    pub async fn submit<T>(&self, job: impl FnOnce(Reply<T>) -> J) -> PortResult<T> {
        let stopped = || PortError::Other(format!("{} has stopped", self.name));
        let (reply, answer) = oneshot::channel();
        self.jobs
            .as_ref()
            .ok_or_else(stopped)?
            .send(job(reply))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

impl<J> Drop for Worker<J> {
    /// The thread answers what it was given, then stops: once this returns it holds nothing
    /// (a reopened store or ledger finds every answered job done, and the ledger's file lock free).
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Wait for a job, then take whatever else is queued, up to `limit` in all; `None` once every
/// sender is gone.
pub fn next_group<J>(queue: &mpsc::Receiver<J>, limit: usize) -> Option<Vec<J>> {
    let first = queue.recv().ok()?;
    let mut group = vec![first];
    group.extend(queue.try_iter().take(limit.saturating_sub(1)));
    Some(group)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A group is what is queued when the thread looks, never more than the limit, in order.
    #[test]
    fn a_group_takes_what_is_queued_up_to_the_limit() {
        let (jobs, queue) = mpsc::channel();
        for i in 0..5 {
            jobs.send(i).unwrap();
        }
        assert_eq!(next_group(&queue, 3), Some(vec![0, 1, 2]));
        assert_eq!(next_group(&queue, 3), Some(vec![3, 4]));
        drop(jobs);
        assert_eq!(next_group(&queue, 3), None);
    }

    /// Every job is answered, and dropping the worker waits for the thread.
    #[tokio::test]
    async fn jobs_are_answered_and_drop_waits_for_the_thread() {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = done.clone();
        let worker: Worker<(u32, Reply<u32>)> = Worker::start(
            "doubler",
            move |queue: mpsc::Receiver<(u32, Reply<u32>)>| {
                while let Some(group) = next_group(&queue, 8) {
                    for (n, reply) in group {
                        let _ = reply.send(Ok(2 * n));
                    }
                }
                flag.store(true, std::sync::atomic::Ordering::Release);
            },
        )
        .unwrap();
        assert_eq!(worker.submit(|r| (21, r)).await.unwrap(), 42);
        drop(worker);
        assert!(done.load(std::sync::atomic::Ordering::Acquire));
    }
}
