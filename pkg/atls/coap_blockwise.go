package atls

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// This file implements block-wise transfer for the CoAP binding (profile
// 7.2, RFC 7959): the Block1/Block2 option values, the reassembly of a
// flight that arrives as Block1, and the answers kept for Block2
// continuations.
//
// go-coap's own block-wise layer is switched off. It reassembles a Block1
// body before the handler sees any of it, so it cannot answer block 0 with
// the Echo challenge of 7.6, nor refuse a flight with 4.13 as soon as Size1
// or an offset shows it too large, nor answer a gap with 4.08; and it keys
// transfers by token, which RFC 7959 lets a client change between blocks.

// Block sizes of RFC 7959 2.2: 16 << SZX for SZX 0-6; 7 is BERT, which
// the profile excludes (7.2).
const (
	minBlockSZX = 0
	maxBlockSZX = 6
	bertSZX     = 7
)

// blockOption is a decoded Block1 or Block2 value (RFC 7959 2.2).
type blockOption struct {
	num  uint32
	more bool
	szx  uint8
}

// size is the block size in bytes.
func (b blockOption) size() int { return 16 << b.szx }

// offset is the byte offset of the block in the body.
func (b blockOption) offset() int { return int(b.num) * b.size() }

// errBlockOption is wrapped by every malformed block option.
var errBlockOption = errors.New("malformed block option")

// decodeBlock parses a Block1/Block2 value: NUM (up to 20 bits), M, SZX.
func decodeBlock(v uint32) (blockOption, error) {
	if v > 0xFFFFFF {
		return blockOption{}, fmt.Errorf("%w: value %#x exceeds 3 bytes", errBlockOption, v)
	}
	b := blockOption{num: v >> 4, more: v&0x8 != 0, szx: uint8(v & 0x7)}
	if b.szx == bertSZX {
		return blockOption{}, fmt.Errorf("%w: BERT (SZX 7) is not used over this binding", errBlockOption)
	}
	return b, nil
}

// encode is the option value of b.
func (b blockOption) encode() uint32 {
	v := b.num<<4 | uint32(b.szx)
	if b.more {
		v |= 0x8
	}
	return v
}

// szxFor is the largest SZX whose block fits size bytes (at least 16).
func szxFor(size int) uint8 {
	szx := uint8(maxBlockSZX)
	for szx > minBlockSZX && 16<<szx > size {
		szx--
	}
	return szx
}

// assembly is a flight arriving as Block1, kept between its blocks.
type assembly struct {
	body    []byte
	expires time.Time
}

// blockStore holds the flights being reassembled and the answers being
// sent as Block2, each under the key of RFC 9175 3.3 (source, request
// URI, Request-Tag), bounded in number and in time.
type blockStore struct {
	mu       sync.Mutex
	incoming map[string]*assembly
	outgoing map[string]*coapAnswer
	outAt    map[string]time.Time
	max      int
	lifetime time.Duration
}

func newBlockStore(max int, lifetime time.Duration) *blockStore {
	return &blockStore{incoming: map[string]*assembly{}, outgoing: map[string]*coapAnswer{}, outAt: map[string]time.Time{}, max: max, lifetime: lifetime}
}

// errBlockGap and errNoAssembly are the 4.08 cases of profile 7.2;
// errStoreFull is 5.03.
var (
	errBlockGap   = errors.New("block missing before this one")
	errNoAssembly = errors.New("no earlier blocks of this flight")
	errStoreFull  = errors.New("too many block-wise transfers in progress")
)

// addBlock appends one Block1 block of a flight and returns the body so
// far. Block 0 starts the flight afresh (a client answering an Echo
// challenge starts again); a block that repeats bytes already received
// (a retransmission in a new exchange) rewrites them; a block beyond the
// end of what arrived is a gap.
func (s *blockStore) addBlock(key string, off int, payload []byte, now time.Time) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.incoming[key]
	if a != nil && now.After(a.expires) {
		delete(s.incoming, key)
		a = nil
	}
	if off == 0 {
		if a == nil {
			if len(s.incoming) >= s.max {
				s.expireLocked(now)
			}
			if len(s.incoming) >= s.max {
				return nil, errStoreFull
			}
			a = &assembly{}
			s.incoming[key] = a
		}
		a.body = a.body[:0]
	}
	switch {
	case a == nil:
		return nil, errNoAssembly
	case off > len(a.body):
		return nil, fmt.Errorf("%w: offset %d, %d bytes received", errBlockGap, off, len(a.body))
	}
	a.body = append(a.body[:off], payload...)
	a.expires = now.Add(s.lifetime)
	return a.body, nil
}

// dropIncoming forgets a flight (complete, refused or deleted).
func (s *blockStore) dropIncoming(key string) {
	s.mu.Lock()
	delete(s.incoming, key)
	s.mu.Unlock()
}

// keepAnswer stores an answer larger than one block for its Block2
// continuations, replacing the previous one under the key.
func (s *blockStore) keepAnswer(key string, a *coapAnswer, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.outgoing[key]; !ok && len(s.outgoing) >= s.max {
		s.expireLocked(now)
		for k := range s.outgoing {
			if len(s.outgoing) < s.max {
				break
			}
			delete(s.outgoing, k)
			delete(s.outAt, k)
		}
	}
	s.outgoing[key] = a
	s.outAt[key] = now.Add(s.lifetime)
}

// answer returns the stored answer under key, if it is still live.
func (s *blockStore) answer(key string, now time.Time) *coapAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.outgoing[key]
	if a != nil && now.After(s.outAt[key]) {
		delete(s.outgoing, key)
		delete(s.outAt, key)
		return nil
	}
	return a
}

// dropPath forgets every transfer to path, from any source (a deleted
// session's location).
func (s *blockStore) dropPath(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.incoming {
		if hasKeyPath(k, path) {
			delete(s.incoming, k)
		}
	}
	for k := range s.outgoing {
		if hasKeyPath(k, path) {
			delete(s.outgoing, k)
			delete(s.outAt, k)
		}
	}
}

func (s *blockStore) expireLocked(now time.Time) {
	for k, a := range s.incoming {
		if now.After(a.expires) {
			delete(s.incoming, k)
		}
	}
	for k, at := range s.outAt {
		if now.After(at) {
			delete(s.outgoing, k)
			delete(s.outAt, k)
		}
	}
}

// counts reports the transfers held (tests and fuzzing check that bad
// input leaves none behind).
func (s *blockStore) counts() (incoming, outgoing int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.incoming), len(s.outgoing)
}

// transferKey is the RFC 9175 3.3 matching key of a block-wise transfer:
// the source endpoint, the request URI and the Request-Tag (absent and
// empty differ).
func transferKey(source, path string, tag []byte, hasTag bool) string {
	t := "-"
	if hasTag {
		t = fmt.Sprintf("+%x", tag)
	}
	return source + " " + t + " " + path
}

// hasKeyPath reports whether a transfer key names path.
func hasKeyPath(key, path string) bool {
	return len(key) >= len(path)+1 && key[len(key)-len(path)-1] == ' ' && key[len(key)-len(path):] == path
}

// block2Slice cuts the block of a stored answer that b asks for. ok is
// false when the block starts beyond the end.
func block2Slice(payload []byte, b blockOption) (part []byte, more, ok bool) {
	off := b.offset()
	if off >= len(payload) && !(off == 0 && len(payload) == 0) {
		return nil, false, false
	}
	end := min(off+b.size(), len(payload))
	return payload[off:end], end < len(payload), true
}
