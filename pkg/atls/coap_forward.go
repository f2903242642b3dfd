package atls

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	coapclient "github.com/plgd-dev/go-coap/v3/net/client"
	"github.com/plgd-dev/go-coap/v3/udp/coder"
)

// This file implements the CoAP binding across replicas (DESIGN decision
// 3, profile 7.3). A UDP balancer without stickiness hands consecutive
// messages of one client, even consecutive blocks of one flight, to
// different replicas. The binding's state between messages (Block1
// reassembly, answers kept for Block2, the exchange cache of 7.4, the
// sources verified by Echo in 7.6) is per replica, so every message is
// served by one replica, its home, and a replica that receives a message
// whose home is another forwards it there once, over the internal
// listener, and sends back the home's answer:
//
//   - a message to a session's location: the session's owner, named by
//     the sid (the location alone identifies the session, 7.3);
//   - any other message (the flight that starts a session, its Block2
//     continuations, OSCORE requests): the live replica that rendezvous
//     hashing picks for the client's endpoint, so that all blocks of a
//     ClientHello, its duplicates and its Echo retry meet at one replica,
//     and the session it starts is owned there.
//
// A home that cannot be reached is no worse than a lost datagram: a
// session's owner gone is 4.04 (its sessions are lost, as over HTTP); a
// hashed home gone is left out of the candidates (for unreachableFor, or
// until the registry drops it) and the message goes to the next one,
// which with two replicas is the one it landed on. A transfer the dead
// home held (blocks, a kept Block2 answer) is lost with it: 4.08, and the
// client starts the flight again.

// maxCoAPDatagram bounds one forwarded CoAP message and its answer.
const maxCoAPDatagram = 64 << 10

// CoAPReplicaConfig configures the CoAP binding of a replica among others.
type CoAPReplicaConfig struct {
	// Replicas lists the ids of the live replicas (this one among them),
	// the candidates for the home of a message that names no session. Nil
	// serves every such message here.
	Replicas func(ctx context.Context) ([]string, error)
	// Balancers are the addresses of UDP balancers whose datagrams start
	// with a PROXY protocol v1 header naming the client (ServeDatagrams).
	Balancers []netip.Prefix
}

// CoAPReplica is the CoAP binding of a replica that shares its sessions
// with others: it routes each message to its home and serves the messages
// others forward to it. The Server's Forwarder must be a CoAPForwarder
// (HTTPForwarder is) for messages to leave this replica.
type CoAPReplica struct {
	c    *CoAPServer
	cfg  CoAPReplicaConfig
	live liveReplicas
	// received counts the datagrams read; forwarded those sent to their
	// home; served those another replica forwarded here.
	received, forwarded, served atomic.Int64
	// nonMID numbers the Non-confirmable responses.
	nonMID atomic.Uint32
	// sources serializes, at the home, the messages of one client
	// endpoint, so that a retransmission arriving while its original is
	// still being answered finds the exchange cache's answer instead of
	// running beside it.
	sources sourceLocks
}

// sourceLocks is a mutex per client endpoint, held only while in use.
type sourceLocks struct {
	mu sync.Mutex
	m  map[netip.AddrPort]*sourceLock
}

type sourceLock struct {
	sync.Mutex
	users int
}

// lock locks source's mutex and returns its unlock.
func (s *sourceLocks) lock(source netip.AddrPort) (unlock func()) {
	s.mu.Lock()
	if s.m == nil {
		s.m = map[netip.AddrPort]*sourceLock{}
	}
	l := s.m[source]
	if l == nil {
		l = &sourceLock{}
		s.m[source] = l
	}
	l.users++
	s.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		s.mu.Lock()
		if l.users--; l.users == 0 {
			delete(s.m, source)
		}
		s.mu.Unlock()
	}
}

// NewCoAPReplica wraps c; the Server's internal listener then serves the
// messages other replicas forward (one CoAPReplica per Server).
func NewCoAPReplica(c *CoAPServer, cfg CoAPReplicaConfig) *CoAPReplica {
	r := &CoAPReplica{c: c, cfg: cfg}
	r.nonMID.Store(uint32(time.Now().UnixNano()))
	c.srv.coapReplica.Store(r)
	return r
}

// CoAPReplicaStats counts the messages of a replica's CoAP binding.
type CoAPReplicaStats struct {
	Received  int64 // datagrams read from the socket
	Forwarded int64 // messages sent to their home replica
	Served    int64 // messages other replicas forwarded here
}

// Stats reports the counters.
func (r *CoAPReplica) Stats() CoAPReplicaStats {
	return CoAPReplicaStats{Received: r.received.Load(), Forwarded: r.forwarded.Load(), Served: r.served.Load()}
}

// liveReplicasFor is how long a read of the live replicas is reused.
const liveReplicasFor = time.Second

