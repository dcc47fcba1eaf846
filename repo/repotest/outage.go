package repotest

import (
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"

	"duebell/repo"
)

// NewCuttable is New reached through a TCP relay of its own: cut closes
// every connection through the relay, as when PostgreSQL goes down or the
// network to it is lost. From then on every statement of the returned repo
// fails to connect: the relay refuses new connections or, with
// acceptAfterCut, accepts each and closes it at once, as a load balancer or
// proxy in front of a server that is down does. The schema itself is
// untouched (read it with the second repo returned, which connects
// directly).
func NewCuttable(t testing.TB, acceptAfterCut bool) (r, direct *repo.Repo, cut func()) {
	t.Helper()
	direct, schema := NewWithURL(t)
	u, err := url.Parse(URL())
	if err != nil || u.Host == "" {
		t.Fatalf("a cuttable store needs TEST_DATABASE_URL as a postgres:// URL: %q", URL())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		conns  []net.Conn
		wg     sync.WaitGroup
		isCut  bool
		closed bool // the test is over: the relay stops accepting
	)
	track := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, c)
	}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // cut
			}
			mu.Lock()
			down := isCut
			mu.Unlock()
			if down {
				c.Close()
				continue
			}
			track(c)
			up, err := net.Dial("tcp", u.Host)
			if err != nil {
				c.Close()
				continue
			}
			track(up)
			wg.Go(func() { _, _ = io.Copy(up, c); up.Close() })
			wg.Go(func() { _, _ = io.Copy(c, up); c.Close() })
		}
	})
	cut = func() {
		mu.Lock()
		defer mu.Unlock()
		isCut = true
		if !acceptAfterCut || closed {
			ln.Close()
		}
		for _, c := range conns {
			c.Close()
		}
	}
	relayed := *u
	relayed.Host = ln.Addr().String()
	r, err = repo.Open(context.Background(), relayed.String(), schema)
	if err != nil {
		cut()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		mu.Lock()
		closed = true
		mu.Unlock()
		cut()
		wg.Wait()
	})
	return r, direct, cut
}
