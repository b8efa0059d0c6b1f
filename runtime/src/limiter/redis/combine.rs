//! Flat combining: callers that arrive while the backend is busy queue their requests, and a
//! few of them ("leaders") send what is queued as one batch and hand every caller its answer.
//!
//! A caller enqueues its request. If fewer than `leaders` callers are leading, it leads: it
//! takes up to `batch` requests from the front of the queue, runs them as one batch, delivers
//! each answer, and goes on while its own request has no answer. When its own is answered it
//! stops leading, passing the lead to the first queued caller that is not leading yet — so
//! the queue never waits without a leader and no leader serves others past its own answer.
//! A caller that does not lead waits for its answer until its deadline: then it takes its
//! request out of the queue if it is still there (it will not be run) and gives up. A request
//! already in a batch when its caller gives up is run all the same; its answer is dropped.
//!
//! Lock order: the queue's lock, then a slot's.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use super::super::lock;

/// A queued request and when its caller gives up on it.
pub(crate) struct Job<Q> {
    pub(crate) request: Q,
    pub(crate) deadline: Instant,
}

/// Where a caller's answer, or the lead, is handed to it.
struct Slot<A> {
    state: Mutex<Handed<A>>,
    changed: Condvar,
}

struct Handed<A> {
    answer: Option<A>,
    /// Another leader stopped and passed the lead to this caller, which must take it (or pass
    /// it on) even if its own answer came too: the count of leaders includes it.
    lead: bool,
}

impl<A> Slot<A> {
    fn new() -> Slot<A> {
        Slot { state: Mutex::new(Handed { answer: None, lead: false }), changed: Condvar::new() }
    }

    fn answer(&self, answer: A) {
        lock(&self.state).answer = Some(answer);
        self.changed.notify_one();
    }

    fn lead(&self) {
        lock(&self.state).lead = true;
        self.changed.notify_one();
    }
}

struct Entry<Q, A> {
    job: Job<Q>,
    slot: Arc<Slot<A>>,
    /// Whether this entry's caller is leading (or has been told to): it is never told twice.
    leading: bool,
}

struct Queue<Q, A> {
    entries: VecDeque<Entry<Q, A>>,
    /// Callers leading now, counting one that has been passed the lead and not woken yet.
    leaders: usize,
}

/// A queue of requests answered in batches by the callers themselves.
pub(crate) struct Combiner<Q, A> {
    queue: Mutex<Queue<Q, A>>,
    leaders: usize,
    batch: usize,
}

impl<Q, A> Combiner<Q, A> {
    /// A combiner running at most `leaders` batches at once (≥ 1), each of at most `batch`
    /// requests (≥ 1).
    pub(crate) fn new(leaders: usize, batch: usize) -> Combiner<Q, A> {
        Combiner { queue: Mutex::new(Queue { entries: VecDeque::new(), leaders: 0 }), leaders: leaders.max(1), batch: batch.max(1) }
    }

    /// Answers `request` by `run` (called by whichever caller leads, with a batch of queued
    /// jobs, returning one answer per job in order), or `None` if `deadline` passes first.
    pub(crate) fn submit(&self, request: Q, deadline: Instant, run: &dyn Fn(Vec<Job<Q>>) -> Vec<A>) -> Option<A> {
        let slot = Arc::new(Slot::new());
        let lead = {
            let mut q = lock(&self.queue);
            let lead = q.leaders < self.leaders;
            if lead {
                q.leaders += 1;
            }
            q.entries.push_back(Entry { job: Job { request, deadline }, slot: Arc::clone(&slot), leading: lead });
            lead
        };
        if lead {
            self.lead(&slot, run);
        }
        loop {
            {
                let mut state = lock(&slot.state);
                while state.answer.is_none() && !state.lead {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    state = slot.changed.wait_timeout(state, left).unwrap_or_else(std::sync::PoisonError::into_inner).0;
                }
            }
            // An answer, the lead, or the deadline: decide under the queue's lock, where the
            // lead is passed and requests are taken.
            let mut q = lock(&self.queue);
            let mut state = lock(&slot.state);
            if std::mem::take(&mut state.lead) {
                if state.answer.is_none() && Instant::now() >= deadline {
                    // Too late to lead: give up, and pass the lead on.
                    drop(state);
                    q.entries.retain(|e| !Arc::ptr_eq(&e.slot, &slot));
                    self.pass(&mut q);
                    return None;
                }
                drop(state);
                drop(q);
                // Passes the lead on at once if the answer is here.
                self.lead(&slot, run);
                continue;
            }
            if let Some(answer) = state.answer.take() {
                return Some(answer);
            }
            // The deadline: the request is not run if it is still queued.
            drop(state);
            q.entries.retain(|e| !Arc::ptr_eq(&e.slot, &slot));
            return None;
        }
    }