// unreachableFor is how long a replica this one could not reach is left
// out of the candidates, while the registry may still list it (its
// heartbeat has not expired yet).
const unreachableFor = 30 * time.Second

// liveReplicas caches CoAPReplicaConfig.Replicas, without the replicas
// found unreachable.
type liveReplicas struct {
	mu     sync.Mutex
	ids    []string
	readAt time.Time
	down   map[string]time.Time // id → left out until
}

func (l *liveReplicas) get(ctx context.Context, read func(context.Context) ([]string, error), now time.Time) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.readAt.IsZero() || now.Sub(l.readAt) >= liveReplicasFor || now.Before(l.readAt) {
		// A registry that cannot be read keeps the last list: it must
		// not scatter the blocks of flights in progress.
		if ids, err := read(ctx); err == nil {
			l.ids, l.readAt = ids, now
		}
	}
	if len(l.down) == 0 {
		return l.ids
	}
	up := make([]string, 0, len(l.ids))
	for _, id := range l.ids {
		if until, ok := l.down[id]; ok && now.Before(until) {
			continue
		}
		delete(l.down, id)
		up = append(up, id)
	}
	return up
}

// unreachable leaves id out of the candidates for unreachableFor, so that
// the messages whose home it was find one new home, the same for every
// message, instead of each being served where it lands.
func (l *liveReplicas) unreachable(id string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down == nil {
		l.down = map[string]time.Time{}
	}
	l.down[id] = now.Add(unreachableFor)
}

// home returns the replica whose state serves the message m from source,
// and whether it is the owner named by a session's location (so that a
// failure to reach it means the session is lost). An empty home is this
// replica.
func (r *CoAPReplica) home(ctx context.Context, source netip.AddrPort, m *pool.Message) (home string, owner bool) {
	var path []string
	for _, o := range m.Options() {
		if o.ID == message.URIPath {
			path = append(path, string(o.Value))
		}
	}
	srv := r.c.srv
	if rest, ok := r.c.underResource(path); ok && len(rest) == 1 {
		id, err := srv.sids.owner(rest[0])
		if err != nil || id == srv.cfg.ReplicaID {
			return "", false // this replica answers 4.04, or owns it
		}
		return id, true
	}
	if r.cfg.Replicas == nil {
		return "", false
	}
	return rendezvous(source.String(), r.live.get(ctx, r.cfg.Replicas, srv.cfg.Now()), srv.cfg.ReplicaID), false
}

// rendezvous picks, among replicas, the one with the highest hash of the
// key and its id (highest random weight), so that every replica with the
// same list picks the same one and a replica leaving moves only its own
// keys. self, when picked or when the list is empty, is returned as "".
func rendezvous(key string, replicas []string, self string) string {
	best, bestSum := "", [sha256.Size]byte{}
	for _, id := range replicas {
		sum := sha256.Sum256([]byte(key + "\x00" + id))
		if best == "" || string(sum[:]) > string(bestSum[:]) {
			best, bestSum = id, sum
		}
	}
	if best == self {
		return ""
	}
	return best
}

// forwardToHome sends m to its home when that is another replica and
// returns the home's encoded answer (nil: send nothing). handled is false
// when this replica serves m itself.
func (r *CoAPReplica) forwardToHome(ctx context.Context, source netip.AddrPort, m *pool.Message) (answer []byte, handled bool) {
	srv := r.c.srv
	fw, ok := srv.cfg.Forwarder.(CoAPForwarder)
	if !ok {
		return nil, false
	}
	home, owner := r.home(ctx, source, m)
	if home == "" {
		return nil, false
	}
	raw, err := m.MarshalWithEncoder(coder.DefaultCoder)
	if err != nil {
		return nil, false
	}
	out, err := fw.ForwardCoAP(ctx, home, srv.cfg.Path, source, raw)
	if err == nil {
		r.forwarded.Add(1)
		return out, true
	}
	srv.cfg.Logger.Debug("atls: coap forward", "home", home, "err", err)
	if !owner {
		r.live.unreachable(home, srv.cfg.Now())
		if home, _ = r.home(ctx, source, m); home != "" {
			// The next candidate is another replica: forward once there.
			if out, err := fw.ForwardCoAP(ctx, home, srv.cfg.Path, source, raw); err == nil {
				r.forwarded.Add(1)
				return out, true
			}
		}
		return nil, false
	}
	// The session's owner is gone or unreachable: its sessions are lost.
	a := coapError(codes.NotFound, "unknown session (owner replica unavailable)")
	if !errors.Is(err, ErrUnknownOwner) {
		a = coapError(codes.ServiceUnavailable, "cannot reach the session's replica; retry").withMaxAge(time.Second)
	}
	resp := replyTo(ctx, m)
	a.writeTo(resp)
	b, err := resp.MarshalWithEncoder(coder.DefaultCoder)
	if err != nil {
		return nil, true
	}
	return b, true
}

