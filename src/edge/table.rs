//! What every connection of the process shares: the connection table and
//! the budget of bytes the server holds for clients.
//!
//! - **The budget.** Bytes of unfinished requests (held once, by the
//!   connection wrapper, until a request is whole) and bytes of answers the
//!   client does not take (what the last blocked write offered) are charged
//!   to one process-wide [`BUDGET`]. A charge past it sheds the connection
//!   holding the most, oldest first; that is the only way many connections,
//!   each within its own limits, could add up to more memory.
//! - **Room for an answer.** What actix holds for a shed connection's
//!   answer is freed only when its task next runs, after every task already
//!   queued on its worker; in a burst of new connections each would make
//!   its answer before any shed one is gone. So that still counts until the
//!   connection has closed, and a new request is let through to the app
//!   only while the budget has [`ROOM`] left for its answer
//!   ([`Table::admit`]); when it has not, the request waits (its client's
//!   deadline still running) and, if no shed connection is closing already,
//!   it sheds those holding the most, down to half the budget.
//! - **Waiting in turn.** Requests waiting for room wait in one queue per
//!   client address (an IPv6 /64 counts as one), and the queues are woken
//!   in turn: one client's thousand connections cannot keep another's
//!   single request waiting behind them.
//! - **Unfinished requests are freed at once.** Between polls a
//!   connection's buffer of unframed bytes is kept in its [`Slot`], so
//!   shedding the connection frees it there and then, whatever its task is
//!   waiting behind; only what actix holds for an answer waits for the
//!   task to run.
//! - **The table.** At most `WXAUTH_MAX_CONNECTIONS` connections are
//!   counted. A new one past that evicts, of the client address holding the
//!   most connections, the one that has waited on its client longest (an
//!   idle keep-alive, or the slowest unfinished request); a whole request
//!   waiting for room only when no connection waits on its client, and
//!   never one whose request is being answered; so one address holding
//!   every slot cannot keep another client out, nor, churning through the
//!   table, push out another's connection that is waiting its turn. Only
//!   when every connection is busy is the newcomer closed unanswered.
//!
//! Connections live on several worker threads; each has a [`Slot`] here
//! (atomics and a waker), and the table itself is one short-held mutex.

use bytes::BytesMut;
use futures_util::task::AtomicWaker;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

/// Bytes held for all clients together (unfinished requests and answers
/// not taken), at most: 4 MiB, 256 full 16 KiB heads or about 40 blocked
/// 32 KiB answers (each charged with what actix holds for it).
pub const BUDGET: usize = 4 * 1024 * 1024;
/// What a new request needs left in the budget to be let through: about
/// what an answer its client does not take holds (see `BLOCKED` in
/// [`super::conn`]).
pub const ROOM: usize = 64 * 1024;

/// The address a connection waits in turn under: its peer's, an IPv6
/// peer's /64 (what one host is usually given), an IPv4-mapped one as IPv4.
pub(super) fn group(peer: Option<IpAddr>) -> IpAddr {
    match peer {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        },
        Some(v4) => v4,
        None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// Milliseconds since the process's first connection, never 0 (0 means
/// "not waiting" in [`Slot::waiting_since`]).
fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let elapsed = EPOCH.get_or_init(Instant::now).elapsed().as_millis();
    u64::try_from(elapsed).unwrap_or(u64::MAX).saturating_add(1)
}

/// One connection's entry in the table.
#[derive(Debug)]
pub(super) struct Slot {
    id: u64,
    /// The client address it waits in turn under ([`group`]).
    group: IpAddr,
    /// How many connections of that address the table counts (shared by
    /// them; changed only under the table's lock).
    peers: Arc<AtomicUsize>,
    /// Whether it is in the queue of [`Waiters`].
    queued: AtomicBool,
    /// Bytes charged to the budget.
    held: AtomicUsize,
    /// Bytes it held when it was shed, counted until it closes.
    draining: AtomicUsize,
    /// Since when the connection waits with no request being answered (on
    /// its client: idle, or an unfinished request; or for room for a whole
    /// request); 0: busy.
    waiting_since: AtomicU64,
    /// It waits for room for a whole request, not on its client.
    whole: AtomicBool,
    /// Closed by the table: the connection ends at its next poll.
    evicted: AtomicBool,
    waker: AtomicWaker,
    /// The connection's unframed bytes while its task is not running (see
    /// [`super::conn`]): shedding frees them at once.
    buffer: Mutex<BytesMut>,
}

