//! The usage writer's inbox: every worker thread's usage events gathered under one lock, with
//! one message to the writer per gathering instead of one per request (each message to another
//! thread's actor can cost a wake-up system call).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use actix::{Addr, Context, Handler, Message};

use super::UsageEvent;
use super::actor::UsageWriter;

/// Where the executors and the refusals send usage events. Cheap to clone.
#[derive(Debug, Clone)]
pub struct UsageInbox {
    events: Arc<Mutex<Vec<UsageEvent>>>,
    writer: Addr<UsageWriter>,
}

/// Tells the writer to take what the inbox gathered.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Drain(Arc<Mutex<Vec<UsageEvent>>>);

fn lock(events: &Mutex<Vec<UsageEvent>>) -> MutexGuard<'_, Vec<UsageEvent>> {
    // A push or a take cannot panic half-way: the events are whole either way.
    events.lock().unwrap_or_else(PoisonError::into_inner)
}

impl UsageInbox {
    /// An inbox in front of `writer`.
    pub fn new(writer: Addr<UsageWriter>) -> Self {
        Self { events: Arc::default(), writer }
    }

    /// Hands one request's event to the writer. Only the first event into an empty inbox sends
    /// a message: later ones ride on it until the writer takes them all, so under load one
    /// wake-up carries many events, and none waits behind a message that was never sent.
    pub fn send(&self, event: UsageEvent) {
        let first = {
            let mut q = lock(&self.events);
            q.push(event);
            q.len() == 1
        };
        if first {
            self.writer.do_send(Drain(Arc::clone(&self.events)));
        }
    }
}

impl Handler<Drain> for UsageWriter {
    type Result = ();

    fn handle(&mut self, msg: Drain, ctx: &mut Context<Self>) {
        let events = std::mem::take(&mut *lock(&msg.0));
        for e in events {
            self.accept(e, ctx);
        }
    }
}
