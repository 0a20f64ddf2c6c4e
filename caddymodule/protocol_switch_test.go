package caddymodule

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/upstreamtest"
)

const protocolSwitchPage = "HTTP Status 400 - Protocol switching is not supported on the API"

// The API paths a protocol switch is tried on: one the gateway serves,
// one it passes through after authentication, and one RestComm (so the
// gateway) lets through without credentials.
var switchPaths = []struct {
	name, path string
	header     http.Header
}{
	{"served", fixture.APIRoot + "/Accounts.json/" + fixture.SidAdmin, fixture.As("ADMIN")},
	{"passed through", fixture.APIRoot + "/Accounts/" + fixture.SidAdmin + "/Calls.json", fixture.As("ADMIN")},
	{"anonymous Logout", fixture.APIRoot + "/Logout", http.Header{}},
}

// HTTP/1.1 asks for a switch with Upgrade and Connection: upgrade.
var switchHeaders = []struct {
	name   string
	header http.Header
}{
	{"websocket", http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"},
		"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Websocket-Version": {"13"}}},
	{"h2c", http.Header{"Upgrade": {"h2c"}, "Connection": {"Upgrade, HTTP2-Settings"}, "Http2-Settings": {"AAMAAABkAARAAAAAAAIAAAAA"}}},
	{"Connection: Upgrade without Upgrade", http.Header{"Connection": {"keep-alive, upgrade"}}},
	{"Upgrade without Connection: Upgrade", http.Header{"Upgrade": {"h2c"}}},
	{"Upgrade empty", http.Header{"Upgrade": {""}, "Connection": {"Upgrade"}}},
}

func withHeaders(hs ...http.Header) http.Header {
	out := http.Header{}
	for _, h := range hs {
		for k, v := range h {
			out[k] = append(out[k], v...)
		}
	}
	return out
}

// An API request that asks to switch protocols is refused with 400 before
// anything else, credentials or none, and nothing reaches the upstream;
// outside the API it is Caddy's business, passed on as reverse_proxy does.
func TestProtocolSwitchRefusedOnAPIPaths(t *testing.T) {
	h := newHarness(t, true)
	up := upstreamtest.Start(t, 5*time.Second)
	gw := startLiveGateway(t, h, up.Addr(), "h2c")
	for _, p := range switchPaths {
		for _, s := range switchHeaders {
			t.Run(p.name+"/"+s.name, func(t *testing.T) {
				res, body := gw.raw(t, http.MethodGet, p.path, withHeaders(p.header, s.header))
				assert.Equal(t, http.StatusBadRequest, res.StatusCode)
				assert.Contains(t, body, protocolSwitchPage)
				assert.Equal(t, "text/html;charset=utf-8", res.Header.Get("Content-Type"))
				assert.Empty(t, res.Header.Get("Upgrade"))
				assert.Empty(t, up.Take(), "nothing reaches the upstream")
			})
		}
		t.Run(p.name+"/without a switch", func(t *testing.T) {
			res, _ := gw.raw(t, http.MethodGet, p.path, p.header)
			assert.NotEqual(t, http.StatusBadRequest, res.StatusCode)
			up.Take()
		})
	}

	t.Run("outside the API: untouched", func(t *testing.T) {
		res, body := gw.raw(t, http.MethodGet, "/restcomm-rvd/ws", switchHeaders[0].header)
		assert.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, "upstream", body)
		seen := up.Take()
		require.Len(t, seen, 1)
		assert.Equal(t, "websocket", seen[0].Header.Get("Upgrade"), "reverse_proxy carries the upgrade as it does for any site")
	})

	t.Run("CONNECT with an API path", func(t *testing.T) {
		res, body := gw.raw(t, http.MethodConnect, fixture.APIRoot+"/Logout", nil)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode)
		assert.Contains(t, body, protocolSwitchPage)
		assert.Empty(t, up.Take())
	})

	// h2c prior knowledge: HTTP/2 has no Upgrade or Connection (RFC 9113
	// §8.2.2), and Go's server answers a request that carries either with
	// its own 400 before any handler runs; a plain request reaches the
	// gateway.
	t.Run("h2c prior knowledge", func(t *testing.T) {
		for _, s := range switchHeaders {
			t.Run(s.name, func(t *testing.T) {
				got := h2cExchange(t, gw.addr, [][2]string{{":method", "GET"}, {":scheme", "http"},
					{":authority", "gw.example.com"}, {":path", fixture.APIRoot + "/Logout"}}, s.header)
				assert.Regexp(t, `^400 request header "(Upgrade|Connection)" is not valid in HTTP/2\n$`, got,
					"Go's server refuses it, before any handler")
				assert.Empty(t, up.Take())
			})
		}
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		t.Cleanup(tr.CloseIdleConnections)
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		res, err := c.Get(gw.url(fixture.APIRoot + "/Logout"))
		require.NoError(t, err)
		_ = res.Body.Close()
		assert.Equal(t, "HTTP/2.0", res.Proto)
		assert.Equal(t, http.StatusOK, res.StatusCode, "passed through without credentials")
		seen := up.Take()
		require.Len(t, seen, 1)
		assert.Empty(t, seen[0].Header.Get("Upgrade"))

		// extended CONNECT (RFC 8441) is not offered by Go's HTTP/2
		// server unless GODEBUG=http2xconnect=1 (TestExtendedConnect):
		// a stream that tries it is reset
		got := h2cExchange(t, gw.addr, extendedConnect(fixture.APIRoot+"/Logout"), nil)
		assert.Equal(t, "RST_STREAM PROTOCOL_ERROR", got)
		assert.Empty(t, up.Take())
	})
}