impl Slot {
    /// Whether the table closed this connection.
    pub(super) fn evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }

    /// The task to wake when the table closes this connection.
    pub(super) fn register(&self, waker: &std::task::Waker) {
        self.waker.register(waker);
    }

    /// The connection waits on its client (from now, unless it already did).
    pub(super) fn waiting(&self) {
        self.whole.store(false, Ordering::Release);
        self.wait();
    }

    /// The connection has a whole request that waits for room in the
    /// budget (from now, unless it already waited).
    pub(super) fn waiting_for_room(&self) {
        self.whole.store(true, Ordering::Release);
        self.wait();
    }

    fn wait(&self) {
        let _ =
            self.waiting_since
                .compare_exchange(0, now_ms(), Ordering::AcqRel, Ordering::Relaxed);
    }

    /// The connection has a whole request to answer.
    pub(super) fn busy(&self) {
        self.whole.store(false, Ordering::Release);
        self.waiting_since.store(0, Ordering::Release);
    }

    /// The connection's buffer, for its task to work with.
    pub(super) fn take_buffer(&self) -> BytesMut {
        std::mem::take(&mut *self.buffer.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Keeps the buffer until the task runs again; dropped if the
    /// connection was shed meanwhile.
    pub(super) fn keep_buffer(&self, buffer: BytesMut) {
        let mut kept = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.evicted() {
            *kept = buffer;
        }
    }

    /// Where it comes in the order connections are shed in (the least
    /// first): the most held first, the oldest first among equals.
    fn shed_order(&self) -> (std::cmp::Reverse<usize>, u64) {
        (
            std::cmp::Reverse(self.held.load(Ordering::Acquire)),
            self.id,
        )
    }

    /// Ends the connection at its next poll; frees its buffer now (unless
    /// its task has it at hand), and says how many bytes that freed.
    fn evict(&self) -> usize {
        self.evicted.store(true, Ordering::Release);
        let freed = self.take_buffer().capacity();
        self.waker.wake();
        freed
    }
}

/// Whether a queued connection still waits: it has not closed (then only
/// the queue holds its slot) nor been shed.
fn still_waiting(slot: &Arc<Slot>) -> bool {
    Arc::strong_count(slot) > 1 && !slot.evicted()
}

/// Connections waiting for room: one queue per client address, the
/// addresses taking turns.
#[derive(Debug, Default)]
struct Waiters {
    by_group: HashMap<IpAddr, VecDeque<(Arc<Slot>, std::task::Waker)>>,
    turns: VecDeque<IpAddr>,
    len: usize,
}

impl Waiters {
    fn push(&mut self, slot: &Arc<Slot>, waker: &std::task::Waker) {
        if slot.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let queue = self.by_group.entry(slot.group).or_default();
        if queue.is_empty() {
            self.turns.push_back(slot.group);
        }
        queue.push_back((Arc::clone(slot), waker.clone()));
        self.len += 1;
    }

    /// Drops the connections that have closed or were shed.
    fn forget_closed(&mut self) {
        for queue in self.by_group.values_mut() {
            queue.retain(|(slot, _)| {
                let waiting = still_waiting(slot);
                if !waiting {
                    slot.queued.store(false, Ordering::Release);
                }
                waiting
            });
        }
        self.by_group.retain(|_, queue| !queue.is_empty());
        let by_group = &self.by_group;
        self.turns.retain(|group| by_group.contains_key(group));
        self.len = self.by_group.values().map(VecDeque::len).sum();
    }

    /// The next connection to wake: the first of the next address in turn.
    /// A connection that has closed meanwhile (only the queue holds its
    /// slot) or was shed is passed over.
    fn pop(&mut self) -> Option<std::task::Waker> {
        while let Some(group) = self.turns.pop_front() {
            let Some(queue) = self.by_group.get_mut(&group) else {
                continue;
            };
            let next = queue.pop_front();
            if queue.is_empty() {
                self.by_group.remove(&group);
            } else {
                self.turns.push_back(group);
            }
            let Some((slot, waker)) = next else {
                continue;
            };
            self.len -= 1;
            slot.queued.store(false, Ordering::Release);
            if still_waiting(&slot) {
                return Some(waker);
            }
        }
        None
    }
}

/// The connections the table counts, and how many each address has.
#[derive(Debug, Default)]
struct Slots {
    by_id: HashMap<u64, Arc<Slot>>,
    by_group: HashMap<IpAddr, Arc<AtomicUsize>>,
}

impl Slots {
    fn len(&self) -> usize {
        self.by_id.len()
    }

    fn values(&self) -> impl Iterator<Item = &Arc<Slot>> {
        self.by_id.values()
    }

    /// The count a new connection of `group` shares with its peers.
    fn peers(&mut self, group: IpAddr) -> Arc<AtomicUsize> {
        Arc::clone(self.by_group.entry(group).or_default())
    }

    fn insert(&mut self, slot: &Arc<Slot>) {
        slot.peers.fetch_add(1, Ordering::Relaxed);
        self.by_id.insert(slot.id, Arc::clone(slot));
    }

    fn remove(&mut self, id: u64) -> Option<Arc<Slot>> {
        let slot = self.by_id.remove(&id)?;
        if slot.peers.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.by_group.remove(&slot.group);
        }
        Some(slot)
    }

    /// The connection a newcomer to a full table evicts: of the address
    /// with the most connections, the one waiting on its client longest; a
    /// whole request waiting for room only when no connection waits on its
    /// client; none when every connection is busy.
    fn eviction(&self) -> Option<u64> {
        self.values()
            .filter(|slot| slot.waiting_since.load(Ordering::Acquire) != 0)
            .min_by_key(|slot| {
                (
                    slot.whole.load(Ordering::Acquire),
                    std::cmp::Reverse(slot.peers.load(Ordering::Relaxed)),
                    slot.waiting_since.load(Ordering::Acquire),
                    slot.id,
                )
            })
            .map(|slot| slot.id)
    }
}

