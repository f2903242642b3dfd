package atls

import (
	"crypto/sha256"
	"crypto/tls"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// This file implements the session table (profile 1.2, 1.9): a session's
// state, its last answer for retransmissions (1.7), its lifetimes and the
// handshake capacity limits (1.5, 503).

// sessionState is where a session stands in the profile's life cycle.
type sessionState int32

const (
	stateHandshake   sessionState = iota // ClientHello seen, handshake running
	stateEstablished                     // records mode: inner requests flow
	stateExported                        // key export done; only retries answered (4.2)
	stateEnded                           // ended by an alert or the peer; only retries answered
)

// session is one ATLS session on the replica that ran its handshake.
type session struct {
	sid string
	// client is the address the session was admitted for (the rate-limit
	// key), which the per-client handshake cap counts against.
	client string

	// mu serialises the POSTs of a session: flights are processed in order.
	mu    sync.Mutex
	state sessionState
	eng   *engine // nil once the TLS state is released
	tls   *tls.Conn

	// Retransmission cache (profile 1.7): the last flight's digest and answer.
	lastDigest [sha256.Size]byte
	lastAnswer []byte
	hasLast    bool

	// exportedID is the server CID of the context this session exported.
	exportedID []byte

	// Set by the engine goroutine, read by the driver after a step.
	handshakeDone atomic.Bool
	awaitingInner atomic.Bool // records mode: blocked at a request boundary
	failure       error       // protocol error detected by the engine (4.1)
	proto         string      // negotiated ALPN, once handshakeDone
	outer         *http.Request

	// Timers of profile 1.9, guarded by the table's lock, and whether a
	// POST of the session is being processed (for WaitHandshakes).
	created    time.Time
	lastFlight time.Time
	busy       bool
}

// cached returns the answer to a byte-identical retry of the last flight.
func (s *session) cached(digest [sha256.Size]byte) ([]byte, bool) {
	if s.hasLast && s.lastDigest == digest {
		return s.lastAnswer, true
	}
	return nil, false
}

func (s *session) remember(digest [sha256.Size]byte, answer []byte) {
	s.lastDigest, s.lastAnswer, s.hasLast = digest, answer, true
}

// release drops the TLS state; only the retransmission cache remains.
func (s *session) release() {
	if s.eng != nil {
		s.eng.stop()
		s.eng, s.tls = nil, nil
	}
}

// sessionTable holds a replica's sessions and enforces its capacity: in
// total, in handshake, and in handshake per client address.
type sessionTable struct {
	mu         sync.Mutex
	byID       map[string]*session
	handshakes int            // sessions in stateHandshake
	perClient  map[string]int // sessions in stateHandshake by client
	lifetimes  Lifetimes
	limits     tableLimits
	// changed, when a waiter asked for it, is closed at the next change of
	// a session's progress (see watchLocked).
	changed chan struct{}
}

// tableLimits are the capacity limits of ServerConfig; a negative
// perClient disables that cap.
type tableLimits struct {
	handshakes, sessions, perClient int
}

func newSessionTable(l Lifetimes, limits tableLimits) *sessionTable {
	return &sessionTable{byID: make(map[string]*session), perClient: make(map[string]int), lifetimes: l, limits: limits}
}

// expired applies the lifetimes of profile 1.9.
func (t *sessionTable) expired(s *session, now time.Time) bool {
	switch s.getState() {
	case stateHandshake:
		return now.Sub(s.lastFlight) > t.lifetimes.HandshakeIdle || now.Sub(s.created) > t.lifetimes.HandshakeTotal
	case stateEstablished:
		return now.Sub(s.lastFlight) > t.lifetimes.RecordsIdle
	default:
		// A finished session lives on only to answer retries of its last
		// flight, as long as a session in handshake would (4.2).
		return now.Sub(s.lastFlight) > t.lifetimes.HandshakeIdle
	}
}

// get returns a live session; an expired one is removed and reported absent.
func (t *sessionTable) get(sid string, now time.Time) (*session, []*session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.byID[sid]
	if !ok {
		return nil, nil
	}
	if t.expired(s, now) {
		t.removeLocked(s)
		return nil, []*session{s}
	}
	return s, nil
}

// admission is the table's answer to a new session.
type admission int

const (
	admitted        admission = iota
	refusedClient             // the client's cap of sessions in handshake (429)
	refusedCapacity           // the replica's capacity (503)
)

// reserve admits a new session in handshake if capacity allows. It sweeps
// expired sessions first when the table looks full, and returns them for
// cleanup. The per-client cap is checked first, so that one client at its
// cap is told 429 rather than 503.
func (t *sessionTable) reserve(s *session, now time.Time) (admission, []*session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var swept []*session
	if t.full(s.client) {
		swept = t.sweepLocked(now)
	}
	switch {
	case t.limits.perClient >= 0 && t.perClient[s.client] >= t.limits.perClient:
		return refusedClient, swept
	case t.handshakes >= t.limits.handshakes || len(t.byID) >= t.limits.sessions:
		return refusedCapacity, swept
	}
	s.created, s.lastFlight, s.busy = now, now, true
	t.byID[s.sid] = s
	t.handshakes++
	t.perClient[s.client]++
	t.notifyLocked()
	return admitted, swept
}

func (t *sessionTable) full(client string) bool {
	return t.handshakes >= t.limits.handshakes || len(t.byID) >= t.limits.sessions ||
		t.limits.perClient >= 0 && t.perClient[client] >= t.limits.perClient
}

// setState moves a session between states, keeping the handshake counts.
func (t *sessionTable) setState(s *session, st sessionState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, live := t.byID[s.sid]; live && s.getState() == stateHandshake && st != stateHandshake {
		t.leaveHandshakeLocked(s)
	}
	atomic.StoreInt32((*int32)(&s.state), int32(st))
	t.notifyLocked()
}

// begin marks a POST of s as being processed; touch ends it.
func (t *sessionTable) begin(s *session, now time.Time) {
	t.mu.Lock()
	s.lastFlight, s.busy = now, true
	t.mu.Unlock()
}

func (t *sessionTable) touch(s *session, now time.Time) {
	t.mu.Lock()
	s.lastFlight, s.busy = now, false
	t.notifyLocked()
	t.mu.Unlock()
}

func (t *sessionTable) leaveHandshakeLocked(s *session) {
	t.handshakes--
	if t.perClient[s.client]--; t.perClient[s.client] <= 0 {
		delete(t.perClient, s.client)
	}
}

// progressing counts the sessions in handshake that are still moving: a
// POST of theirs is being processed, or their last flight is at most stall
// old. An abandoned half-open session stops counting after stall, long
// before its lifetime (1.9) ends. next is when the next of the counted
// sessions would stop counting, and changed is closed at the next change.
func (t *sessionTable) progressing(now time.Time, stall time.Duration) (n int, next time.Time, changed <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.byID {
		if s.getState() != stateHandshake || !s.busy && now.Sub(s.lastFlight) > stall {
			continue
		}
		n++
		if !s.busy {
			if at := s.lastFlight.Add(stall); next.IsZero() || at.Before(next) {
				next = at
			}
		}
	}
	if n > 0 {
		changed = t.watchLocked()
	}
	return n, next, changed
}

// watchLocked returns a channel closed at the next change. The channel is
// made only when someone waits, so that flights cost nothing otherwise.
func (t *sessionTable) watchLocked() <-chan struct{} {
	if t.changed == nil {
		t.changed = make(chan struct{})
	}
	return t.changed
}

func (t *sessionTable) notifyLocked() {
	if t.changed != nil {
		close(t.changed)
		t.changed = nil
	}
}

// remove deletes a session from the table; it reports whether it was there.
func (t *sessionTable) remove(s *session) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.removeLocked(s)
}

