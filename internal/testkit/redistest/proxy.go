package redistest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/restcomm/restcomm-gateway/internal/testkit/freeport"
)

// Proxy is a TCP proxy in front of a Redis that can lose one message on
// purpose: the reply to, or the request of, the next command whose bytes
// contain a marker. It stands for a network that drops a packet, to test
// what a client does when it does not learn a write's outcome. It can also
// cut or silence the pub/sub connections, to test a client that stops
// hearing a channel.
type Proxy struct {
	Addr   string
	target string
	ln     net.Listener

	mu     sync.Mutex
	marker []byte
	drop   direction
	pipes  map[*pipe]struct{}
}

// pipe is one proxied connection.
type pipe struct {
	client, server net.Conn
	subscriber     bool // it sent SUBSCRIBE: a pub/sub connection
	silenced       bool // its replies are swallowed (a partition)
}

type direction int

const (
	none direction = iota
	dropReply
	dropRequest
)

// NewProxy starts a proxy to target (host:port), closed when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, pipes: map[*pipe]struct{}{}}
	t.Cleanup(func() { _ = ln.Close() })
	go p.accept()
	return p
}

// URL is the redis:// URL of database 0 through the proxy.
func (p *Proxy) URL() string { return "redis://" + p.Addr + "/0" }

// DropReplyTo loses the reply to the next request containing marker: Redis
// runs the command, the client never hears of it.
func (p *Proxy) DropReplyTo(marker string) { p.arm(marker, dropReply) }

// DropRequest loses the next request containing marker: Redis never sees
// it, and the client waits for a reply that never comes.
func (p *Proxy) DropRequest(marker string) { p.arm(marker, dropRequest) }

func (p *Proxy) arm(marker string, d direction) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.marker, p.drop = []byte(marker), d
}

// CutSubscribers closes every pub/sub connection at once, as a network
// that breaks them would: both ends see the connection end.
func (p *Proxy) CutSubscribers() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.pipes {
		if c.subscriber {
			_ = c.client.Close()
			_ = c.server.Close()
		}
	}
}

// SilenceSubscribers swallows, from now on, everything Redis sends on
// the pub/sub connections, which stay open: a partition that no end
// notices.
func (p *Proxy) SilenceSubscribers() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.pipes {
		if c.subscriber {
			c.silenced = true
		}
	}
}

func (p *Proxy) silenced(c *pipe) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return c.silenced
}

// take reports what to do with a request chunk of c: once a chunk
// matches, the proxy is disarmed.
func (p *Proxy) take(c *pipe, chunk []byte) direction {
	p.mu.Lock()
	defer p.mu.Unlock()
	if bytes.Contains(bytes.ToLower(chunk), []byte("subscribe")) {
		c.subscriber = true
	}
	if p.drop == none || !bytes.Contains(chunk, p.marker) {
		return none
	}
	d := p.drop
	p.drop = none
	return d
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.pipe(c)
	}
}

func (p *Proxy) pipe(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	c := &pipe{client: client, server: server}
	p.mu.Lock()
	p.pipes[c] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.pipes, c)
		p.mu.Unlock()
	}()
	var dropNext sync.Mutex // held while the next reply is to be lost
	dropping := false
	go func() { // replies
		buf := make([]byte, 64<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 {
				dropNext.Lock()
				lose := dropping
				dropping = false
				dropNext.Unlock()
				if !lose && !p.silenced(c) {
					if _, werr := client.Write(buf[:n]); werr != nil {
						break
					}
				}
			}
			if err != nil {
				break
			}
		}
		_ = client.Close()
		_ = server.Close()
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			switch p.take(c, buf[:n]) {
			case dropRequest:
				continue
			case dropReply:
				dropNext.Lock()
				dropping = true
				dropNext.Unlock()
			}
			if _, werr := server.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				_ = client.Close()
			}
			break
		}
	}
	_ = server.Close()
}

// Freeze stops the redis-server process (SIGSTOP): connections stay open
// and nothing answers, as with a hung host. Thaw resumes it.
func (s *Server) Freeze() { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server (SIGCONT).
func (s *Server) Thaw() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

// StartSentinel runs a Sentinel monitoring master under name, with a
// quorum of 1, for the duration of the test.
func StartSentinel(t testing.TB, master *Server, name string) *Server {
	t.Helper()
	port, err := freeport.Port()
	if err != nil {
		t.Fatalf("sentinel: %v", err)
	}
	host, mport, _ := net.SplitHostPort(master.Addr)
	conf := filepath.Join(t.TempDir(), "sentinel.conf")
	text := fmt.Sprintf("sentinel monitor %s %s %s 1\nsentinel down-after-milliseconds %s 5000\n", name, host, mport, name)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatalf("sentinel: %v", err)
	}
	s := &Server{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		bin:  master.bin,
		args: []string{conf, "--sentinel", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--logfile", "", "--daemonize", "no"},
	}
	if err := s.launch(); err != nil {
		t.Fatalf("sentinel: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}
