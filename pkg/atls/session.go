package atls

import (
	"crypto/sha256"
	"crypto/tls"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

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

	// Timers of profile 1.9, guarded by the table's lock.
	created    time.Time
	lastFlight time.Time
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

// sessionTable holds a replica's sessions and enforces its capacity.
type sessionTable struct {
	mu         sync.Mutex
	byID       map[string]*session
	handshakes int // sessions in stateHandshake
	lifetimes  Lifetimes
}

func newSessionTable(l Lifetimes) *sessionTable {
	return &sessionTable{byID: make(map[string]*session), lifetimes: l}
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

// reserve admits a new session if capacity allows. It sweeps expired
// sessions first when the table looks full, and returns them for cleanup.
func (t *sessionTable) reserve(s *session, maxHandshakes, maxSessions int, now time.Time) (ok bool, swept []*session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.handshakes >= maxHandshakes || len(t.byID) >= maxSessions {
		swept = t.sweepLocked(now)
	}
	if t.handshakes >= maxHandshakes || len(t.byID) >= maxSessions {
		return false, swept
	}
	s.created, s.lastFlight = now, now
	t.byID[s.sid] = s
	t.handshakes++
	return true, swept
}

// setState moves a session between states, keeping the handshake count.
func (t *sessionTable) setState(s *session, st sessionState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, live := t.byID[s.sid]; live && s.getState() == stateHandshake && st != stateHandshake {
		t.handshakes--
	}
	atomic.StoreInt32((*int32)(&s.state), int32(st))
}

func (t *sessionTable) touch(s *session, now time.Time) {
	t.mu.Lock()
	s.lastFlight = now
	t.mu.Unlock()
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
		t.handshakes--
	}
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
