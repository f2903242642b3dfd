package atls

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// This file implements the flight transport (profile 1.1, DESIGN decision
// 1).
//
// ATLS runs an unmodified crypto/tls endpoint over flightConn, an in-memory
// net.Conn. Each side's TLS engine runs in its own goroutine and never knows
// that HTTP carries its bytes:
//
//   - Write never blocks: records are appended to an outgoing buffer.
//   - Read on an empty incoming buffer blocks (crypto/tls errors are sticky,
//     so it must not fail) and signals that the engine has nothing more to
//     say until its peer answers: the flight is over.
//
// The driver (the server's POST handler, or the client's request loop) puts
// one received flight into the incoming buffer, then waits until the engine
// either blocks in Read again or finishes, and sends whatever was written as
// the next flight. A flight therefore ends on "Read blocked" or "engine
// finished", never on "Handshake returned", which would cut a records-mode
// response or the key-export carrier short.

// errConnClosed is returned by Read and Write once the driver closed the
// connection (session ended, expired or deleted).
var errConnClosed = errors.New("atls: flight connection closed")

type flightConn struct {
	mu       sync.Mutex
	cond     sync.Cond
	in       []byte // received, not yet read by the engine
	out      []byte // written by the engine, not yet sent
	closed   bool
	idle     chan struct{} // one token per "Read blocked on empty input"
	reported bool          // idle already signalled for the current wait
	local    net.Addr
	remote   net.Addr
	// localCert is the DER certificate the server presented, recorded by
	// its GetCertificate hook.
	localCert []byte
	// noWait makes Read on empty input fail with a temporary error instead
	// of blocking. The client sets it once its handshake is done: every
	// later answer must be complete in one flight. crypto/tls does not make
	// temporary errors sticky, so the connection stays usable.
	noWait bool
	// exchange, when set, makes the connection drive itself (the client's
	// handshake): a Read on empty input sends what the engine wrote as one
	// flight and reads the answer in the engine's own goroutine, instead
	// of signalling a driver goroutine. Its error fails the Read.
	exchange func(flight []byte) (answer []byte, err error)
}

// errWouldBlock is the temporary error of a noWait Read on empty input.
type errWouldBlock struct{}

func (errWouldBlock) Error() string   { return "atls: flight ended before the message was complete" }
func (errWouldBlock) Timeout() bool   { return true }
func (errWouldBlock) Temporary() bool { return true }

func newFlightConn(local, remote net.Addr) *flightConn {
	c := &flightConn{idle: make(chan struct{}, 1), local: local, remote: remote}
	c.cond.L = &c.mu
	return c
}

// Read implements net.Conn. It blocks while there is no input, after
// signalling that the current flight is complete.
func (c *flightConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.in) == 0 {
		if c.closed {
			return 0, io.EOF
		}
		if c.noWait {
			return 0, errWouldBlock{}
		}
		if c.exchange != nil {
			flight := c.out
			c.out = nil
			c.mu.Unlock()
			answer, err := c.exchange(flight)
			c.mu.Lock()
			if err != nil {
				return 0, err
			}
			c.in = answer
			continue
		}
		if !c.reported {
			c.reported = true
			select {
			case c.idle <- struct{}{}:
			default:
			}
		}
		c.cond.Wait()
	}
	n := copy(p, c.in)
	c.in = c.in[n:]
	if len(c.in) == 0 {
		c.in = nil // release the flight's buffer as soon as it is consumed
	}
	return n, nil
}

// Write implements net.Conn; it never blocks.
func (c *flightConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, errConnClosed
	}
	c.out = append(c.out, p...)
	return len(p), nil
}

// feed hands one received flight to the engine. The connection reads from
// flight in place, without a copy, so the caller must not modify it.
func (c *flightConn) feed(flight []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Drop a stale idle token: the wait that follows this feed must see the
	// engine block again after consuming this flight.
	select {
	case <-c.idle:
	default:
	}
	if len(c.in) == 0 {
		c.in = flight
	} else {
		c.in = append(c.in, flight...)
	}
	c.reported = false
	c.cond.Broadcast()
}

// setNoWait switches Read to non-blocking mode (see noWait) and ends
// self-driving (see exchange).
func (c *flightConn) setNoWait() {
	c.mu.Lock()
	c.noWait = true
	c.exchange = nil
	c.mu.Unlock()
}

// take returns and clears everything the engine wrote.
func (c *flightConn) take() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.out
	c.out = nil
	return out
}

// Close implements net.Conn: a blocked Read returns io.EOF.
func (c *flightConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.in = nil
	c.cond.Broadcast()
	return nil
}

func (c *flightConn) LocalAddr() net.Addr              { return c.local }
func (c *flightConn) RemoteAddr() net.Addr             { return c.remote }
func (c *flightConn) SetDeadline(time.Time) error      { return nil }
func (c *flightConn) SetReadDeadline(time.Time) error  { return nil }
func (c *flightConn) SetWriteDeadline(time.Time) error { return nil }

// engine runs one TLS endpoint's goroutine over a flightConn and lets a
// driver step it flight by flight.
type engine struct {
	conn  *flightConn
	done  chan struct{} // closed when run returns
	timer *time.Timer   // the flight timeout, reused from flight to flight
}

func startEngine(conn *flightConn, run func()) *engine {
	e := &engine{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		run()
	}()
	return e
}

// errFlightTimeout reports that the engine neither blocked nor finished in
// time, which only a stuck inner handler can cause.
var errFlightTimeout = errors.New("atls: flight processing timed out")

// step feeds flight (which may be empty) and waits for the end of the
// engine's answering flight. It returns what the engine wrote and whether
// the engine has finished.
func (e *engine) step(flight []byte, timeout time.Duration) (out []byte, finished bool, err error) {
	if len(flight) == 0 {
		// Nothing to feed: the engine is already blocked or finished, so
		// the answer is whatever it wrote meanwhile (profile 1.1).
		return e.conn.take(), e.finished(), nil
	}
	e.conn.feed(flight)
	return e.wait(timeout)
}

func (e *engine) finished() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// wait waits for the engine to block on input or finish.
func (e *engine) wait(timeout time.Duration) (out []byte, finished bool, err error) {
	if e.timer == nil {
		e.timer = time.NewTimer(timeout)
	} else {
		e.timer.Reset(timeout) // stopped by the last wait; Reset drains it
	}
	defer e.timer.Stop()
	select {
	case <-e.conn.idle:
	case <-e.done:
		finished = true
	case <-e.timer.C:
		return nil, false, errFlightTimeout
	}
	return e.conn.take(), finished, nil
}

// stop closes the connection and waits for the engine to return.
func (e *engine) stop() {
	e.conn.Close()
	<-e.done
}