/// The connection table and the budget; see the module.
#[derive(Debug)]
pub(super) struct Table {
    max_connections: usize,
    budget: usize,
    held: AtomicUsize,
    /// Bytes of shed connections that have not closed yet.
    draining: AtomicUsize,
    next_id: AtomicU64,
    slots: Mutex<Slots>,
    /// Requests waiting for [`ROOM`].
    waiters: Mutex<Waiters>,
    /// How many wait (read without the lock, on every release).
    queued: AtomicUsize,
}

impl Table {
    pub(super) fn new(max_connections: usize, budget: usize) -> Self {
        Self {
            max_connections: max_connections.max(1),
            budget,
            held: AtomicUsize::new(0),
            draining: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            slots: Mutex::new(Slots::default()),
            waiters: Mutex::new(Waiters::default()),
            queued: AtomicUsize::new(0),
        }
    }

    /// A slot for a new connection; when the table is full, evicting of the
    /// address with the most connections the one that has waited on its
    /// client longest. `None` when every connection is busy. `group`: the
    /// client address it counts and waits in turn under.
    pub(super) fn open(&self, group: IpAddr) -> Option<Arc<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.len() >= self.max_connections {
            let victim = slots.eviction()?;
            if let Some(slot) = slots.remove(victim) {
                self.shed(&slot);
            }
        }
        let slot = Arc::new(Slot {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            group,
            peers: slots.peers(group),
            queued: AtomicBool::new(false),
            held: AtomicUsize::new(0),
            draining: AtomicUsize::new(0),
            waiting_since: AtomicU64::new(now_ms()),
            whole: AtomicBool::new(false),
            evicted: AtomicBool::new(false),
            waker: AtomicWaker::new(),
            buffer: Mutex::new(BytesMut::new()),
        });
        slots.insert(&slot);
        Some(slot)
    }

    /// The connection ended: its slot and its charge are given back.
    pub(super) fn close(&self, slot: &Slot) {
        // Out of the table first: every shed happens under this lock, so
        // past it no shed of this slot is under way or to come, and what
        // one counted as draining is given back below (else it would be
        // counted for ever, and no more requests let through).
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(slot.id);
        drop(slot.take_buffer());
        let released = self.release_all(slot);
        let drained = slot.draining.swap(0, Ordering::AcqRel);
        self.draining.fetch_sub(drained, Ordering::AcqRel);
        self.wake_waiters(released.saturating_add(drained));
    }

    /// Whether a new request on `slot` may go to the app: the budget, with
    /// what shed connections still hold, has [`ROOM`] left. When it has
    /// not, `waker` is woken once bytes are given back, and the connections
    /// holding the most are shed down to half the budget unless some shed
    /// already are still closing.
    pub(super) fn admit(&self, slot: &Arc<Slot>, waker: &std::task::Waker) -> bool {
        if self.has_room() {
            self.pass_on();
            return true;
        }
        self.wait(slot, waker);
        if self.draining.load(Ordering::Acquire) < ROOM {
            // Down to half the budget at once, so that one round of closes
            // lets many waiting requests through, not one.
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            let mut holders: Vec<_> = slots
                .values()
                .filter(|other| other.id != slot.id)
                .map(|other| other.shed_order())
                .filter(|(std::cmp::Reverse(held), _)| *held > 0)
                .collect();
            holders.sort_unstable();
            for (_, victim) in holders {
                if self.held.load(Ordering::Acquire) <= self.budget / 2 {
                    break;
                }
                if let Some(other) = slots.remove(victim) {
                    self.shed(&other);
                }
            }
        }
        // Bytes given back between the check and the queueing would wake
        // no one: look again.
        self.has_room()
    }

    fn wait(&self, slot: &Arc<Slot>, waker: &std::task::Waker) {
        let mut waiters = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
        waiters.push(slot, waker);
        if waiters.len > self.max_connections.saturating_mul(2) {
            // Connections that closed while waiting leave only when popped:
            // the queue never holds more than twice the table.
            waiters.forget_closed();
        }
        self.queued.store(waiters.len, Ordering::Release);
    }

    /// One let through wakes the next waiting, so that a round of closes
    /// lets as many through as there is room for.
    fn pass_on(&self) {
        if self.queued.load(Ordering::Acquire) > 0 {
            self.wake(1);
        }
    }

    fn wake(&self, count: usize) {
        let mut waiters = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
        for _ in 0..count {
            match waiters.pop() {
                Some(waker) => waker.wake(),
                None => break,
            }
        }
        self.queued.store(waiters.len, Ordering::Release);
    }

    fn has_room(&self) -> bool {
        self.held
            .load(Ordering::Acquire)
            .saturating_add(self.draining.load(Ordering::Acquire))
            .saturating_add(ROOM)
            <= self.budget
    }

    /// Wakes those waiting that `released` bytes may make room for (one at
    /// least; each one let through wakes the next, [`Self::pass_on`]).
    fn wake_waiters(&self, released: usize) {
        if released == 0 || self.queued.load(Ordering::Acquire) == 0 {
            return;
        }
        self.wake(released / ROOM + 1);
    }

    /// Closes `slot` for the table: what its buffer held is freed now, the
    /// rest (what actix holds for an answer, or a buffer its task has at
    /// hand) counts as draining until the connection has closed.
    fn shed(&self, slot: &Slot) {
        let held = self.release_all(slot);
        let left = held.saturating_sub(slot.evict());
        slot.draining.fetch_add(left, Ordering::AcqRel);
        self.draining.fetch_add(left, Ordering::AcqRel);
        self.wake_waiters(held - left);
    }

    /// Sets what `slot` holds to `bytes`. Past the budget, the connection
    /// holding the most (oldest first) is shed; `false` when that is `slot`
    /// itself, which must then close.
    pub(super) fn hold(&self, slot: &Slot, bytes: usize) -> bool {
        let before = slot.held.swap(bytes, Ordering::AcqRel);
        if slot.evicted() {
            // Released by the eviction already; charge nothing more.
            slot.held.store(0, Ordering::Release);
            return false;
        }
        if bytes <= before {
            self.held.fetch_sub(before - bytes, Ordering::AcqRel);
            self.wake_waiters(before - bytes);
            return true;
        }
        let total = self
            .held
            .fetch_add(bytes - before, Ordering::AcqRel)
            .saturating_add(bytes - before);
        if total <= self.budget {
            return true;
        }
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        while self.held.load(Ordering::Acquire) > self.budget {
            let Some(victim) = slots
                .values()
                .min_by_key(|other| other.shed_order())
                .map(|other| other.id)
            else {
                break;
            };
            let Some(other) = slots.remove(victim) else {
                break;
            };
            self.shed(&other);
            if other.id == slot.id {
                return false;
            }
        }
        true
    }

    fn release_all(&self, slot: &Slot) -> usize {
        let held = slot.held.swap(0, Ordering::AcqRel);
        self.held.fetch_sub(held, Ordering::AcqRel);
        held
    }

    /// Bytes held for all connections.
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn past_the_budget_the_connection_holding_the_most_oldest_first_is_shed() {
        let table = Table::new(100, 100);
        let a = table.open(LOCAL).unwrap();
        let b = table.open(LOCAL).unwrap();
        let c = table.open(LOCAL).unwrap();
        assert!(table.hold(&a, 40));
        assert!(table.hold(&b, 40));
        assert_eq!(table.held(), 80);
        // c's charge passes the budget: a and b hold as much, a is older.
        assert!(table.hold(&c, 30));
        assert!(a.evicted() && !b.evicted() && !c.evicted());
        assert_eq!(table.held(), 70);
        // c grows past everyone: c itself goes.
        assert!(!table.hold(&c, 70));
        assert!(c.evicted());
        assert_eq!(table.held(), 40);
        table.close(&b);
        assert_eq!(table.held(), 0);
    }

    struct Flag(AtomicBool);

    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::Release);
        }
    }

    #[test]
    fn a_new_request_waits_for_room_until_the_connection_shed_for_it_has_closed() {
        let table = Table::new(100, 4 * ROOM);
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = std::task::Waker::from(Arc::clone(&flag));
        let holder = table.open(LOCAL).unwrap();
        let small = table.open(LOCAL).unwrap();
        let newcomer = table.open(LOCAL).unwrap();
        assert!(table.admit(&newcomer, &waker));
        assert!(table.hold(&small, 1));
        // Within the budget, but without room for one more answer.
        assert!(table.hold(&holder, 3 * ROOM));
        assert!(!table.admit(&newcomer, &waker));
        // The one holding the most is shed for it, ...
        assert!(holder.evicted() && !small.evicted());
        assert_eq!(table.held(), 1);
        // ... but its bytes are not free until its connection has closed.
        assert!(!table.admit(&newcomer, &waker));
        assert!(!small.evicted(), "one shed at a time");
        assert!(!flag.0.load(Ordering::Acquire));
        table.close(&holder);
        assert!(
            flag.0.load(Ordering::Acquire),
            "the waiting request is woken"
        );
        assert!(table.admit(&newcomer, &waker));
    }

    #[test]
    fn a_request_without_room_sheds_the_largest_holders_down_to_half_the_budget() {
        let table = Table::new(100, 8 * ROOM);
        let waker = futures_util::task::noop_waker();
        let holders: Vec<_> = (0..6).map(|_| table.open(LOCAL).unwrap()).collect();
        let newcomer = table.open(LOCAL).unwrap();
        for (holder, size) in holders.iter().zip([1, 2, 1, 2, 1, 1]) {
            assert!(table.hold(holder, size * ROOM));
        }
        assert_eq!(table.held(), 8 * ROOM);
        assert!(!table.admit(&newcomer, &waker));
        // The largest go, oldest first, until half the budget is left: one
        // round of closes lets many waiting requests through, not one.
        let shed: Vec<bool> = holders.iter().map(|holder| holder.evicted()).collect();
        assert_eq!(shed, [false, true, false, true, false, false]);
        assert_eq!(table.held(), 4 * ROOM);
        for holder in holders.iter().filter(|holder| holder.evicted()) {
            table.close(holder);
        }
        assert!(table.admit(&newcomer, &waker));
    }

    #[test]
    fn a_shed_connection_s_kept_buffer_is_freed_at_once() {
        let table = Table::new(100, 8 * ROOM);
        let waker = futures_util::task::noop_waker();
        let holder = table.open(LOCAL).unwrap();
        let newcomer = table.open(LOCAL).unwrap();
        // Between polls the holder's unfinished request waits in its slot.
        let buffer = BytesMut::with_capacity(7 * ROOM + 1);
        let size = buffer.capacity();
        holder.keep_buffer(buffer);
        assert!(table.hold(&holder, size));
        // No room for the newcomer's answer: the holder is shed for it, and
        // its bytes are gone now, not when its task next runs, so the
        // newcomer goes through without waiting for the close.
        assert!(table.admit(&newcomer, &waker));
        assert!(holder.evicted());
        assert_eq!(holder.take_buffer().capacity(), 0);
        assert_eq!(table.draining.load(Ordering::Acquire), 0);
        // A buffer its task had at hand is dropped when it is given back.
        let mut again = BytesMut::with_capacity(ROOM);
        again.extend_from_slice(b"GET");
        holder.keep_buffer(again);
        assert_eq!(holder.take_buffer().capacity(), 0);
    }

    #[test]
    fn waiting_requests_are_woken_one_address_at_a_time() {
        let table = Table::new(100, 2 * ROOM);
        let crowd = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 1, 1));
        let flags: Vec<_> = (0..4)
            .map(|_| Arc::new(Flag(AtomicBool::new(false))))
            .collect();
        let holder = table.open(LOCAL).unwrap();
        assert!(table.hold(&holder, ROOM + 1));
        // Three requests from one address wait, then one from another.
        for (n, flag) in flags.iter().enumerate() {
            let slot = table.open(if n < 3 { crowd } else { LOCAL }).unwrap();
            let waker = std::task::Waker::from(Arc::clone(flag));
            assert!(!table.admit(&slot, &waker));
            std::mem::forget(slot); // still open
        }
        // Room for two: the first of the crowd, then the other address's,
        // not the crowd's second.
        table.wake(2);
        let woken: Vec<bool> = flags
            .iter()
            .map(|flag| flag.0.load(Ordering::Acquire))
            .collect();
        assert_eq!(woken, [true, false, false, true]);
    }

    #[test]
    fn connections_that_closed_while_waiting_do_not_pile_up() {
        let table = Table::new(4, ROOM);
        let waker = futures_util::task::noop_waker();
        let holder = table.open(LOCAL).unwrap();
        assert!(table.hold(&holder, 1));
        // No room ever (the budget is one answer): each newcomer waits, and
        // closes while it waits.
        for _ in 0..100 {
            let slot = table.open(LOCAL).unwrap();
            assert!(!table.admit(&slot, &waker));
            table.close(&slot);
            assert!(table.queued.load(Ordering::Acquire) <= 2 * 4 + 1);
        }
    }

    #[test]
    fn an_ipv6_client_waits_in_turn_under_its_64() {
        let peer = |text: &str| group(Some(text.parse().unwrap()));
        assert_eq!(peer("2001:db8:1:2:aaaa::1"), peer("2001:db8:1:2:bbbb::9"));
        assert_ne!(peer("2001:db8:1:2::1"), peer("2001:db8:1:3::1"));
        assert_eq!(peer("::ffff:192.0.2.7"), peer("192.0.2.7"));
        assert_ne!(peer("192.0.2.7"), peer("192.0.2.8"));
    }

    #[test]
    fn a_full_table_evicts_from_the_address_holding_the_most() {
        let table = Table::new(4, usize::MAX);
        let crowd = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 1, 1));
        // Another client's connection waits longest (its request waiting
        // for room, say); the crowd's three came after it.
        let lone = table.open(LOCAL).unwrap();
        let crowded: Vec<_> = (0..3).map(|_| table.open(crowd).unwrap()).collect();
        // The crowd churns through the table: each newcomer takes the
        // place of the crowd's oldest, never the other client's.
        for round in 0..3 {
            let newcomer = table.open(crowd).unwrap();
            assert!(crowded.get(round).unwrap().evicted());
            assert!(!lone.evicted() && !newcomer.evicted());
        }
        // Counts follow closes: an address gone, its entry too.
        assert_eq!(table.slots.lock().unwrap().by_group.len(), 2);
        table.close(&lone);
        assert_eq!(table.slots.lock().unwrap().by_group.len(), 1);
        // Two addresses with as many: the longest waiting of them goes.
        let table = Table::new(4, usize::MAX);
        let first = table.open(crowd).unwrap();
        let second = table.open(LOCAL).unwrap();
        let _third = table.open(crowd).unwrap();
        let _fourth = table.open(LOCAL).unwrap();
        table.open(LOCAL).unwrap();
        assert!(first.evicted() && !second.evicted());
    }

    #[test]
    fn a_full_table_evicts_a_request_waiting_for_room_last() {
        // Every address with one connection (many attackers, one each):
        // the oldest is a whole request waiting for room in the budget.
        let table = Table::new(3, 2 * ROOM);
        let waker = futures_util::task::noop_waker();
        let address = |n| IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 1, n));
        let request = table.open(LOCAL).unwrap();
        let holder = table.open(address(1)).unwrap();
        assert!(table.hold(&holder, ROOM + 1));
        // The request waits for the holder shed for it to close.
        assert!(!table.admit(&request, &waker));
        request.waiting_for_room();
        assert!(holder.evicted());
        let idle = table.open(address(2)).unwrap();
        let slow = table.open(address(3)).unwrap();
        // Newcomers take the places of those waiting on their clients,
        // though the request has waited longer.
        let newcomer = table.open(address(4)).unwrap();
        assert!(idle.evicted() && !slow.evicted() && !request.evicted());
        // Woken to look for room again, it still waits for room.
        table.wake(1);
        table.open(address(5)).unwrap();
        assert!(slow.evicted() && !newcomer.evicted() && !request.evicted());
    }

    #[test]
    fn a_request_waiting_for_room_outlasts_a_crowd_s_idle_connections_whatever_its_address() {
        let table = Table::new(3, usize::MAX);
        let lone = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 1, 9));
        // The crowd's whole request waits for room; another address's
        // connection waits on its client, newer and on a smaller address.
        let request = table.open(LOCAL).unwrap();
        request.waiting_for_room();
        let busy = table.open(LOCAL).unwrap();
        busy.busy();
        let idle = table.open(lone).unwrap();
        let newcomer = table.open(LOCAL).unwrap();
        assert!(idle.evicted() && !request.evicted());
        // Answered, and back to waiting on its client (a keep-alive): an
        // ordinary idle connection again.
        newcomer.busy();
        request.busy();
        request.waiting();
        table.open(lone).unwrap();
        assert!(request.evicted() && !busy.evicted() && !newcomer.evicted());
    }

    #[test]
    fn a_full_table_evicts_the_longest_waiting_never_a_busy_one() {
        let table = Table::new(2, usize::MAX);
        let first = table.open(LOCAL).unwrap();
        let second = table.open(LOCAL).unwrap();
        first.busy();
        let third = table.open(LOCAL).unwrap();
        assert!(!first.evicted() && second.evicted() && !third.evicted());
        third.busy();
        // Everyone busy: the newcomer is refused.
        assert!(table.open(LOCAL).is_none());
        first.waiting();
        assert!(table.open(LOCAL).is_some());
        assert!(first.evicted());
    }
}
