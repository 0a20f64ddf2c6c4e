package caddymodule

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restcomm/restcomm-gateway/internal/accountsapi"
	"github.com/restcomm/restcomm-gateway/internal/testkit/fixture"
	"github.com/restcomm/restcomm-gateway/internal/testkit/upstreamtest"
)

// assertNoForgedIdentity checks that what upstream received as identity is
// exactly the verified identity of want ("" for none), in headers and
// trailers alike.
func assertNoForgedIdentity(t *testing.T, r upstreamtest.Request, want string, why string) {
	t.Helper()
	for name := range r.Trailer {
		assert.False(t, accountsapi.IsIdentityHeader(name), "%s: trailer %s reached upstream", why, name)
	}
	assert.Equal(t, want, r.Header.Get(accountsapi.HeaderAccountSid), why)
	if want == "" {
		for name := range r.Header {
			assert.False(t, accountsapi.IsIdentityHeader(name), "%s: header %s reached upstream", why, name)
		}
	}
}

// Identity reaches upstream only as the gateway sets it: client trailers
// with identity names are removed (HTTP/1.1 and HTTP/2, declared or not),
// no Connection token removes the verified headers, and a caller that did
// not pass the status gate sends no identity on the paths that need no
// credentials.
func TestIdentityReachesUpstreamOnlyFromTheGateway(t *testing.T) {
	h := newHarness(t, true)
	up := upstreamtest.Start(t, 5*time.Second)
	gw := startLiveGateway(t, h, up.Addr(), "h2c")
	forged := fixture.SidAdmin
	calls := "/restcomm/2012-04-24/Accounts/" + fixture.SidDev + "/Calls.json"

	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		t.Run(proto+" trailers", func(t *testing.T) {
			tr := &http.Transport{Protocols: new(http.Protocols)}
			if proto == "HTTP/2.0" {
				tr.Protocols.SetUnencryptedHTTP2(true)
			} else {
				tr.Protocols.SetHTTP1(true)
			}
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for _, path := range []string{calls, "/restcomm/2012-04-24/Accounts/" + fixture.SidDev + "/Calls/xLogout", "/other/page"} {
				body := io.MultiReader(strings.NewReader("a=1"), strings.NewReader("&b=2")) // no length: chunked
				req, err := http.NewRequest(http.MethodPost, gw.url(path), body)
				require.NoError(t, err)
				req.Header.Set("Authorization", fixture.Basic(fixture.Users["DEV"], fixture.Token))
				req.Trailer = http.Header{
					accountsapi.HeaderAccountSid:  {forged},
					"X-Restcomm-Account-Role":     {"Administrator"},
					"X_RESTCOMM_ORGANIZATION_SID": {"ORx"},
					"X-Checksum":                  {"kept"},
				}
				res, err := client.Do(req)
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				require.Equal(t, http.StatusOK, res.StatusCode, path)
				seen := up.Take()
				require.Len(t, seen, 1, path)
				assert.Equal(t, proto, res.Proto)
				assert.Equal(t, "kept", seen[0].Trailer.Get("X-Checksum"), "%s: other trailers go through", path)
				want := fixture.SidDev
				if path == "/other/page" {
					want = ""
				}
				assertNoForgedIdentity(t, seen[0], want, path)
			}
		})
	}

	t.Run("undeclared trailers", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", gw.addr, 5*time.Second)
		require.NoError(t, err)
		defer conn.Close()
		require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
		_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: gw.example.com\r\nConnection: close\r\n"+
			"Authorization: %s\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"+
			"3\r\na=1\r\n0\r\nX-Checksum: kept\r\nX-RestComm-Account-Sid: %s\r\n\r\n",
			calls, fixture.Basic(fixture.Users["DEV"], fixture.Token), forged)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, conn)
		seen := up.Take()
		require.Len(t, seen, 1)
		assertNoForgedIdentity(t, seen[0], fixture.SidDev, "undeclared trailer")
	})

	t.Run("Connection tokens", func(t *testing.T) {
		for _, conn := range []string{
			"X-RestComm-Account-Sid, X-RestComm-Account-Role, X-RestComm-Organization-Sid",
			"keep-alive, x-restcomm-account-sid",
			"X_RestComm_Account_Role",
		} {
			res, _ := gw.raw(t, http.MethodGet, calls, http.Header{
				"Authorization": {fixture.Basic(fixture.Users["DEV"], fixture.Token)},
				"Connection":    {conn},
			})
			require.Equal(t, http.StatusOK, res.StatusCode, conn)
			seen := up.Take()
			require.Len(t, seen, 1)
			assert.Equal(t, fixture.SidDev, seen[0].Header.Get(accountsapi.HeaderAccountSid), conn)
			assert.Equal(t, "Developer", seen[0].Header.Get(accountsapi.HeaderAccountRole), conn)
			assert.Equal(t, fixture.SidOrg0, seen[0].Header.Get(accountsapi.HeaderOrganizationSid), conn)
		}
	})

	t.Run("no identity without the gate", func(t *testing.T) {
		paths := []string{
			"/restcomm/2012-04-24/Accounts/" + fixture.SidClosed + "/Calls/xLogout",
			"/restcomm/2012-04-24/Accounts/" + fixture.SidClosed + "/Recordings/RE1.wav",
			"/restcomm/2012-04-24/Logout",
		}
		for _, as := range []string{"CLOSED", "SUSP"} {
			for _, path := range paths {
				res, _ := gw.raw(t, http.MethodGet, path, http.Header{
					"Authorization": {fixture.Basic(fixture.Users[as], fixture.Token)},
				})
				require.Equal(t, http.StatusOK, res.StatusCode, path)
				seen := up.Take()
				require.Len(t, seen, 1)
				assertNoForgedIdentity(t, seen[0], "", as+" "+path)
			}
		}
		// an active caller on the same paths is identified
		res, _ := gw.raw(t, http.MethodGet, paths[2], http.Header{
			"Authorization": {fixture.Basic(fixture.Users["DEV"], fixture.Token)},
		})
		require.Equal(t, http.StatusOK, res.StatusCode)
		seen := up.Take()
		require.Len(t, seen, 1)
		assert.Equal(t, fixture.SidDev, seen[0].Header.Get(accountsapi.HeaderAccountSid))
	})
}