    /// Passes a lead that is being given up to the first queued caller not leading yet, or
    /// ends it when there is none.
    fn pass(&self, q: &mut Queue<Q, A>) {
        match q.entries.iter_mut().find(|e| !e.leading) {
            Some(next) => {
                next.leading = true;
                next.slot.lead();
            }
            None => q.leaders = q.leaders.saturating_sub(1),
        }
    }

    /// Runs batches until `own` has its answer, then passes the lead on (or ends it when the
    /// queue is empty: `own` is then in another leader's batch).
    fn lead(&self, own: &Arc<Slot<A>>, run: &dyn Fn(Vec<Job<Q>>) -> Vec<A>) {
        // Should `run` panic, the lead is not lost: the queue is not left without a leader.
        struct Leading<'c, Q, A>(&'c Combiner<Q, A>);
        impl<Q, A> Drop for Leading<'_, Q, A> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    let mut q = lock(&self.0.queue);
                    self.0.pass(&mut q);
                }
            }
        }
        let _leading = Leading(self);
        loop {
            let (jobs, slots) = {
                let mut q = lock(&self.queue);
                let answered = lock(&own.state).answer.is_some();
                if answered {
                    self.pass(&mut q);
                    return;
                }
                if q.entries.is_empty() {
                    q.leaders = q.leaders.saturating_sub(1);
                    return;
                }
                let n = q.entries.len().min(self.batch);
                let (jobs, slots): (Vec<Job<Q>>, Vec<Arc<Slot<A>>>) = q.entries.drain(..n).map(|e| (e.job, e.slot)).unzip();
                (jobs, slots)
            };
            let answers = run(jobs);
            for (slot, answer) in slots.iter().zip(answers) {
                slot.answer(answer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    const FAR: Duration = Duration::from_secs(3600);

    impl<Q, A> Combiner<Q, A> {
        fn queued(&self) -> usize {
            lock(&self.queue).entries.len()
        }

        fn leading(&self) -> usize {
            lock(&self.queue).leaders
        }
    }

    /// Waits (without bound: the test harness's own timeout is the bound) until `f` holds.
    fn until(f: impl Fn() -> bool) {
        while !f() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn every_request_is_answered_once_with_its_own_answer_by_at_most_the_leaders_at_once() {
        let combiner: Combiner<u64, u64> = Combiner::new(2, 16);
        let (in_flight, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let seen = Mutex::new(Vec::new());
        let run = |jobs: Vec<Job<u64>>| -> Vec<u64> {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            assert!(!jobs.is_empty() && jobs.len() <= 16, "a batch of {}", jobs.len());
            seen.lock().unwrap().extend(jobs.iter().map(|j| j.request));
            std::thread::yield_now();
            in_flight.fetch_sub(1, Ordering::SeqCst);
            jobs.iter().map(|j| j.request * 2).collect()
        };
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let (combiner, run) = (&combiner, &run);
                s.spawn(move || {
                    for i in 0..300u64 {
                        let request = t * 1000 + i;
                        assert_eq!(combiner.submit(request, Instant::now() + FAR, run), Some(request * 2));
                    }
                });
            }
        });
        let mut seen = seen.into_inner().unwrap();
        seen.sort_unstable();
        let expected: Vec<u64> = (0..8u64).flat_map(|t| (0..300).map(move |i| t * 1000 + i)).collect();
        assert_eq!(seen, expected, "every request run exactly once");
        assert!(most.load(Ordering::SeqCst) <= 2, "{} batches at once", most.load(Ordering::SeqCst));
        assert_eq!((combiner.queued(), combiner.leading()), (0, 0));
    }

    /// A combiner with one leader whose batches block until the test lets them go, recording each.
    struct Gate {
        combiner: Combiner<u64, u64>,
        batches: Mutex<Vec<Vec<u64>>>,
        entered: Mutex<mpsc::Sender<()>>,
        release: Mutex<mpsc::Receiver<()>>,
    }

    impl Gate {
        fn new() -> (Gate, mpsc::Receiver<()>, mpsc::Sender<()>) {
            let (entered_tx, entered_rx) = mpsc::channel();
            let (release_tx, release_rx) = mpsc::channel();
            let gate = Gate {
                combiner: Combiner::new(1, 64),
                batches: Mutex::new(Vec::new()),
                entered: Mutex::new(entered_tx),
                release: Mutex::new(release_rx),
            };
            (gate, entered_rx, release_tx)
        }

        fn submit(&self, request: u64, within: Duration) -> Option<u64> {
            self.combiner.submit(request, Instant::now() + within, &|jobs: Vec<Job<u64>>| {
                self.batches.lock().unwrap().push(jobs.iter().map(|j| j.request).collect());
                self.entered.lock().unwrap().send(()).unwrap();
                self.release.lock().unwrap().recv().unwrap();
                jobs.iter().map(|j| j.request + 100).collect()
            })
        }
    }

    #[test]
    fn a_queued_request_whose_caller_gives_up_is_never_sent() {
        let (gate, entered, release) = Gate::new();
        std::thread::scope(|s| {
            let first = s.spawn(|| gate.submit(1, FAR));
            entered.recv().unwrap();
            // The only leader is blocked in its batch: this one can only give up.
            assert_eq!(gate.submit(2, Duration::from_millis(20)), None);
            assert_eq!(gate.combiner.queued(), 0, "it left the queue");
            release.send(()).unwrap();
            assert_eq!(first.join().unwrap(), Some(101));
        });
        assert_eq!(*gate.batches.lock().unwrap(), vec![vec![1]]);
        // The lead was not lost.
        release.send(()).unwrap();
        assert_eq!(gate.submit(3, FAR), Some(103));
        assert_eq!(gate.combiner.leading(), 0);
    }

    #[test]
    fn a_leader_answered_passes_the_lead_to_the_first_queued_caller_who_sends_the_rest_as_one_batch() {
        let (gate, entered, release) = Gate::new();
        std::thread::scope(|s| {
            let first = s.spawn(|| gate.submit(1, FAR));
            entered.recv().unwrap();
            let second = s.spawn(|| gate.submit(2, FAR));
            until(|| gate.combiner.queued() == 1);
            let third = s.spawn(|| gate.submit(3, FAR));
            until(|| gate.combiner.queued() == 2);
            release.send(()).unwrap();
            entered.recv().unwrap();
            release.send(()).unwrap();
            assert_eq!(first.join().unwrap(), Some(101));
            assert_eq!(second.join().unwrap(), Some(102));
            assert_eq!(third.join().unwrap(), Some(103));
        });
        assert_eq!(*gate.batches.lock().unwrap(), vec![vec![1], vec![2, 3]]);
        assert_eq!((gate.combiner.queued(), gate.combiner.leading()), (0, 0));
    }

    #[test]
    fn a_leader_whose_batch_panics_does_not_take_the_lead_with_it() {
        let combiner: Combiner<u64, u64> = Combiner::new(1, 8);
        let panicked =
            std::thread::scope(|s| s.spawn(|| combiner.submit(1, Instant::now() + FAR, &|_| panic!("a broken batch"))).join().is_err());
        assert!(panicked);
        assert_eq!(combiner.leading(), 0);
        assert_eq!(combiner.submit(2, Instant::now() + FAR, &|jobs| jobs.iter().map(|j| j.request).collect()), Some(2));
    }
}
