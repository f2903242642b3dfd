package main

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// answers counts the HTTP answers the devices' HTTP client receives (in the
// ATLS modes: the load balancer's outer answers) by status, and how many
// of the 503s carried Retry-After, so that a run against a deployment in
// trouble shows how the devices were told to wait. The pledge honours 202
// and 503 with Retry-After by itself, so these answers never reach the
// failure table unless the device gave up. Direct mode dials the registrar
// with its own TLS client and is not counted.
type answers struct {
	mu          sync.Mutex
	byStatus    map[int]int64
	unavailable atomic.Int64 // 503s
	retryAfter  atomic.Int64 // 503s with Retry-After
	clients     sync.Map     // *http.Client -> its counting twin
}

// wrap returns a client that sends through c's transport and counts the
// answers; one twin per client, so that connections stay pooled.
func (a *answers) wrap(c *http.Client) *http.Client {
	if c == nil {
		c = http.DefaultClient
	}
	if w, ok := a.clients.Load(c); ok {
		return w.(*http.Client)
	}
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	twin := *c
	twin.Transport = &countingTransport{base: base, a: a}
	w, _ := a.clients.LoadOrStore(c, &twin)
	return w.(*http.Client)
}

type countingTransport struct {
	base http.RoundTripper
	a    *answers
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err == nil {
		t.a.count(resp)
	}
	return resp, err
}

func (a *answers) count(resp *http.Response) {
	a.mu.Lock()
	if a.byStatus == nil {
		a.byStatus = map[int]int64{}
	}
	a.byStatus[resp.StatusCode]++
	a.mu.Unlock()
	if resp.StatusCode == http.StatusServiceUnavailable {
		a.unavailable.Add(1)
		if resp.Header.Get("Retry-After") != "" {
			a.retryAfter.Add(1)
		}
	}
}

// summary is one line: "HTTP answers: 200=N 503=M 503-with-retry-after=K".
func (a *answers) summary() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	codes := make([]int, 0, len(a.byStatus))
	for c := range a.byStatus {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var b strings.Builder
	b.WriteString("HTTP answers:")
	for _, c := range codes {
		fmt.Fprintf(&b, " %d=%d", c, a.byStatus[c])
	}
	fmt.Fprintf(&b, " 503-with-retry-after=%d", a.retryAfter.Load())
	return b.String()
}