// replyTo is the piggybacked answer's envelope for a request: an ACK with
// its message ID and token.
func replyTo(ctx context.Context, req *pool.Message) *pool.Message {
	resp := pool.NewMessage(ctx)
	resp.SetType(message.Acknowledgement)
	resp.SetMessageID(req.MessageID())
	resp.SetToken(req.Token())
	return resp
}

// serveForwarded answers, on the internal listener, a CoAP message another
// replica forwarded here as its home: the body is the message, the
// CoAPSourceHeader the client's endpoint; the answer is the encoded reply
// (204 when none is sent). Only a mutually authenticated TLS peer may name
// a source, since the source is what Echo verifies.
func (r *CoAPReplica) serveForwarded(w http.ResponseWriter, req *http.Request) {
	if req.TLS == nil || len(req.TLS.VerifiedChains) == 0 {
		writeError(w, errorf(http.StatusForbidden, "forwarded CoAP messages are taken from authenticated replicas only"))
		return
	}
	source, err := netip.ParseAddrPort(req.Header.Get(CoAPSourceHeader))
	if err != nil {
		writeError(w, errorf(http.StatusBadRequest, "%s: %v", CoAPSourceHeader, err))
		return
	}
	msg, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxCoAPDatagram))
	if err != nil {
		writeError(w, errorf(http.StatusRequestEntityTooLarge, "message exceeds %d bytes", maxCoAPDatagram))
		return
	}
	r.served.Add(1)
	out := r.answerDatagram(req.Context(), source, msg, false)
	if out == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(out)
}

// answerDatagram is the binding on one encoded CoAP message from source:
// the encoded reply, or nil when none is sent (RFC 7252 4.2-4.3: an ACK
// or RST from the client, a message that cannot be decoded). mayForward
// is false for a message that was forwarded here (forwarded once).
func (r *CoAPReplica) answerDatagram(ctx context.Context, source netip.AddrPort, data []byte, mayForward bool) []byte {
	m := pool.NewMessage(ctx)
	if _, err := m.UnmarshalWithDecoder(coder.DefaultCoder, data); err != nil {
		return nil
	}
	switch {
	case m.Type() == message.Acknowledgement || m.Type() == message.Reset:
		return nil
	case m.Code() == codes.Empty:
		// A CoAP ping (RFC 7252 4.3), or an empty NON: reset it.
		return encodeEmpty(ctx, message.Reset, m.MessageID())
	case m.Code() >= 32:
		return nil // a response is no request: ignore it
	}
	resp := replyTo(ctx, m)
	if m.Type() == message.NonConfirmable {
		// A Non-confirmable request is answered in a Non-confirmable
		// response of its own message ID (RFC 7252 5.2.3).
		resp.SetType(message.NonConfirmable)
		resp.SetMessageID(int32(uint16(r.nonMID.Add(1))))
	}
	if unknown := coapclient.GetUnknownCriticalOptionsWithQBlock(m.Options(), false); len(unknown) > 0 {
		// RFC 7252 5.4.1: 4.02 for a Confirmable request, a
		// Non-confirmable one is rejected silently.
		if m.Type() != message.Confirmable {
			return nil
		}
		coapError(codes.BadOption, coapclient.FormatUnknownCriticalOptionsDiagnostic(unknown)).writeTo(resp)
	} else {
		if mayForward {
			if out, handled := r.forwardToHome(ctx, source, m); handled {
				return out
			}
		}
		unlock := r.sources.lock(source)
		r.c.answer(ctx, source, m, resp)
		unlock()
	}
	out, err := resp.MarshalWithEncoder(coder.DefaultCoder)
	if err != nil {
		return nil
	}
	return out
}

// answer is what Handle does for one request from source, writing the
// reply into out.
func (c *CoAPServer) answer(ctx context.Context, source netip.AddrPort, m, out *pool.Message) {
	var a *coapAnswer
	req, err := parseCoAPRequest(m)
	if err != nil {
		a = coapError(codes.BadRequest, err.Error())
	} else {
		a = c.serve(ctx, source, req)
	}
	if a.code>>5 != 2 && !c.echo.isVerified(source.String(), c.srv.cfg.Now()) {
		a = withinAmplificationLimit(a, m)
	}
	a.writeTo(out)
}

func encodeEmpty(ctx context.Context, typ message.Type, mid int32) []byte {
	m := pool.NewMessage(ctx)
	m.SetType(typ)
	m.SetMessageID(mid)
	m.SetCode(codes.Empty)
	out, _ := m.MarshalWithEncoder(coder.DefaultCoder)
	return out
}