// With extended CONNECT turned on (GODEBUG=http2xconnect=1, read when the
// process starts: the test runs itself again with it), Caddy's
// reverse_proxy would turn a CONNECT with :protocol websocket into an
// HTTP/1.1 Upgrade to the upstream; on an API path the gateway refuses it
// first.
func TestExtendedConnect(t *testing.T) {
	if os.Getenv("RESTCOMM_TEST_XCONNECT") == "" {
		if testing.Short() {
			t.Skip("runs the test binary again")
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestExtendedConnect$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "RESTCOMM_TEST_XCONNECT=1", "GODEBUG=http2xconnect=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.Contains(t, string(out), "--- PASS: TestExtendedConnect")
		return
	}
	h := newHarness(t, true)
	up := upstreamtest.Start(t, 5*time.Second)
	gw := startLiveGateway(t, h, up.Addr(), "h2c")
	for _, p := range switchPaths {
		t.Run(p.name, func(t *testing.T) {
			got := h2cExchange(t, gw.addr, extendedConnect(p.path), p.header)
			assert.Contains(t, got, "400 <!DOCTYPE html>")
			assert.Contains(t, got, protocolSwitchPage)
			assert.Empty(t, up.Take())
		})
	}
}

// extendedConnect is the pseudo-headers of an extended CONNECT for a
// WebSocket on path.
func extendedConnect(path string) [][2]string {
	return [][2]string{{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "http"},
		{":authority", "gw.example.com"}, {":path", path}}
}

// h2cExchange opens an HTTP/2 connection with prior knowledge, sends one
// request whose header block holds the pseudo-headers and header as given
// (which no HTTP/2 client sends: Go's refuses connection-specific
// headers and :protocol), and reports how the server ended the stream:
// "RST_STREAM <code>", "GOAWAY <code>", or the response's status and body
// ("400 <body>").
func h2cExchange(t *testing.T, addr string, pseudo [][2]string, header http.Header) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	// HPACK literals without indexing and without Huffman coding
	// (RFC 7541 §6.2.2): 0x00, then the name and the value, each with its
	// length (all shorter than 127 bytes here).
	var block []byte
	field := func(name, value string) {
		require.Less(t, len(name), 127)
		require.Less(t, len(value), 127)
		block = append(block, 0, byte(len(name)))
		block = append(block, name...)
		block = append(block, byte(len(value)))
		block = append(block, value...)
	}
	for _, p := range pseudo {
		field(p[0], p[1])
	}
	for k, vs := range header {
		for _, v := range vs {
			field(strings.ToLower(k), v)
		}
	}
	frame := func(typ, flags byte, stream uint32, payload []byte) []byte {
		f := []byte{byte(len(payload) >> 16), byte(len(payload) >> 8), byte(len(payload)), typ, flags, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(f[5:], stream)
		return append(f, payload...)
	}
	const (
		typeData, typeHeaders, typeRSTStream, typeSettings, typeGoAway = 0x0, 0x1, 0x3, 0x4, 0x7
		endStream, endHeaders                                          = 0x1, 0x4
	)
	msg := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	msg = append(msg, frame(typeSettings, 0, 0, nil)...)
	msg = append(msg, frame(typeHeaders, endStream|endHeaders, 1, block)...)
	_, err = conn.Write(msg)
	require.NoError(t, err)
	code := func(b []byte) string {
		switch c := binary.BigEndian.Uint32(b); c {
		case 0:
			return "NO_ERROR"
		case 1:
			return "PROTOCOL_ERROR"
		default:
			return strconv.FormatUint(uint64(c), 10)
		}
	}
	// the statuses of HPACK's static table (RFC 7541 Appendix A), which
	// Go's encoder sends indexed
	statuses := map[byte]string{8: "200", 9: "204", 10: "206", 11: "304", 12: "400", 13: "404", 14: "500"}
	r := bufio.NewReader(conn)
	var status string
	var body []byte
	for {
		var hdr [9]byte
		_, err := io.ReadFull(r, hdr[:])
		require.NoError(t, err, "the server ended the connection without a word")
		n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		payload := make([]byte, n)
		_, err = io.ReadFull(r, payload)
		require.NoError(t, err)
		stream := binary.BigEndian.Uint32(hdr[5:]) & 0x7fffffff
		typ, flags := hdr[3], hdr[4]
		switch {
		case typ == typeRSTStream && stream == 1:
			return "RST_STREAM " + code(payload)
		case typ == typeGoAway:
			return "GOAWAY " + code(payload[4:8])
		case typ == typeHeaders && stream == 1:
			status = "status not indexed"
			if len(payload) > 0 && payload[0]&0x80 != 0 {
				if s, ok := statuses[payload[0]&0x7f]; ok {
					status = s
				}
			}
		case typ == typeData && stream == 1:
			body = append(body, payload...)
		default:
			continue
		}
		if stream == 1 && flags&endStream != 0 {
			return status + " " + string(body)
		}
	}
}
