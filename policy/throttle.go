package policy

import (
	"encoding/json"
	"fmt"
	"time"
)

// ThrottleSettings are the policy's data.restcomm.throttle: the window over
// which the gateway counts failed logins, the counts at which the policy
// blocks, and what one client is. The gateway needs them to keep just
// enough of the count, and to count no failure beyond a limit; the policy
// decides what a count means.
type ThrottleSettings struct {
	Window     time.Duration
	LoginIPMax int // failed logins of one login from one client
	IPMax      int // failed logins from one client
	// IPv6PrefixLength: an IPv6 client is its network of this many bits
	// (ipv6_prefix_length, 64 when absent); an IPv4 client its address.
	IPv6PrefixLength int
}

// Enabled says whether the policy throttles at all (it has the data).
func (t ThrottleSettings) Enabled() bool { return t.Window > 0 }

// Bounds of the throttle data, so that a typo cannot make the gateway keep
// an unbounded history per client.
const (
	maxThrottleWindow   = 24 * time.Hour
	maxThrottleFailures = 100_000
	// An IPv6 network shorter than /32 (what a registry gives a whole
	// provider) would make one client of unrelated users.
	minIPv6PrefixLength     = 32
	defaultIPv6PrefixLength = 64
)

// Throttle returns the policy's throttle settings; zero when the policy has
// no data.restcomm.throttle.
func (p *Policy) Throttle() ThrottleSettings { return p.throttle }

// throttleOf reads data.restcomm.throttle from the loaded documents.
func throttleOf(docs map[string]any) (ThrottleSettings, error) {
	restcomm, _ := docs["restcomm"].(map[string]any)
	raw, ok := restcomm["throttle"]
	if !ok {
		return ThrottleSettings{}, nil
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return ThrottleSettings{}, fmt.Errorf("policy: data.restcomm.throttle is not an object")
	}
	field := func(name string, max int) (int, error) {
		n, err := wholeNumber(obj[name])
		if err != nil || n < 1 || n > max {
			return 0, fmt.Errorf("policy: data.restcomm.throttle.%s must be a whole number from 1 to %d", name, max)
		}
		return n, nil
	}
	var t ThrottleSettings
	secs, err := field("window_seconds", int(maxThrottleWindow/time.Second))
	if err != nil {
		return t, err
	}
	if t.LoginIPMax, err = field("login_ip_max_failures", maxThrottleFailures); err != nil {
		return t, err
	}
	if t.IPMax, err = field("ip_max_failures", maxThrottleFailures); err != nil {
		return t, err
	}
	t.IPv6PrefixLength = defaultIPv6PrefixLength
	if v, ok := obj["ipv6_prefix_length"]; ok && v != nil {
		n, err := wholeNumber(v)
		if err != nil || n < minIPv6PrefixLength || n > 128 {
			return t, fmt.Errorf("policy: data.restcomm.throttle.ipv6_prefix_length must be a whole number from %d to 128", minIPv6PrefixLength)
		}
		t.IPv6PrefixLength = n
	}
	t.Window = time.Duration(secs) * time.Second
	return t, nil
}

func wholeNumber(v any) (int, error) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return int(i), err
	case float64:
		if n != float64(int(n)) {
			return 0, fmt.Errorf("%v is not whole", n)
		}
		return int(n), nil
	case int:
		return n, nil
	case int64:
		return int(n), nil
	}
	return 0, fmt.Errorf("%v is not a number", v)
}