func (t *sessionTable) removeLocked(s *session) bool {
	if t.byID[s.sid] != s {
		return false
	}
	delete(t.byID, s.sid)
	if s.getState() == stateHandshake {
		t.leaveHandshakeLocked(s)
	}
	t.notifyLocked()
	return true
}

// sweep removes every expired session and returns them for cleanup.
func (t *sessionTable) sweep(now time.Time) []*session {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sweepLocked(now)
}

func (t *sessionTable) sweepLocked(now time.Time) []*session {
	var out []*session
	for _, s := range t.byID {
		if t.expired(s, now) {
			t.removeLocked(s)
			out = append(out, s)
		}
	}
	return out
}

// counts reports sessions in handshake and in total.
func (t *sessionTable) counts() (handshakes, total int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.handshakes, len(t.byID)
}

// all removes and returns every session (server shutdown).
func (t *sessionTable) drain() []*session {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*session, 0, len(t.byID))
	for _, s := range t.byID {
		t.removeLocked(s)
		out = append(out, s)
	}
	return out
}

func (s *session) getState() sessionState {
	return sessionState(atomic.LoadInt32((*int32)(&s.state)))
}

// exporting reports whether the session negotiated a key-export mode.
func (s *session) exporting() bool { return isKeyExport(s.proto) }
